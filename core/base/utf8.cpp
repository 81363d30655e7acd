#include "core/base/utf8.h"

#include <cstdint>
#include <cstring>

#include <QStringDecoder>

namespace headlight {

namespace {

// Length of the well-formed sequence starting at s[i] (1..4), or 0 if the bytes there do not start
// one; on 0, `*maximal` is the length of the maximal subpart to replace by one U+FFFD (>= 1).
// The ranges are RFC 3629's table: no overlongs (E0, F0), no surrogates (ED), nothing above U+10FFFF (F4).
inline std::size_t validSequenceLength(const unsigned char* s, std::size_t n, std::size_t i, std::size_t* maximal) {
    const unsigned char c = s[i];
    if (c < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *maximal = 1;  // stray continuation byte, C0/C1, F5..FF
        return 0;
    }
    std::size_t k = 1;
    for (; k < need; ++k) {
        if (i + k >= n) break;
        const unsigned char b = s[i + k];
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) break;
    }
    if (k == need) return need;
    *maximal = k;  // the lead byte plus the continuation bytes that were still acceptable
    return 0;
}

char32_t decodeSequence(const unsigned char* s, std::size_t length) {
    if (length == 1) return s[0];
    char32_t cp = s[0] & (0xFF >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (s[k] & 0x3F);
    return cp;
}

}  // namespace

bool isValidUtf8(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            uint64_t word;
            std::memcpy(&word, s + i, 8);
            if (word & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        std::size_t maximal = 0;
        const std::size_t len = validSequenceLength(s, n, i, &maximal);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::size_t repairUtf8(std::string_view bytes, std::string& out) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t replacements = 0;
    std::size_t i = 0, copiedUpTo = 0;
    while (i < n) {
        std::size_t maximal = 0;
        const std::size_t len = validSequenceLength(s, n, i, &maximal);
        if (len > 0) {
            i += len;
            continue;
        }
        out.append(bytes.data() + copiedUpTo, i - copiedUpTo);
        out.append("\xEF\xBF\xBD");
        ++replacements;
        i += maximal;
        copiedUpTo = i;
    }
    out.append(bytes.data() + copiedUpTo, n - copiedUpTo);
    return replacements;
}

std::size_t countCodePoints(std::string_view text) {
    std::size_t count = 0;
    for (const char c : text)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
    return count;
}

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

QString decodeUtf8Lossy(std::string_view bytes) {
    if (isValidUtf8(bytes)) {
        // Qt's fast decoder, told to keep a leading byte order mark.
        QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless | QStringDecoder::Flag::ConvertInitialBom);
        return utf8(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
    }
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    QString out;
    out.reserve(static_cast<qsizetype>(n));
    std::size_t i = 0;
    while (i < n) {
        std::size_t maximal = 0;
        const std::size_t len = validSequenceLength(s, n, i, &maximal);
        if (len == 0) {
            out.append(QChar(QChar::ReplacementCharacter));
            i += maximal;
            continue;
        }
        const char32_t cp = decodeSequence(s + i, len);
        if (QChar::requiresSurrogates(cp)) {
            out.append(QChar(QChar::highSurrogate(cp)));
            out.append(QChar(QChar::lowSurrogate(cp)));
        } else {
            out.append(QChar(static_cast<char16_t>(cp)));
        }
        i += len;
    }
    return out;
}

}  // namespace headlight
