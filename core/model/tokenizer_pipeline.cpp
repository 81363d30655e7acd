#include "core/model/tokenizer_pipeline.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace headlight::tokenizer_detail {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------------
// JSON reading helpers

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw Error(where + ": " + what); }

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

// ---------------------------------------------------------------------------------------------------
// Patterns: {"String": "..."} or {"Regex": "..."}

QRegularExpression compileRegex(const QString& pattern, const std::string& where, const std::string& what) {
    // PCRE2 with Unicode properties: \s, \w, \d mean their Unicode versions. \s is then Unicode
    // White_Space (U+0085 yes, U+FEFF no), as in Oniguruma, the engine of HF's Rust tokenizers; JS engines
    // have it the other way round. The goldens agree with both (README "Caveats"), so Oniguruma it is.
    QRegularExpression re(pattern, QRegularExpression::UseUnicodePropertiesOption);
    if (!re.isValid())
        fail(where, what + ": invalid regular expression '" + pattern.toStdString() + "': " + re.errorString().toStdString());
    re.optimize();
    return re;
}

class TextPattern {
public:
    TextPattern(const json& j, const std::string& where, const std::string& what) {
        if (!j.is_object()) fail(where, what + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
        if (j.contains("String") && j.at("String").is_string()) {
            literal_ = decodeUtf8Lossy(j.at("String").get<std::string>());
            if (literal_.isEmpty()) fail(where, what + " pattern must not be empty");
        } else if (j.contains("Regex") && j.at("Regex").is_string()) {
            regex_ = compileRegex(decodeUtf8Lossy(j.at("Regex").get<std::string>()), where, what);
            isRegex_ = true;
        } else {
            fail(where, what + " pattern must be {\"String\": ...} or {\"Regex\": ...}");
        }
    }
    static TextPattern regex(QRegularExpression re) {
        TextPattern p;
        p.regex_ = std::move(re);
        p.isRegex_ = true;
        return p;
    }
    static TextPattern literal(QString text) {
        TextPattern p;
        p.literal_ = std::move(text);
        return p;
    }

    // Non-empty, non-overlapping matches, left to right, as [begin, end) unit ranges.
    void findAll(QStringView text, std::vector<std::pair<int, int>>& out) const {
        out.clear();
        if (isRegex_) {
            QRegularExpressionMatchIterator it = regex_.globalMatch(text);
            while (it.hasNext()) {
                const QRegularExpressionMatch m = it.next();
                const auto begin = static_cast<int>(m.capturedStart());
                const auto end = static_cast<int>(m.capturedEnd());
                if (end > begin) out.emplace_back(begin, end);
            }
            return;
        }
        for (qsizetype at = text.indexOf(literal_); at >= 0; at = text.indexOf(literal_, at + literal_.size()))
            out.emplace_back(static_cast<int>(at), static_cast<int>(at + literal_.size()));
    }

private:
    TextPattern() = default;

    QString literal_;
    QRegularExpression regex_;
    bool isRegex_ = false;
};

// Replaces every match of `pattern` by `content`; the new text stands for what it replaced.
AlignedText replaceAligned(const AlignedText& in, const TextPattern& pattern, const QString& content) {
    std::vector<std::pair<int, int>> matches;
    pattern.findAll(in.text(), matches);
    if (matches.empty()) return in;
    AlignedTextBuilder out;
    int previous = 0;
    for (const auto& [begin, end] : matches) {
        out.appendFrom(in, previous, begin);
        out.appendNew(content, in.sourceOf(begin, end));
        previous = end;
    }
    out.appendFrom(in, previous, in.size());
    return out.build();
}

// `prefix` inserted in front, standing for nothing (an empty range where the text starts).
AlignedText prependAligned(const AlignedText& in, const QString& prefix) {
    AlignedTextBuilder out;
    const int at = in.size() > 0 ? in.source(0).start : 0;
    out.appendNew(prefix, UnitRange{at, at});
    out.appendFrom(in, 0, in.size());
    return out.build();
}

bool isWhitespaceAt(QStringView text, int unit) { return QChar::isSpace(codePointAt(text, unit)); }

// ---------------------------------------------------------------------------------------------------
// Normalizers

// NFC/NFD/NFKC/NFKD. The text is cut into chunks that normalize independently (a chunk starts at a
// character of combining class 0 that does not compose with what precedes it), so every normalized
// character maps back to the few original characters it came from — "e" + U+0301 -> "é" spans both.
class UnicodeFormNormalizer : public Normalizer {
public:
    explicit UnicodeFormNormalizer(QString::NormalizationForm form) : form_(form) {}

