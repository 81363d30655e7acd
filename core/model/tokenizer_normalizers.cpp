// Normalizers: NFC and friends, Prepend, Replace, Lowercase, Strip, Sequence; each keeps the alignment.
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
        const int64_t original = in.size();
        for (const auto& step : steps_) {
            in = step->apply(std::move(in));
            checkGrowth(original, in.size(), "normalizer Sequence");
        }
        return in;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

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

}  // namespace headlight::tokenizer_detail
