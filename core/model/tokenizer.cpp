// Tokenizers of Hugging Face checkpoints, following the `tokenizers` library step by step:
//   1. added tokens that are not normalized are cut out of the raw text (tokenizer_added_tokens.cpp);
//   2. each remaining segment is normalized (NFC, Prepend("▁"), Replace, ...: tokenizer_normalizers.cpp);
//   3. normalized added tokens are cut out of the normalized segment;
//   4. the pre-tokenizer cuts the rest into pieces (GPT-2's and Llama 3's regexes, Metaspace, ...:
//      tokenizer_pretokenizers.cpp);
//   5. the BPE model turns each piece into tokens (tokenizer_bpe.cpp);
//   6. only for encodeWithSpecialTokens: the post-processor adds BOS/EOS (tokenizer_postprocessors.cpp).
// decode() runs the decoders (tokenizer_decoders.cpp).
// All along, AlignedText remembers which original characters each character came from, which gives
// every token its span in the input.
#include "core/model/tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <QDir>
#include <QFileInfo>
#include <QHash>

#include "core/base/error.h"
#include "core/model/tokenizer_bpe.h"
#include "core/model/tokenizer_json.h"
#include "core/model/tokenizer_pipeline.h"
#include "core/model/tokenizer_text.h"

namespace headlight {

using nlohmann::json;
using namespace tokenizer_detail;

namespace {

constexpr int kMaxAddedTokenId = 1 << 23;

// A field that must be absent, null or "" (affixes that only WordPiece-style BPE models use).
void requireNoAffix(const json& model, const char* key, const std::string& where) {
    if (!model.contains(key) || model.at(key).is_null()) return;
    if (model.at(key).is_string() && model.at(key).get<std::string>().empty()) return;
    fail(where, std::string("unsupported BPE option '") + key + "' = " + model.at(key).dump());
}

// The BPE model; its vocabulary and merges were streamed into `file` when they had the usual form.
std::unique_ptr<BpeModel> parseBpeModel(TokenizerJson& file, bool byteLevel, const std::string& where) {
    const json& model = file.root.at("model");
    if (!model.is_object()) fail(where, "'model' must be a JSON object");
    std::string type;
    if (model.contains("type")) {
        if (!model.at("type").is_string()) fail(where, "model 'type' must be a string");
        type = model.at("type").get<std::string>();
    } else if (model.contains("merges")) {
        type = "BPE";  // HF accepts an untagged BPE model
    }
    if (type != "BPE")
        fail(where, "unsupported model type '" + (type.empty() ? std::string("(none)") : type) + "' (only BPE is supported)");
    if (!model.contains("vocab")) fail(where, "the BPE model has no 'vocab'");

    requireNoAffix(model, "continuing_subword_prefix", where);
    requireNoAffix(model, "end_of_word_suffix", where);
    if (model.contains("dropout") && !model.at("dropout").is_null()) {
        if (!model.at("dropout").is_number()) fail(where, "BPE 'dropout' must be a number or null");
        if (model.at("dropout").get<double>() > 0.0) fail(where, "unsupported BPE option 'dropout' (random merges)");
    }

    BpeOptions options;
    options.byteLevel = byteLevel;
    options.fuseUnk = boolField(model, "fuse_unk", false, where, "model");
    options.byteFallback = boolField(model, "byte_fallback", false, where, "model");
    options.ignoreMerges = boolField(model, "ignore_merges", false, where, "model");
    if (model.contains("unk_token") && !model.at("unk_token").is_null()) {
        if (!model.at("unk_token").is_string()) fail(where, "BPE 'unk_token' must be a string or null");
        options.unkToken = model.at("unk_token").get<std::string>();
    }

    if (!file.mergesStreamed && !isNull(model, "merges")) fail(where, "BPE 'merges' must be a list");
    std::vector<std::pair<std::string, int>> vocab = file.vocabStreamed ? std::move(file.vocab) : parseVocabObject(model.at("vocab"), where);
    return std::make_unique<BpeModel>(vocab, file.merges, std::move(options), where);
}

std::vector<AddedToken> parseAddedTokens(const json& list, const std::string& where) {
    std::vector<AddedToken> tokens;
    if (list.is_null()) return tokens;
    if (!list.is_array()) fail(where, "'added_tokens' must be a list");
    for (const json& entry : list) {
        if (!entry.is_object() || !entry.contains("id") || !entry.at("id").is_number_integer() ||
            !entry.contains("content") || !entry.at("content").is_string())
            fail(where, "every added token needs an integer 'id' and a string 'content'");
        const long long id = entry.at("id").get<long long>();
        if (id < 0 || id >= kMaxAddedTokenId) fail(where, "added token id " + std::to_string(id) + " is out of range");
        AddedToken token;
        token.id = static_cast<int>(id);
        token.content = decodeUtf8Lossy(entry.at("content").get<std::string>());
        const std::string what = "added token " + std::to_string(id);
        token.special = boolField(entry, "special", false, where, what);
        token.normalized = boolField(entry, "normalized", !token.special, where, what);
        token.lstrip = boolField(entry, "lstrip", false, where, what);
        token.rstrip = boolField(entry, "rstrip", false, where, what);
        token.singleWord = boolField(entry, "single_word", false, where, what);
        tokens.push_back(std::move(token));
    }
    return tokens;
}

// What encode() builds: ids with their spans, converted from UTF-16 units to code points.
class EncodingBuilder {
public:
    explicit EncodingBuilder(QStringView text) : codePoints_(text) {}
    void add(int id, UnitRange source) {
        encoding_.ids.push_back(id);
        encoding_.spans.push_back(TokenSpan{codePoints_.at(source.start), codePoints_.at(source.end)});
    }
    Encoding take() { return std::move(encoding_); }

private:
    CodePointIndex codePoints_;
    Encoding encoding_;
};

// Buffers reused across the pieces of one encode() call.
struct EncodeScratch {
    std::string utf8;
    std::vector<int> charBeginOfByte;  // for each byte of utf8: first unit of its character
    std::vector<int> charEndOfByte;    // ... and the unit after its character
    std::vector<WordToken> tokens;
};

}  // namespace

struct Tokenizer::Impl {
    QString source;
    std::unique_ptr<BpeModel> model;
    std::vector<AddedToken> added;
    std::unordered_map<int, size_t> addedById;  // index into `added`
    QHash<QString, int> addedIdByContent;
    AddedTokenMatcher rawMatcher;         // added tokens matched in the raw text
    AddedTokenMatcher normalizedMatcher;  // ... and in the normalized text
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> preTokenizer;
    std::unique_ptr<Decoder> decoder;
    PostProcessor postProcessor;
    bool byteLevel = false;

