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

void appendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string toUtf8(QStringView text) {
    std::string out;
    out.reserve(static_cast<size_t>(text.size()));
    for (int u = 0; u < text.size(); u += codePointLength(text, u)) {
        const char32_t cp = codePointAt(text, u);
        appendUtf8(out, QChar::isSurrogate(cp) ? char32_t(QChar::ReplacementCharacter) : cp);
    }
    return out;
}

namespace {

// Length of the sequence a lead byte starts and the allowed range of its second byte (RFC 3629 table);
// length 0 for a byte that cannot start a sequence.
struct LeadByte {
    int length;
    unsigned char secondMin;
    unsigned char secondMax;
};

LeadByte leadByte(unsigned char b) {
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

}  // namespace

namespace {

bool isValidUtf8(std::string_view bytes) {
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        const auto b = static_cast<unsigned char>(bytes[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        const LeadByte lead = leadByte(b);
        if (lead.length == 0 || i + static_cast<size_t>(lead.length) > n) return false;
        const auto second = static_cast<unsigned char>(bytes[i + 1]);
        if (second < lead.secondMin || second > lead.secondMax) return false;
        for (int k = 2; k < lead.length; ++k)
            if ((static_cast<unsigned char>(bytes[i + static_cast<size_t>(k)]) & 0xC0) != 0x80) return false;
        i += static_cast<size_t>(lead.length);
    }
    return true;
}

}  // namespace

QString decodeUtf8Lossy(std::string_view bytes) {
    if (isValidUtf8(bytes)) {
        // Qt's fast decoder, told to keep a leading byte order mark.
        QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless | QStringDecoder::Flag::ConvertInitialBom);
        return utf8(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
    }
    QString out;
    out.reserve(static_cast<qsizetype>(bytes.size()));
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        const auto b = static_cast<unsigned char>(bytes[i]);
        if (b < 0x80) {
            out.append(QChar(b));
            ++i;
            continue;
        }
        const LeadByte lead = leadByte(b);
        if (lead.length == 0) {
            out.append(QChar(QChar::ReplacementCharacter));
            ++i;
            continue;
        }
        char32_t cp = b & (0xFF >> (lead.length + 1));
        size_t k = 1;
        for (; k < static_cast<size_t>(lead.length) && i + k < n; ++k) {
            const auto c = static_cast<unsigned char>(bytes[i + k]);
            const unsigned char lo = k == 1 ? lead.secondMin : 0x80;
            const unsigned char hi = k == 1 ? lead.secondMax : 0xBF;
            if (c < lo || c > hi) break;
            cp = (cp << 6) | (c & 0x3F);
        }
        if (k < static_cast<size_t>(lead.length)) {
            // Invalid or truncated: the valid prefix read so far is one replacement character.
            out.append(QChar(QChar::ReplacementCharacter));
            i += k;
            continue;
        }
        if (QChar::requiresSurrogates(cp)) {
            out.append(QChar(QChar::highSurrogate(cp)));
            out.append(QChar(QChar::lowSurrogate(cp)));
        } else {
            out.append(QChar(static_cast<char16_t>(cp)));
        }
        i += k;
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