    AlignedText apply(AlignedText in) const override {
        const QString whole = in.text().normalized(form_);
        if (whole == in.text()) return in;
        AlignedText chunked = normalizeByChunks(in);
        if (chunked.text() == whole) return chunked;
        // Should not happen; if the chunks ever disagree with the whole, trust the whole and give every
        // character the span of the entire text.
        return AlignedText(whole, std::vector<UnitRange>(static_cast<size_t>(whole.size()), in.sourceOf(0, in.size())));
    }

private:
    QString normalized(QStringView s) const { return s.toString().normalized(form_); }

    // True if the text from `chunkStart` up to `at` and the character at `at` normalize separately.
    bool startsNewChunk(QStringView text, int chunkStart, int at) const {
        const char32_t cp = codePointAt(text, at);
        if (QChar::combiningClass(cp) != 0) return false;
        // Below U+0300, no character of class 0 composes with a preceding one: no need to check.
        if (cp < 0x300) return true;
        const int len = codePointLength(text, at);
        return normalized(text.mid(chunkStart, at + len - chunkStart)) ==
               normalized(text.mid(chunkStart, at - chunkStart)) + normalized(text.mid(at, len));
    }

    AlignedText normalizeByChunks(const AlignedText& in) const {
        const QStringView text(in.text());
        AlignedTextBuilder out;
        auto emitChunk = [&](int begin, int end) {
            // ASCII is the same in every normalization form: skip the work for the common case.
            const QStringView original = text.mid(begin, end - begin);
            if (std::all_of(original.begin(), original.end(), [](QChar c) { return c.unicode() < 0x80; })) {
                out.appendFrom(in, begin, end);
                return;
            }
            const QString chunk = normalized(original);
            if (chunk == original)
                out.appendFrom(in, begin, end);
            else
                out.appendNew(chunk, in.sourceOf(begin, end));
        };
        int chunkStart = 0;
        for (int u = 0; u < in.size(); u += codePointLength(text, u)) {
            if (u == chunkStart || !startsNewChunk(text, chunkStart, u)) continue;
            emitChunk(chunkStart, u);
            chunkStart = u;
        }
        emitChunk(chunkStart, in.size());
        return out.build();
    }

