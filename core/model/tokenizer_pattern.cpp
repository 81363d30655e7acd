#include "core/model/tokenizer_pattern.h"

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/model/tokenizer_json.h"

namespace headlight::tokenizer_detail {

using nlohmann::json;

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

TextPattern::TextPattern(const json& j, const std::string& where, const std::string& what) {
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

TextPattern TextPattern::regex(QRegularExpression re) {
    TextPattern p;
    p.regex_ = std::move(re);
    p.isRegex_ = true;
    return p;
}

TextPattern TextPattern::literal(QString text) {
    TextPattern p;
    p.literal_ = std::move(text);
    return p;
}

void TextPattern::findAll(QStringView text, std::vector<std::pair<int, int>>& out) const {
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

void checkGrowth(int64_t originalUnits, int64_t newUnits, const char* what) {
    if (newUnits > kMaxTextGrowth * originalUnits + 4096)
        throw Error(std::string("tokenizer: the ") + what + " step would grow a text of " + std::to_string(originalUnits) +
                    " UTF-16 units to " + std::to_string(newUnits) + " (more than " + std::to_string(kMaxTextGrowth) +
                    " times): the tokenizer.json is malformed");
}

AlignedText replaceAligned(const AlignedText& in, const TextPattern& pattern, const QString& content) {
    std::vector<std::pair<int, int>> matches;
    pattern.findAll(in.text(), matches);
    if (matches.empty()) return in;
    int64_t replaced = 0;
    for (const auto& [begin, end] : matches) replaced += end - begin;
    checkGrowth(in.size(), int64_t(in.size()) - replaced + int64_t(matches.size()) * content.size(), "Replace");
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

AlignedText prependAligned(const AlignedText& in, const QString& prefix) {
    AlignedTextBuilder out;
    const int at = in.size() > 0 ? in.source(0).start : 0;
    out.appendNew(prefix, UnitRange{at, at});
    out.appendFrom(in, 0, in.size());
    return out.build();
}

bool isWhitespaceAt(QStringView text, int unit) { return QChar::isSpace(codePointAt(text, unit)); }

}  // namespace headlight::tokenizer_detail
