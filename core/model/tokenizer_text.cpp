#include "core/model/tokenizer_text.h"

#include <algorithm>
#include <array>

#include <QStringDecoder>

namespace headlight::tokenizer_detail {

// ---------------------------------------------------------------------------------------------------
// AlignedText

AlignedText::AlignedText(QString text, int offset) : text_(std::move(text)), offset_(offset) {}

AlignedText::AlignedText(QString text, std::vector<UnitRange> sources)
    : text_(std::move(text)), sources_(std::move(sources)) {}

UnitRange AlignedText::source(int unit) const {
    if (sources_.empty()) return {offset_ + unit, offset_ + unit + 1};
    return sources_[static_cast<size_t>(unit)];
}

UnitRange AlignedText::sourceOf(int begin, int end) const {
    if (begin >= end) {
        // A zero-width piece: point at where the next unit comes from.
        const UnitRange at = begin < size() ? source(begin) : (size() > 0 ? source(size() - 1) : UnitRange{});
        const int where = begin < size() ? at.start : at.end;
        return {where, where};
    }
    if (sources_.empty()) return {offset_ + begin, offset_ + end};
    UnitRange hull{0, 0};
    bool found = false;
    for (int u = begin; u < end; ++u) {
        const UnitRange& r = sources_[static_cast<size_t>(u)];
        if (r.empty()) continue;
        if (!found) {
            hull = r;
            found = true;
        } else {
            hull.start = std::min(hull.start, r.start);
            hull.end = std::max(hull.end, r.end);
        }
    }
    return found ? hull : sources_[static_cast<size_t>(begin)];
}

void AlignedTextBuilder::appendFrom(const AlignedText& from, int begin, int end) {
    if (begin >= end) return;
    text_.append(QStringView(from.text()).mid(begin, end - begin));
    for (int u = begin; u < end; ++u) sources_.push_back(from.source(u));
}

void AlignedTextBuilder::appendNew(QStringView text, UnitRange source) {
    text_.append(text);
    sources_.insert(sources_.end(), static_cast<size_t>(text.size()), source);
}

AlignedText AlignedTextBuilder::build() { return AlignedText(std::move(text_), std::move(sources_)); }

// ---------------------------------------------------------------------------------------------------
// Code points

int codePointLength(QStringView text, int unit) {
    if (text[unit].isHighSurrogate() && unit + 1 < text.size() && text[unit + 1].isLowSurrogate()) return 2;
    return 1;
}

char32_t codePointAt(QStringView text, int unit) {
    if (codePointLength(text, unit) == 2) return QChar::surrogateToUcs4(text[unit], text[unit + 1]);
    return text[unit].unicode();
}

QString withoutLoneSurrogates(const QString& text) {
    QString out;  // stays null (no copy) while nothing needs replacing
    const int n = static_cast<int>(text.size());
    for (int u = 0; u < n; ++u) {
        const QChar c = text[u];
        if (!c.isSurrogate()) continue;
        if (codePointLength(text, u) == 2) {
            ++u;
            continue;
        }
        if (out.isNull()) out = text;
        out[u] = QChar(QChar::ReplacementCharacter);
    }
    return out.isNull() ? text : out;
}

CodePointIndex::CodePointIndex(QStringView text) {
    const auto n = text.size();
    bool anySurrogate = false;
    for (qsizetype u = 0; u < n && !anySurrogate; ++u) anySurrogate = text[u].isSurrogate();
    if (!anySurrogate) return;
    before_.resize(static_cast<size_t>(n) + 1);
    int count = 0;
    for (int u = 0; u < n;) {
        const int len = codePointLength(text, u);
        for (int k = 0; k < len; ++k) before_[static_cast<size_t>(u + k)] = count;
        u += len;
        ++count;
    }
    before_[static_cast<size_t>(n)] = count;
}

// ---------------------------------------------------------------------------------------------------
// UTF-8

std::string toUtf8(QStringView text) {
    std::string out;
    out.reserve(static_cast<size_t>(text.size()));
    for (int u = 0; u < text.size(); u += codePointLength(text, u)) {
        const char32_t cp = codePointAt(text, u);
        appendUtf8(out, QChar::isSurrogate(cp) ? char32_t(QChar::ReplacementCharacter) : cp);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Byte-level alphabet (GPT-2's bytes_to_unicode): printable Latin-1 bytes stand for themselves, the
// other 68 bytes are mapped in order to U+0100 onwards.

namespace {

struct ByteLevelTables {
    std::array<char16_t, 256> charOf{};
    std::array<short, 324> byteOf{};  // indexed by character, U+0000..U+0143

    ByteLevelTables() {
        byteOf.fill(-1);
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const int ch = printable ? b : next++;
            charOf[static_cast<size_t>(b)] = static_cast<char16_t>(ch);
            byteOf[static_cast<size_t>(ch)] = static_cast<short>(b);
        }
    }
};

const ByteLevelTables& byteLevelTables() {
    static const ByteLevelTables tables;
    return tables;
}

}  // namespace

char16_t byteLevelChar(unsigned char byte) { return byteLevelTables().charOf[byte]; }

int byteLevelByte(char32_t ch) {
    const auto& byteOf = byteLevelTables().byteOf;
    return ch < byteOf.size() ? byteOf[ch] : -1;
}

std::string byteLevelSpelling(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char b : bytes) appendUtf8(out, byteLevelChar(static_cast<unsigned char>(b)));
    return out;
}

}  // namespace headlight::tokenizer_detail