    QString::NormalizationForm form_;
};

class PrependNormalizer : public Normalizer {
public:
    explicit PrependNormalizer(QString prefix) : prefix_(std::move(prefix)) {}
    // HF prepends nothing to an empty text: the empty string stays empty (Llama encodes "" as [BOS]).
    AlignedText apply(AlignedText in) const override {
        return in.size() == 0 ? in : prependAligned(in, prefix_);
    }

private:
    QString prefix_;
};

class ReplaceNormalizer : public Normalizer {
public:
    ReplaceNormalizer(TextPattern pattern, QString content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
    AlignedText apply(AlignedText in) const override { return replaceAligned(in, pattern_, content_); }

private:
    TextPattern pattern_;
    QString content_;
};

class LowercaseNormalizer : public Normalizer {
public:
    AlignedText apply(AlignedText in) const override {
        const QString lower = in.text().toLower();
        if (lower == in.text()) return in;
        const QStringView text(in.text());
        if (lower.size() == text.size()) {
            // Same length: every unit was mapped on its own.
            std::vector<UnitRange> sources(static_cast<size_t>(text.size()));
            for (int u = 0; u < in.size(); ++u) sources[static_cast<size_t>(u)] = in.source(u);
            return AlignedText(lower, std::move(sources));
        }
        AlignedTextBuilder out;  // some character grew ("İ" -> "i̇"): map character by character
        for (int u = 0; u < in.size();) {
            const int len = codePointLength(text, u);
            out.appendNew(text.mid(u, len).toString().toLower(), in.sourceOf(u, u + len));
            u += len;
        }
        return out.build();
    }
};

class StripNormalizer : public Normalizer {
public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    AlignedText apply(AlignedText in) const override {
        const QStringView text(in.text());
        int begin = 0;
        int end = in.size();
        if (left_)
            while (begin < end && isWhitespaceAt(text, begin)) begin += codePointLength(text, begin);
        if (right_)
            while (end > begin && text[end - 1].isSpace()) --end;
        if (begin == 0 && end == in.size()) return in;
        AlignedTextBuilder out;
        out.appendFrom(in, begin, end);
        return out.build();
    }

private:
    bool left_;
    bool right_;
};

class SequenceNormalizer : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
    AlignedText apply(AlignedText in) const override {
        for (const auto& step : steps_) in = step->apply(std::move(in));
        return in;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> steps_;
};

// ---------------------------------------------------------------------------------------------------
// Pre-tokenizers

// HF's SplitDelimiterBehavior: what happens to the matched parts when a piece is cut.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Part {
    int begin;
    int end;
    bool isMatch;
};

// Cuts [0, size) at `matches` as HF's NormalizedString::split does and appends the non-empty parts.
void cutByMatches(int size, const std::vector<std::pair<int, int>>& matches, SplitBehavior behavior, bool invert,
                  std::vector<std::pair<int, int>>& out) {
    if (size == 0) return;
    std::vector<Part> parts;
    parts.reserve(matches.size() * 2 + 1);
    int previous = 0;
    for (const auto& [begin, end] : matches) {
        if (begin > previous) parts.push_back({previous, begin, false});
        parts.push_back({begin, end, true});
        previous = end;
    }
    if (previous < size) parts.push_back({previous, size, false});
    if (invert)
        for (Part& p : parts) p.isMatch = !p.isMatch;

    std::vector<Part> merged;
    merged.reserve(parts.size());
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const Part& p : parts)
            if (!p.isMatch) merged.push_back(p);
        break;
    case SplitBehavior::Isolated:
        merged = parts;
        break;
    case SplitBehavior::MergedWithPrevious: {
        bool previousMatch = false;
        for (const Part& p : parts) {
            if (p.isMatch && !previousMatch && !merged.empty())
                merged.back().end = p.end;
            else
                merged.push_back(p);
            previousMatch = p.isMatch;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool previousMatch = false;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->isMatch && !previousMatch && !merged.empty())
                merged.back().begin = it->begin;
            else
                merged.push_back(*it);
            previousMatch = it->isMatch;
        }
        std::reverse(merged.begin(), merged.end());
        break;
    }
    case SplitBehavior::Contiguous: {
        bool previousMatch = false;
        for (const Part& p : parts) {
            if (p.isMatch == previousMatch && !merged.empty())
                merged.back().end = p.end;
            else
                merged.push_back(p);
            previousMatch = p.isMatch;
        }
        break;
    }
    }
    for (const Part& p : merged)
        if (p.end > p.begin) out.emplace_back(p.begin, p.end);
}

// Applies `cut` (which fills relative [begin, end) ranges for one piece's text) to every piece.
template <typename Cut>
void cutPieces(PieceList& list, Cut&& cut) {
    std::vector<Piece> result;
    result.reserve(list.pieces.size() * 4);
    std::vector<std::pair<int, int>> ranges;
    for (const Piece& piece : list.pieces) {
        ranges.clear();
        const QStringView text = QStringView(list.texts[static_cast<size_t>(piece.owner)].text()).mid(piece.begin, piece.end - piece.begin);
        cut(text, ranges);
        for (const auto& [begin, end] : ranges) result.push_back(Piece{piece.owner, piece.begin + begin, piece.begin + end});
    }
    list.pieces = std::move(result);
}

// Gives a piece its own text: the piece with `change` applied (that returns an AlignedText).
template <typename Change>
Piece rewritePiece(PieceList& list, const Piece& piece, Change&& change) {
    AlignedTextBuilder slice;
    slice.appendFrom(list.texts[static_cast<size_t>(piece.owner)], piece.begin, piece.end);
    AlignedText changed = change(slice.build());
    const int size = changed.size();
    list.texts.push_back(std::move(changed));
    return Piece{static_cast<int>(list.texts.size()) - 1, 0, size};
}

SplitBehavior parseBehavior(const json& j, const std::string& where) {
    if (!j.contains("behavior") || !j.at("behavior").is_string()) fail(where, "Split pre-tokenizer needs a 'behavior'");
    const std::string b = j.at("behavior").get<std::string>();
    if (b == "Removed") return SplitBehavior::Removed;
    if (b == "Isolated") return SplitBehavior::Isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (b == "Contiguous") return SplitBehavior::Contiguous;
    fail(where, "unsupported Split behavior '" + b + "'");
}

