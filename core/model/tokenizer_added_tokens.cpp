// Added tokens: found in the text before (or, for normalized ones, after) the normalizer, as HF does.
#include "core/model/tokenizer_pipeline.h"

#include <algorithm>

#include "core/model/tokenizer_text.h"

namespace headlight::tokenizer_detail {

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

}  // namespace headlight::tokenizer_detail
