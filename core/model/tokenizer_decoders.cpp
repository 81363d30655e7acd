// Decoders: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence.
#include "core/model/tokenizer_pipeline.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/model/tokenizer_json.h"
#include "core/model/tokenizer_pattern.h"

namespace headlight::tokenizer_detail {

using nlohmann::json;

namespace {

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
