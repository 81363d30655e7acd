// Pre-tokenizers: ByteLevel (GPT-2's regex), Split (the Llama 3 / Qwen regexes), Digits, Metaspace, Sequence.
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

}  // namespace

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

}  // namespace headlight::tokenizer_detail
