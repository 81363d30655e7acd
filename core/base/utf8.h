// UTF-8, once for the whole program: validation, repair and decoding with the Unicode "maximal
// subpart" rule (each maximal invalid subsequence is one U+FFFD, as Rust's String::from_utf8_lossy and
// Python's errors="replace" do), and encoding. Corpora, tokenizers, bundles and LLM replies all use it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <QString>

namespace headlight {

// True if `bytes` is well-formed UTF-8 (no overlongs, surrogates, code points above U+10FFFF).
bool isValidUtf8(std::string_view bytes);

// Appends `bytes` to `out` with every maximal invalid subsequence replaced by U+FFFD (EF BF BD);
// returns the number of replacements made (0 when `bytes` was valid).
std::size_t repairUtf8(std::string_view bytes, std::string& out);

// Number of Unicode code points in well-formed UTF-8 `text` (continuation bytes are not counted).
std::size_t countCodePoints(std::string_view text);

// Appends the UTF-8 encoding of one code point (<= U+10FFFF; surrogates are the caller's concern).
void appendUtf8(std::string& out, char32_t codePoint);

// Decodes UTF-8 with the maximal-subpart rule. Unlike QString::fromUtf8 it keeps a leading U+FEFF
// (a byte order mark is text here).
QString decodeUtf8Lossy(std::string_view bytes);

}  // namespace headlight