    void setAddedTokens(std::vector<AddedToken> tokens, const std::string& where);
    const AddedToken* addedToken(int id) const;
    void encodeSegment(AlignedText raw, EncodingBuilder& out, EncodeScratch& scratch) const;
    void encodePiece(const AlignedText& owner, int begin, int end, EncodingBuilder& out, EncodeScratch& scratch) const;
};

// Needs the normalizer set: normalized added tokens are searched for in their normalized form, as HF does.
void Tokenizer::Impl::setAddedTokens(std::vector<AddedToken> tokens, const std::string& where) {
    added.clear();
    for (AddedToken& token : tokens) {
        const auto sameId = addedById.find(token.id);
        if (sameId != addedById.end()) {
            if (added[sameId->second].content != token.content)
                fail(where, "added tokens '" + added[sameId->second].content.toStdString() + "' and '" +
                                token.content.toStdString() + "' share id " + std::to_string(token.id));
            continue;
        }
        if (addedIdByContent.contains(token.content)) continue;  // the first one wins, as in HF
        addedById.emplace(token.id, added.size());
        addedIdByContent.insert(token.content, token.id);
        added.push_back(std::move(token));
    }
    std::vector<AddedTokenMatcher::Pattern> raw;
    std::vector<AddedTokenMatcher::Pattern> normalized;
    for (const AddedToken& token : added) {
        if (!token.normalized) {
            raw.push_back({token.content, &token});
            continue;
        }
        const QString pattern = normalizer ? normalizer->apply(AlignedText(token.content, 0)).text() : token.content;
        normalized.push_back({pattern, &token});
    }
    rawMatcher = AddedTokenMatcher(std::move(raw));
    normalizedMatcher = AddedTokenMatcher(std::move(normalized));
}

const AddedToken* Tokenizer::Impl::addedToken(int id) const {
    const auto it = addedById.find(id);
    return it == addedById.end() ? nullptr : &added[it->second];
}

void Tokenizer::Impl::encodeSegment(AlignedText raw, EncodingBuilder& out, EncodeScratch& scratch) const {
    PieceList list;
    list.texts.push_back(normalizer ? normalizer->apply(std::move(raw)) : std::move(raw));
    std::vector<AddedTokenMatcher::Segment> segments;
    normalizedMatcher.split(list.texts[0].text(), segments);
    for (const auto& segment : segments) {
        if (segment.id >= 0) {
            out.add(segment.id, list.texts[0].sourceOf(segment.begin, segment.end));
            continue;
        }
        list.texts.resize(1);
        list.pieces.assign(1, Piece{0, segment.begin, segment.end});
        if (preTokenizer) preTokenizer->apply(list);
        for (const Piece& piece : list.pieces)
            encodePiece(list.texts[static_cast<size_t>(piece.owner)], piece.begin, piece.end, out, scratch);
    }
}

// Runs the model on one piece and maps each token's bytes back to the characters it touches: a byte-level
// token holding part of a character gets that whole character's span.
void Tokenizer::Impl::encodePiece(const AlignedText& owner, int begin, int end, EncodingBuilder& out,
                                  EncodeScratch& scratch) const {
    const QStringView text = QStringView(owner.text()).mid(begin, end - begin);
    const bool ascii = std::all_of(text.begin(), text.end(), [](QChar c) { return c.unicode() < 0x80; });
    std::string& utf8 = scratch.utf8;
    utf8.clear();
    if (ascii) {
        for (QChar c : text) utf8.push_back(static_cast<char>(c.unicode()));
    } else {
        scratch.charBeginOfByte.clear();
        scratch.charEndOfByte.clear();
        for (int u = 0; u < text.size();) {
            const int len = codePointLength(text, u);
            const size_t before = utf8.size();
            appendUtf8(utf8, codePointAt(text, u));
            scratch.charBeginOfByte.insert(scratch.charBeginOfByte.end(), utf8.size() - before, u);
            scratch.charEndOfByte.insert(scratch.charEndOfByte.end(), utf8.size() - before, u + len);
            u += len;
        }
    }
    scratch.tokens.clear();
    model->encodeWord(utf8, scratch.tokens);
    for (const WordToken& token : scratch.tokens) {
        const int unitBegin = ascii ? token.begin : scratch.charBeginOfByte[static_cast<size_t>(token.begin)];
        const int unitEnd = ascii ? token.end : scratch.charEndOfByte[static_cast<size_t>(token.end) - 1];
        out.add(token.id, owner.sourceOf(begin + unitBegin, begin + unitEnd));
    }
}

// ---------------------------------------------------------------------------------------------------
// Loading

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::fromTokenizerJson(const QString& path) {
    const std::string where = "tokenizer " + path.toStdString();
    TokenizerJson file = readTokenizerJson(path, where);
    const json& root = file.root;
    if (!root.is_object()) fail(where, "not a tokenizer.json: the top level must be a JSON object");
    if (!root.contains("model")) fail(where, "not a tokenizer.json: no 'model'");
    auto impl = std::make_unique<Impl>();
    impl->source = path;
    try {
        const json null;
        auto part = [&](const char* key) -> const json& { return root.contains(key) ? root.at(key) : null; };
        impl->normalizer = parseNormalizer(part("normalizer"), where);
        impl->preTokenizer = parsePreTokenizer(part("pre_tokenizer"), where);
        impl->decoder = parseDecoder(part("decoder"), where);
        impl->postProcessor = parsePostProcessor(part("post_processor"), where);
        impl->byteLevel = impl->preTokenizer && impl->preTokenizer->isByteLevel();
        impl->model = parseBpeModel(file, impl->byteLevel, where);
        impl->setAddedTokens(parseAddedTokens(part("added_tokens"), where), where);
    } catch (const json::exception& e) {
        // Only reachable through a type mix-up the checks above missed; still a bad file, not a crash.
        fail(where, std::string("unexpected content: ") + e.what());
    }
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::fromVocabMerges(const QString& vocabPath, const QString& mergesPath) {
    const std::string vocabWhere = "tokenizer vocab " + vocabPath.toStdString();
    const std::string mergesWhere = "tokenizer merges " + mergesPath.toStdString();
    const json vocab = readJsonFile(vocabPath, vocabWhere);
    const QByteArray mergesText = readFileBytes(mergesPath, mergesWhere);

    std::vector<std::pair<std::string, std::string>> merges;
    const QList<QByteArray> lines = mergesText.split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines[i];
        if (line.endsWith('\r')) line.chop(1);
        if (line.isEmpty() || line.startsWith("#version")) continue;
        const qsizetype space = line.indexOf(' ');
        if (space < 0 || line.indexOf(' ', space + 1) >= 0)
            fail(mergesWhere, "line " + std::to_string(i + 1) + " is not two tokens separated by one space");
        merges.emplace_back(line.left(space).toStdString(), line.mid(space + 1).toStdString());
    }

    auto impl = std::make_unique<Impl>();
    impl->source = vocabPath + QStringLiteral(" + ") + mergesPath;
    impl->byteLevel = true;
    impl->preTokenizer = makeByteLevelPreTokenizer(false, true);
    impl->decoder = makeByteLevelDecoder();
    BpeOptions options;
    options.byteLevel = true;
    impl->model = std::make_unique<BpeModel>(parseVocabObject(vocab, vocabWhere), merges, options,
                                             "tokenizer " + impl->source.toStdString());
    std::vector<AddedToken> added;
    if (const auto eos = impl->model->id("<|endoftext|>")) {
        AddedToken token;
        token.content = QStringLiteral("<|endoftext|>");
        token.id = *eos;
        token.special = true;
        added.push_back(token);
    }
    impl->setAddedTokens(std::move(added), vocabWhere);
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::fromFolder(const QString& dir) {
    const QDir folder(dir);
    if (!folder.exists()) throw Error("tokenizer folder " + dir.toStdString() + ": not found");
    const QString json = folder.filePath(QStringLiteral("tokenizer.json"));
    if (QFileInfo::exists(json)) return fromTokenizerJson(json);
    const QString vocab = folder.filePath(QStringLiteral("vocab.json"));
    const QString merges = folder.filePath(QStringLiteral("merges.txt"));
    if (QFileInfo::exists(vocab) && QFileInfo::exists(merges)) return fromVocabMerges(vocab, merges);
    throw Error("tokenizer folder " + dir.toStdString() + ": has neither tokenizer.json nor vocab.json + merges.txt");
}

// ---------------------------------------------------------------------------------------------------
// Encoding and decoding

Encoding Tokenizer::encode(const QString& input) const {
    // Lone surrogates cannot be matched by the regular expressions nor written as UTF-8: U+FFFD instead,
    // unit for unit, so offsets do not move.
    const QString text = withoutLoneSurrogates(input);
    EncodingBuilder out(text);
    EncodeScratch scratch;
    std::vector<AddedTokenMatcher::Segment> segments;
    impl_->rawMatcher.split(text, segments);
    for (const auto& segment : segments) {
        if (segment.id >= 0)
            out.add(segment.id, UnitRange{segment.begin, segment.end});
        else
            impl_->encodeSegment(AlignedText(text.mid(segment.begin, segment.end - segment.begin), segment.begin), out, scratch);
    }
    return out.take();
}

Encoding Tokenizer::encodeUtf8(const std::string& utf8) const { return encode(decodeUtf8Lossy(utf8)); }

Encoding Tokenizer::encodeWithSpecialTokens(const QString& text) const {
    Encoding inner = encode(text);
    const PostProcessor& post = impl_->postProcessor;
    if (post.before.empty() && post.after.empty()) return inner;
    const int end = static_cast<int>(withoutLoneSurrogates(text).toUcs4().size());
    Encoding out;
    for (int id : post.before) {
        out.ids.push_back(id);
        out.spans.push_back(TokenSpan{0, 0});
    }
    out.ids.insert(out.ids.end(), inner.ids.begin(), inner.ids.end());
    out.spans.insert(out.spans.end(), inner.spans.begin(), inner.spans.end());
    for (int id : post.after) {
        out.ids.push_back(id);
        out.spans.push_back(TokenSpan{end, end});
    }
    return out;
}

QString Tokenizer::decode(const std::vector<int>& ids, bool skipSpecialTokens) const {
    std::vector<QString> tokens;
    tokens.reserve(ids.size());
    for (int id : ids) {
        if (const AddedToken* token = impl_->addedToken(id)) {
            if (!(skipSpecialTokens && token->special)) tokens.push_back(token->content);
        } else if (const std::string* token = impl_->model->token(id)) {
            tokens.push_back(decodeUtf8Lossy(*token));
        }
        // Ids the tokenizer does not know are skipped, as HF does.
    }
    return runDecoder(impl_->decoder.get(), std::move(tokens), DecodeMode::Text);
}

QString Tokenizer::tokenString(int id) const {
    if (const AddedToken* token = impl_->addedToken(id)) return token->content;
    if (const std::string* token = impl_->model->token(id)) return decodeUtf8Lossy(*token);
    return {};
}

QString Tokenizer::tokenText(int id) const {
    if (const AddedToken* token = impl_->addedToken(id)) return token->content;
    const std::string* token = impl_->model->token(id);
    if (!token) return {};
    return runDecoder(impl_->decoder.get(), {decodeUtf8Lossy(*token)}, DecodeMode::SingleToken);
}

std::optional<int> Tokenizer::tokenId(const QString& tokenString) const {
    const auto added = impl_->addedIdByContent.constFind(tokenString);
    if (added != impl_->addedIdByContent.constEnd()) return added.value();
    return impl_->model->id(tokenString.toStdString());
}

int Tokenizer::vocabSize() const {
    int end = impl_->model->idEnd();
    for (const AddedToken& token : impl_->added) end = std::max(end, token.id + 1);
    return end;
}

bool Tokenizer::isSpecial(int id) const {
    const AddedToken* token = impl_->addedToken(id);
    return token && token->special;
}

std::optional<int> Tokenizer::bosTokenId() const {
    const PostProcessor& post = impl_->postProcessor;
    if (!post.before.empty()) return post.before.front();
    // No template: the special token with the usual name, most specific first (GPT-2 and Pythia use
    // <|endoftext|> as BOS). Only added tokens count: an ordinary vocab entry "<s>" is just text.
    for (const char* name : {"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"}) {
        const auto added = impl_->addedIdByContent.constFind(QString::fromLatin1(name));
        if (added != impl_->addedIdByContent.constEnd() && isSpecial(added.value())) return added.value();
    }
    return std::nullopt;
}

bool Tokenizer::postProcessorAddsBos() const { return !impl_->postProcessor.before.empty(); }

QString Tokenizer::wordBoundaryMarker() const {
    return impl_->byteLevel ? QString(QChar(0x0120)) : QString(QChar(0x2581));
}

std::string Tokenizer::kind() const { return impl_->byteLevel ? "byte-level BPE" : "sentencepiece BPE"; }

QString Tokenizer::source() const { return impl_->source; }

}  // namespace headlight