// GPT-2's pre-tokenization regex, as HF's ByteLevel uses it.
const char* const kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
public:
    ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex)
        : addPrefixSpace_(addPrefixSpace), useRegex_(useRegex),
          split_(TextPattern::regex(compileRegex(QString::fromLatin1(kGpt2SplitRegex), "ByteLevel", "pre-tokenizer"))) {}

    void apply(PieceList& list) const override {
        if (addPrefixSpace_) {
            for (Piece& piece : list.pieces) {
                if (list.texts[static_cast<size_t>(piece.owner)].text()[piece.begin] == u' ') continue;
                piece = rewritePiece(list, piece, [](const AlignedText& t) { return prependAligned(t, QStringLiteral(" ")); });
            }
        }
        if (!useRegex_) return;
        std::vector<std::pair<int, int>> matches;
        cutPieces(list, [&](QStringView text, std::vector<std::pair<int, int>>& out) {
            split_.findAll(text, matches);
            cutByMatches(static_cast<int>(text.size()), matches, SplitBehavior::Isolated, false, out);
        });
    }
    bool isByteLevel() const override { return true; }

private:
    bool addPrefixSpace_;
    bool useRegex_;
    TextPattern split_;
};

class SplitPreTokenizer : public PreTokenizer {
public:
    SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert)
        : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

    void apply(PieceList& list) const override {
        std::vector<std::pair<int, int>> matches;
        cutPieces(list, [&](QStringView text, std::vector<std::pair<int, int>>& out) {
            pattern_.findAll(text, matches);
            cutByMatches(static_cast<int>(text.size()), matches, behavior_, invert_, out);
        });
    }

private:
    TextPattern pattern_;
    SplitBehavior behavior_;
    bool invert_;
};

// Each ASCII digit is its own match (HF's char-predicate pattern); Contiguous joins runs of them.
class DigitsPreTokenizer : public PreTokenizer {
public:
    explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
    void apply(PieceList& list) const override {
        std::vector<std::pair<int, int>> matches;
        cutPieces(list, [&](QStringView text, std::vector<std::pair<int, int>>& out) {
            matches.clear();
            for (int u = 0; u < text.size(); ++u)
                if (text[u] >= u'0' && text[u] <= u'9') matches.emplace_back(u, u + 1);
            cutByMatches(static_cast<int>(text.size()), matches,
                         individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false, out);
        });
    }

private:
    bool individual_;
};

enum class PrependScheme { Always, First, Never };

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

// SentencePiece-style: spaces become the replacement character ("▁"), one is put in front, and the
// text is cut before each "▁".
class MetaspacePreTokenizer : public PreTokenizer {
public:
    MetaspacePreTokenizer(QString replacement, PrependScheme scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split),
          space_(TextPattern::literal(QStringLiteral(" "))) {}

    void apply(PieceList& list) const override {
        for (Piece& piece : list.pieces) {
            piece = rewritePiece(list, piece, [&](const AlignedText& t) {
                AlignedText replaced = replaceAligned(t, space_, replacement_);
                if (needsPrefix(replaced)) return prependAligned(replaced, replacement_);
                return replaced;
            });
        }
        if (!split_) return;
        cutPieces(list, [&](QStringView text, std::vector<std::pair<int, int>>& out) {
            std::vector<std::pair<int, int>> matches;
            for (qsizetype at = text.indexOf(replacement_); at >= 0; at = text.indexOf(replacement_, at + replacement_.size()))
                matches.emplace_back(static_cast<int>(at), static_cast<int>(at + replacement_.size()));
            cutByMatches(static_cast<int>(text.size()), matches, SplitBehavior::MergedWithNext, false, out);
        });
    }

private:
    bool needsPrefix(const AlignedText& t) const {
        if (t.text().startsWith(replacement_)) return false;
        if (scheme_ == PrependScheme::Always) return true;
        // "first": only the piece at the very start of the input gets one, not text after a special token.
        if (scheme_ == PrependScheme::First) return t.sourceOf(0, t.size()).start == 0;
        return false;
    }

    QString replacement_;
    PrependScheme scheme_;
    bool split_;
    TextPattern space_;
};

