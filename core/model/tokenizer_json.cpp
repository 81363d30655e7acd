#include "core/model/tokenizer_json.h"

#include <climits>

#include <QFile>
#include <QFileInfo>

#include "core/base/error.h"
#include "core/model/tokenizer_text.h"

namespace headlight::tokenizer_detail {

using nlohmann::json;

void fail(const std::string& where, const std::string& what) { throw Error(where + ": " + what); }

namespace {

constexpr qint64 kMaxFileBytes = qint64(1) << 30;
// tokenizer.json nests about six levels deep; the limit keeps every reader of nested "Sequence" steps far
// from the end of the stack whatever the file holds.
constexpr int kMaxJsonDepth = 64;

void checkJsonNesting(const QByteArray& bytes, const std::string& where) {
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    for (const char c : bytes) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) fail(where, "malformed JSON: nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

std::string mergeLabel(size_t index) { return "merge " + std::to_string(index); }

// SAX events of nlohmann::json turned into a JSON tree, except model.vocab and model.merges, which go
// straight into the lists of TokenizerJson: for a 262k vocabulary that saves building (and freeing) a
// tree of a million small nodes. Stops at the first bad entry with `error` set.
class StreamingReader {
public:
    explicit StreamingReader(TokenizerJson& out) : out_(out) {}
    std::string error;

    bool null() { return value(json()); }
    bool boolean(bool v) { return value(json(v)); }
    bool number_integer(json::number_integer_t v) { return mode_ == Mode::Vocab ? vocabId(v) : value(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) {
        return mode_ == Mode::Vocab ? vocabId(v > json::number_unsigned_t(INT_MAX) ? -1 : static_cast<long long>(v)) : value(json(v));
    }
    bool number_float(json::number_float_t v, const json::string_t&) { return value(json(v)); }
    bool binary(json::binary_t& v) { return value(json(json::binary_t(std::move(v)))); }
    bool string(json::string_t& v);
    bool key(json::string_t& k);
    bool start_object(std::size_t);
    bool end_object();
    bool start_array(std::size_t);
    bool end_array();
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
        error = std::string("malformed JSON: ") + e.what();
        return false;
    }

private:
    enum class Mode { Tree, Vocab, Merges, MergePair };

    bool value(json v);
    bool vocabId(long long id);
    bool badMerge() { return stop(mergeLabel(out_.merges.size()) + " must be \"left right\" or [\"left\", \"right\"]"); }
    bool stop(std::string message) {
        error = std::move(message);
        return false;
    }
    // True when the next value is the one of `field` in the object root["model"].
    bool atModelField(const char* field) const {
        return stack_.size() == 2 && stack_[0]->is_object() && keys_[0] == "model" && stack_[1]->is_object() && keys_[1] == field;
    }

    TokenizerJson& out_;
    std::vector<json*> stack_;        // the open containers of the tree
    std::vector<std::string> keys_;   // per open container: its current key (objects)
    Mode mode_ = Mode::Tree;
    std::string pendingKey_;          // vocabulary: the token whose id comes next
    std::vector<std::string> pair_;   // merges: the parts of a ["left", "right"] entry
};

bool StreamingReader::value(json v) {
    if (mode_ != Mode::Tree) {
        if (mode_ == Mode::Vocab) return stop("vocabulary entry '" + pendingKey_ + "' must have a non-negative integer id");
        return badMerge();
    }
    if (stack_.empty()) {
        out_.root = std::move(v);
        return true;
    }
    json& top = *stack_.back();
    if (top.is_array())
        top.push_back(std::move(v));
    else
        top[keys_.back()] = std::move(v);
    return true;
}

bool StreamingReader::vocabId(long long id) {
    if (id < 0 || id > INT32_MAX) return stop("vocabulary entry '" + pendingKey_ + "' must have a non-negative integer id");
    out_.vocab.emplace_back(std::move(pendingKey_), static_cast<int>(id));
    return true;
}

bool StreamingReader::string(json::string_t& v) {
    if (mode_ == Mode::MergePair) {
        pair_.push_back(std::move(v));
        return pair_.size() <= 2 || badMerge();
    }
    if (mode_ == Mode::Merges) {
        // Legacy form "left right", split at the first space.
        const size_t space = v.find(' ');
        if (space == std::string::npos)
            return stop(mergeLabel(out_.merges.size()) + " '" + v + "' is not two tokens separated by a space");
        out_.merges.emplace_back(v.substr(0, space), v.substr(space + 1));
        return true;
    }
    return value(json(std::move(v)));
}

bool StreamingReader::key(json::string_t& k) {
    if (mode_ == Mode::Vocab)
        pendingKey_ = std::move(k);
    else
        keys_.back() = std::move(k);
    return true;
}

bool StreamingReader::start_object(std::size_t) {
    if (mode_ != Mode::Tree) return value(json());  // an object where an id or a merge belongs: an error
    if (atModelField("vocab")) {
        (*stack_.back())["vocab"] = json();  // the tree keeps the key; the entries go to the list
        out_.vocabStreamed = true;
        mode_ = Mode::Vocab;
        return true;
    }
    if (!value(json::object())) return false;
    json* added = stack_.empty() ? &out_.root : (stack_.back()->is_array() ? &stack_.back()->back() : &(*stack_.back())[keys_.back()]);
    stack_.push_back(added);
    keys_.emplace_back();
    return true;
}

bool StreamingReader::end_object() {
    if (mode_ == Mode::Vocab) {
        mode_ = Mode::Tree;
        return true;
    }
    stack_.pop_back();
    keys_.pop_back();
    return true;
}

bool StreamingReader::start_array(std::size_t) {
    if (mode_ == Mode::Merges) {
        mode_ = Mode::MergePair;
        pair_.clear();
        return true;
    }
    if (mode_ != Mode::Tree) return value(json());
    if (atModelField("merges")) {
        (*stack_.back())["merges"] = json();
        out_.mergesStreamed = true;
        mode_ = Mode::Merges;
        return true;
    }
    if (!value(json::array())) return false;
    json* added = stack_.empty() ? &out_.root : (stack_.back()->is_array() ? &stack_.back()->back() : &(*stack_.back())[keys_.back()]);
    stack_.push_back(added);
    keys_.emplace_back();
    return true;
}

bool StreamingReader::end_array() {
    if (mode_ == Mode::MergePair) {
        if (pair_.size() != 2) return badMerge();
        out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        mode_ = Mode::Merges;
        return true;
    }
    if (mode_ == Mode::Merges) {
        mode_ = Mode::Tree;
        return true;
    }
    stack_.pop_back();
    keys_.pop_back();
    return true;
}

}  // namespace

QByteArray readFileBytes(const QString& path, const std::string& where) {
    const QFileInfo info(path);
    if (!info.exists()) fail(where, "file not found");
    if (info.isDir()) fail(where, "is a folder, not a file");
    if (info.size() > kMaxFileBytes) fail(where, "file too large");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) fail(where, "cannot open: " + file.errorString().toStdString());
    QByteArray bytes = file.readAll();
    if (file.error() != QFileDevice::NoError) fail(where, "cannot read: " + file.errorString().toStdString());
    return bytes;
}

TokenizerJson readTokenizerJson(const QString& path, const std::string& where) {
    const QByteArray bytes = readFileBytes(path, where);
    checkJsonNesting(bytes, where);
    TokenizerJson out;
    StreamingReader reader(out);
    const char* begin = bytes.constData();
    if (!json::sax_parse(begin, begin + bytes.size(), &reader)) fail(where, reader.error);
    return out;
}

json readJsonFile(const QString& path, const std::string& where) {
    const QByteArray bytes = readFileBytes(path, where);
    checkJsonNesting(bytes, where);
    try {
        return json::parse(bytes.constData(), bytes.constData() + bytes.size());
    } catch (const json::exception& e) {
        fail(where, std::string("malformed JSON: ") + e.what());
    }
}

std::vector<std::pair<std::string, int>> parseVocabObject(const json& vocab, const std::string& where) {
    if (!vocab.is_object()) fail(where, "the vocabulary must be a JSON object of token: id");
    std::vector<std::pair<std::string, int>> entries;
    entries.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        const json& id = it.value();
        if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > INT32_MAX)
            fail(where, "vocabulary entry '" + it.key() + "' must have a non-negative integer id");
        entries.emplace_back(it.key(), static_cast<int>(id.get<long long>()));
    }
    return entries;
}

