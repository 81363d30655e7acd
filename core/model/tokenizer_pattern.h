// Private part of the tokenizer: the {"String": ...} / {"Regex": ...} patterns of tokenizer.json and the
// edits of aligned text the stages make with them (replace, prepend). Not part of the public interface.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <QRegularExpression>
#include <QString>

#include "core/model/tokenizer_text.h"

namespace headlight::tokenizer_detail {

// PCRE2 with Unicode properties; fails naming `what` and the pattern if it does not compile.
QRegularExpression compileRegex(const QString& pattern, const std::string& where, const std::string& what);

class TextPattern {
public:
    // {"String": "..."} or {"Regex": "..."}.
    TextPattern(const nlohmann::json& j, const std::string& where, const std::string& what);
    static TextPattern regex(QRegularExpression re);
    static TextPattern literal(QString text);

    // Non-empty, non-overlapping matches, left to right, as [begin, end) unit ranges.
    void findAll(QStringView text, std::vector<std::pair<int, int>>& out) const;

private:
    TextPattern() = default;

    QString literal_;
    QRegularExpression regex_;
    bool isRegex_ = false;
};

// A normalizer or decoder may make a text at most this much longer (NFKC's longest expansion is 18
// characters for one): `checkGrowth` throws before a malformed tokenizer.json (a Replace that
// multiplies, chained in a Sequence) allocates gigabytes.
inline constexpr int64_t kMaxTextGrowth = 32;
void checkGrowth(int64_t originalUnits, int64_t newUnits, const char* what);

// Replaces every match of `pattern` by `content`; the new text stands for what it replaced.
// Throws headlight::Error if the result would break checkGrowth's bound.
AlignedText replaceAligned(const AlignedText& in, const TextPattern& pattern, const QString& content);
// `prefix` inserted in front, standing for nothing (an empty range where the text starts).
AlignedText prependAligned(const AlignedText& in, const QString& prefix);

bool isWhitespaceAt(QStringView text, int unit);

}  // namespace headlight::tokenizer_detail