class SequencePreTokenizer : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
    void apply(PieceList& list) const override {
        for (const auto& step : steps_) step->apply(list);
    }
    bool isByteLevel() const override {
        return std::any_of(steps_.begin(), steps_.end(), [](const auto& s) { return s->isByteLevel(); });
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// ---------------------------------------------------------------------------------------------------
// Decoders

// The bytes a byte-level token stands for; a token with characters outside the alphabet (an added
// token such as a run of spaces) stands for its own UTF-8, as in HF.
void appendByteLevelBytes(const QString& token, std::string& out) {
    const size_t start = out.size();
    for (int u = 0; u < token.size(); u += codePointLength(token, u)) {
        const int byte = byteLevelByte(codePointAt(token, u));
        if (byte < 0) {
            out.resize(start);
            out += toUtf8(token);
            return;
        }
        out.push_back(static_cast<char>(byte));
    }
}

class ByteLevelDecoder : public Decoder {
public:
    void apply(std::vector<QString>& tokens, DecodeMode) const override {
        std::string bytes;
        for (const QString& t : tokens) appendByteLevelBytes(t, bytes);
        tokens.assign(1, decodeUtf8Lossy(bytes));
    }
};

class ReplaceDecoder : public Decoder {
public:
    ReplaceDecoder(TextPattern pattern, QString content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
    void apply(std::vector<QString>& tokens, DecodeMode) const override {
        for (QString& t : tokens) t = replaceAligned(AlignedText(t, 0), pattern_, content_).text();
    }

private:
    TextPattern pattern_;
    QString content_;
};

int hexDigit(QChar c) {
    if (c >= u'0' && c <= u'9') return c.unicode() - u'0';
    if (c >= u'a' && c <= u'f') return c.unicode() - u'a' + 10;
    if (c >= u'A' && c <= u'F') return c.unicode() - u'A' + 10;
    return -1;
}

// "<0xE2>" style tokens (exactly six characters) and the byte they stand for. As Rust's
// u8::from_str_radix that HF uses, "+A" is read as 10.
std::optional<unsigned char> byteFallbackValue(const QString& token) {
    if (token.size() != 6 || !token.startsWith(QLatin1String("<0x")) || token[5] != u'>') return std::nullopt;
    const int high = token[3] == u'+' ? 0 : hexDigit(token[3]);
    const int low = hexDigit(token[4]);
    if (high < 0 || low < 0) return std::nullopt;
    return static_cast<unsigned char>(high * 16 + low);
}

bool isValidUtf8(const std::string& bytes) {
    return decodeUtf8Lossy(bytes).toUtf8() == QByteArray::fromStdString(bytes);
}

// Runs of byte tokens become the text they encode; if that is not valid UTF-8, one U+FFFD per byte.
class ByteFallbackDecoder : public Decoder {
public:
    void apply(std::vector<QString>& tokens, DecodeMode) const override {
        std::vector<QString> out;
        out.reserve(tokens.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (isValidUtf8(pending))
                out.push_back(decodeUtf8Lossy(pending));
            else
                for (size_t k = 0; k < pending.size(); ++k) out.push_back(QString(QChar(QChar::ReplacementCharacter)));
            pending.clear();
        };
        for (QString& t : tokens) {
            if (const auto byte = byteFallbackValue(t)) {
                pending.push_back(static_cast<char>(*byte));
                continue;
            }
            flush();
            out.push_back(std::move(t));
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder : public Decoder {
public:
    void apply(std::vector<QString>& tokens, DecodeMode) const override {
        QString joined;
        for (const QString& t : tokens) joined += t;
        tokens.assign(1, joined);
    }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token. Not for
// a single token's text: "▁Once" stands for " Once".
class StripDecoder : public Decoder {
public:
    StripDecoder(QString content, int start, int stop) : content_(std::move(content)), start_(start), stop_(stop) {}
    void apply(std::vector<QString>& tokens, DecodeMode mode) const override {
        if (mode == DecodeMode::SingleToken) return;
        const auto step = content_.size();
        for (QString& t : tokens) {
            qsizetype begin = 0;
            for (int k = 0; k < start_ && t.mid(begin).startsWith(content_); ++k) begin += step;
            qsizetype end = t.size();
            for (int k = 0; k < stop_ && end - step >= begin && QStringView(t).mid(begin, end - begin).endsWith(content_); ++k) end -= step;
            t = t.mid(begin, end - begin);
        }
    }

private:
    QString content_;
    int start_;
    int stop_;
};

// The replacement character becomes a space, except in the first token (where HF drops every one of
// them when a prefix was added).
class MetaspaceDecoder : public Decoder {
public:
    MetaspaceDecoder(QString replacement, bool dropFirst) : replacement_(std::move(replacement)), dropFirst_(dropFirst) {}
    void apply(std::vector<QString>& tokens, DecodeMode mode) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            const bool drop = i == 0 && dropFirst_ && mode == DecodeMode::Text;
            tokens[i].replace(replacement_, drop ? QString() : QStringLiteral(" "));
        }
    }

private:
    QString replacement_;
    bool dropFirst_;
};

class SequenceDecoder : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
    void apply(std::vector<QString>& tokens, DecodeMode mode) const override {
        for (const auto& step : steps_) step->apply(tokens, mode);
    }

private:
    std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Added tokens

AddedTokenMatcher::AddedTokenMatcher(std::vector<Pattern> patterns) : nodes_(1), firstUnitUsed_(65536, false) {
    for (Pattern& pattern : patterns) {
        if (pattern.text.isEmpty()) continue;  // would match everywhere; HF ignores it too
        int node = 0;
        for (QChar unit : pattern.text) {
            int next = child(node, unit.unicode());
            if (next < 0) {
                next = static_cast<int>(nodes_.size());
                auto& children = nodes_[static_cast<size_t>(node)].children;
                const auto at = std::lower_bound(children.begin(), children.end(), std::make_pair(unit.unicode(), 0));
                children.insert(at, {unit.unicode(), next});
                nodes_.emplace_back();
            }
            node = next;
        }
        if (nodes_[static_cast<size_t>(node)].pattern >= 0) continue;
        nodes_[static_cast<size_t>(node)].pattern = static_cast<int>(patterns_.size());
        firstUnitUsed_[pattern.text[0].unicode()] = true;
        patterns_.push_back(std::move(pattern));
    }
}

int AddedTokenMatcher::child(int node, char16_t unit) const {
    const auto& children = nodes_[static_cast<size_t>(node)].children;
    const auto at = std::lower_bound(children.begin(), children.end(), std::make_pair(unit, 0));
    return at != children.end() && at->first == unit ? at->second : -1;
}

const AddedTokenMatcher::Pattern* AddedTokenMatcher::longestMatch(QStringView text, int at) const {
    const Pattern* longest = nullptr;
    int node = 0;
    for (qsizetype u = at; u < text.size(); ++u) {
        node = child(node, text[u].unicode());
        if (node < 0) break;
        const int pattern = nodes_[static_cast<size_t>(node)].pattern;
        if (pattern >= 0) longest = &patterns_[static_cast<size_t>(pattern)];
    }
    return longest;
}

namespace {

bool isWordCharBefore(QStringView text, int unit) {
    if (unit <= 0) return false;
    int start = unit - 1;
    if (text[start].isLowSurrogate() && start > 0 && text[start - 1].isHighSurrogate()) --start;
    return QChar::isLetterOrNumber(codePointAt(text, start));
}

bool isWordCharAt(QStringView text, int unit) {
    return unit < text.size() && QChar::isLetterOrNumber(codePointAt(text, unit));
}

}  // namespace

void AddedTokenMatcher::split(QStringView text, std::vector<Segment>& out) const {
    const int n = static_cast<int>(text.size());
    int segmentStart = 0;
    int i = 0;
    while (i < n && !patterns_.empty()) {
        const Pattern* hit = firstUnitUsed_[text[i].unicode()] ? longestMatch(text, i) : nullptr;
        if (!hit) {
            ++i;
            continue;
        }
        int start = i;
        int stop = i + static_cast<int>(hit->text.size());
        i = stop;
        // A match refused for single_word is still consumed, as by HF's Aho-Corasick iterator.
        if (hit->token->singleWord && (isWordCharBefore(text, start) || isWordCharAt(text, stop))) continue;
        if (hit->token->lstrip)
            while (start > segmentStart && text[start - 1].isSpace()) --start;
        if (hit->token->rstrip)
            while (stop < n && text[stop].isSpace()) ++stop;
        if (start > segmentStart) out.push_back(Segment{segmentStart, start, -1});
        out.push_back(Segment{start, stop, hit->token->id});
        segmentStart = stop;
        i = stop;
    }
    if (segmentStart < n) out.push_back(Segment{segmentStart, n, -1});
}

// ---------------------------------------------------------------------------------------------------
// Parsing

std::unique_ptr<Normalizer> parseNormalizer(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = typeOf(j, where, "normalizer");
    const std::string what = "normalizer " + type;
    if (type == "NFC") return std::make_unique<UnicodeFormNormalizer>(QString::NormalizationForm_C);
    if (type == "NFD") return std::make_unique<UnicodeFormNormalizer>(QString::NormalizationForm_D);
    if (type == "NFKC") return std::make_unique<UnicodeFormNormalizer>(QString::NormalizationForm_KC);
    if (type == "NFKD") return std::make_unique<UnicodeFormNormalizer>(QString::NormalizationForm_KD);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(stringField(j, "prepend", where, what));
    if (type == "Replace") {
        if (!j.contains("pattern")) fail(where, what + " needs a 'pattern'");
        return std::make_unique<ReplaceNormalizer>(TextPattern(j.at("pattern"), where, what),
                                                   stringField(j, "content", where, what));
    }
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(boolField(j, "strip_left", true, where, what),
                                                 boolField(j, "strip_right", true, where, what));
    if (type == "Sequence") {
        std::vector<std::unique_ptr<Normalizer>> steps;
        for (const json& step : arrayField(j, "normalizers", where, what))
            if (auto n = parseNormalizer(step, where)) steps.push_back(std::move(n));
        return std::make_unique<SequenceNormalizer>(std::move(steps));
    }
    fail(where, "unsupported normalizer type '" + type + "'");
}

std::unique_ptr<PreTokenizer> makeByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) {
    return std::make_unique<ByteLevelPreTokenizer>(addPrefixSpace, useRegex);
}

std::unique_ptr<PreTokenizer> parsePreTokenizer(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = typeOf(j, where, "pre-tokenizer");
    const std::string what = "pre-tokenizer " + type;
    if (type == "ByteLevel")
        return makeByteLevelPreTokenizer(boolField(j, "add_prefix_space", true, where, what),
                                         boolField(j, "use_regex", true, where, what));
    if (type == "Split") {
        if (!j.contains("pattern")) fail(where, what + " needs a 'pattern'");
        return std::make_unique<SplitPreTokenizer>(TextPattern(j.at("pattern"), where, what), parseBehavior(j, where),
                                                   boolField(j, "invert", false, where, what));
    }
    if (type == "Digits") return std::make_unique<DigitsPreTokenizer>(boolField(j, "individual_digits", false, where, what));
    if (type == "Metaspace")
        return std::make_unique<MetaspacePreTokenizer>(singleCharField(j, "replacement", where, what),
                                                       parsePrependScheme(j, where, what),
                                                       boolField(j, "split", true, where, what));
    if (type == "Sequence") {
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        bool afterByteLevel = false;
        for (const json& step : arrayField(j, "pretokenizers", where, what)) {
            auto p = parsePreTokenizer(step, where);
            if (!p) continue;
            // The model sees the byte-level spelling only at the end, so later steps would see raw text.
            if (afterByteLevel && !p->isByteLevel())
                fail(where, "unsupported pre-tokenizer sequence: '" + typeOf(step, where, what) + "' after 'ByteLevel'");
            afterByteLevel = afterByteLevel || p->isByteLevel();
            steps.push_back(std::move(p));
        }
        return std::make_unique<SequencePreTokenizer>(std::move(steps));
    }
    fail(where, "unsupported pre-tokenizer type '" + type + "'");
}

std::unique_ptr<Decoder> makeByteLevelDecoder() { return std::make_unique<ByteLevelDecoder>(); }

std::unique_ptr<Decoder> parseDecoder(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = typeOf(j, where, "decoder");
    const std::string what = "decoder " + type;
    if (type == "ByteLevel") return makeByteLevelDecoder();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Replace") {
        if (!j.contains("pattern")) fail(where, what + " needs a 'pattern'");
        return std::make_unique<ReplaceDecoder>(TextPattern(j.at("pattern"), where, what),
                                                stringField(j, "content", where, what));
    }
    if (type == "Strip")
        return std::make_unique<StripDecoder>(singleCharField(j, "content", where, what), intField(j, "start", 0, where, what),
                                              intField(j, "stop", 0, where, what));
    if (type == "Metaspace")
        return std::make_unique<MetaspaceDecoder>(singleCharField(j, "replacement", where, what),
                                                  parsePrependScheme(j, where, what) != PrependScheme::Never);
    if (type == "Sequence") {
        std::vector<std::unique_ptr<Decoder>> steps;
        for (const json& step : arrayField(j, "decoders", where, what))
            if (auto d = parseDecoder(step, where)) steps.push_back(std::move(d));
        return std::make_unique<SequenceDecoder>(std::move(steps));
    }
    fail(where, "unsupported decoder type '" + type + "'");
}

namespace {

// The first item of a TemplateProcessing "single" template, if it is a special token.
std::optional<QString> templateFirstSpecial(const json& single, const std::string& where) {
    if (single.is_string()) {
        // Short form: "<s>:0 $A:0"
        const QString first = decodeUtf8Lossy(single.get<std::string>()).section(u' ', 0, 0, QString::SectionSkipEmpty);
        if (first.isEmpty() || first.startsWith(u'$')) return std::nullopt;
        const auto colon = first.lastIndexOf(u':');
        return colon > 0 ? first.left(colon) : first;
    }
    if (!single.is_array()) fail(where, "post-processor TemplateProcessing 'single' must be a list");
    if (single.empty()) return std::nullopt;
    const json& first = single.front();
    if (!first.is_object() || !first.contains("SpecialToken")) return std::nullopt;
    const json& special = first.at("SpecialToken");
    if (!special.is_object() || !special.contains("id") || !special.at("id").is_string())
        fail(where, "post-processor TemplateProcessing has a SpecialToken without an id");
    return decodeUtf8Lossy(special.at("id").get<std::string>());
}

// "cls": ["<s>", 0] of RobertaProcessing / BertProcessing.
PostProcessorInfo clsFirst(const json& j, const std::string& where, const std::string& type) {
    PostProcessorInfo info;
    if (!j.contains("cls") || !j.at("cls").is_array() || j.at("cls").size() != 2 || !j.at("cls")[0].is_string() ||
        !j.at("cls")[1].is_number_integer())
        fail(where, "post-processor " + type + " needs 'cls': [token, id]");
    info.addsBos = true;
    info.bosToken = decodeUtf8Lossy(j.at("cls")[0].get<std::string>());
    info.bosId = static_cast<int>(j.at("cls")[1].get<long long>());
    return info;
}

}  // namespace

PostProcessorInfo parsePostProcessor(const json& j, const std::string& where) {
    PostProcessorInfo info;
    if (j.is_null()) return info;
    const std::string type = typeOf(j, where, "post-processor");
    if (type == "ByteLevel") return info;
    if (type == "RobertaProcessing" || type == "BertProcessing") return clsFirst(j, where, type);
    if (type == "Sequence") {
        for (const json& step : arrayField(j, "processors", where, "post-processor Sequence")) {
            PostProcessorInfo inner = parsePostProcessor(step, where);
            if (inner.addsBos) return inner;
        }
        return info;
    }
    if (type == "TemplateProcessing") {
        if (!j.contains("single")) fail(where, "post-processor TemplateProcessing needs 'single'");
        const auto first = templateFirstSpecial(j.at("single"), where);
        if (!first) return info;
        info.addsBos = true;
        info.bosToken = *first;
        const std::string key = first->toStdString();
        if (j.contains("special_tokens") && j.at("special_tokens").is_object() && j.at("special_tokens").contains(key)) {
            const json& entry = j.at("special_tokens").at(key);
            if (entry.is_object() && entry.contains("ids") && entry.at("ids").is_array() && !entry.at("ids").empty() &&
                entry.at("ids").front().is_number_integer())
                info.bosId = static_cast<int>(entry.at("ids").front().get<long long>());
        }
        return info;
    }
    fail(where, "unsupported post-processor type '" + type + "'");
}

QString runDecoder(const Decoder* decoder, std::vector<QString> tokens, DecodeMode mode) {
    if (!decoder) {
        // HF without a decoder joins the tokens with spaces.
        QString joined;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0) joined += u' ';
            joined += tokens[i];
        }
        return joined;
    }
    decoder->apply(tokens, mode);
    QString joined;
    for (const QString& t : tokens) joined += t;
    return joined;
}

}  // namespace headlight::tokenizer_detail