// ---------------------------------------------------------------------------------------------------
// Field readers

bool isNull(const json& j, const char* key) { return !j.contains(key) || j.at(key).is_null(); }

std::string typeOf(const json& j, const std::string& where, const std::string& what) {
    if (!j.is_object()) fail(where, what + " must be a JSON object");
    if (!j.contains("type") || !j.at("type").is_string()) fail(where, what + " has no \"type\"");
    return j.at("type").get<std::string>();
}

bool boolField(const json& j, const char* key, bool fallback, const std::string& where, const std::string& what) {
    if (isNull(j, key)) return fallback;
    if (!j.at(key).is_boolean()) fail(where, what + " field '" + key + "' must be true or false");
    return j.at(key).get<bool>();
}

QString stringField(const json& j, const char* key, const std::string& where, const std::string& what) {
    if (!j.contains(key) || !j.at(key).is_string()) fail(where, what + " needs a string field '" + key + "'");
    return decodeUtf8Lossy(j.at(key).get<std::string>());
}

int intField(const json& j, const char* key, int fallback, const std::string& where, const std::string& what) {
    if (isNull(j, key)) return fallback;
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > (1 << 20))
        fail(where, what + " field '" + key + "' must be a small non-negative integer");
    return static_cast<int>(v.get<long long>());
}

const json& arrayField(const json& j, const char* key, const std::string& where, const std::string& what) {
    if (!j.contains(key) || !j.at(key).is_array()) fail(where, what + " needs an array '" + key + "'");
    return j.at(key);
}

// A single character (one code point) as the steps that replace or strip one character want it.
QString singleCharField(const json& j, const char* key, const std::string& where, const std::string& what) {
    const QString s = stringField(j, key, where, what);
    if (s.isEmpty() || codePointLength(s, 0) != s.size())
        fail(where, what + " field '" + key + "' must be a single character");
    return s;
}

PrependScheme parsePrependScheme(const json& j, const std::string& where, const std::string& what) {
    if (!isNull(j, "prepend_scheme")) {
        if (!j.at("prepend_scheme").is_string()) fail(where, what + " prepend_scheme must be a string");
        const std::string s = j.at("prepend_scheme").get<std::string>();
        if (s == "always") return PrependScheme::Always;
        if (s == "first") return PrependScheme::First;
        if (s == "never") return PrependScheme::Never;
        fail(where, what + ": unsupported prepend_scheme '" + s + "'");
    }
    // Older files: add_prefix_space (default true).
    return boolField(j, "add_prefix_space", true, where, what) ? PrependScheme::Always : PrependScheme::Never;
}

}  // namespace headlight::tokenizer_detail
