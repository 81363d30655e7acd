// Private helpers of the tokenizer (core/model/tokenizer.cpp): text that remembers where each of its
// UTF-16 units came from in the original input, code point and UTF-8 conversions, and the byte-level
// alphabet of GPT-2. Not part of the public interface.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <QString>
#include <QStringView>

#include "core/base/utf8.h"

namespace headlight::tokenizer_detail {

// A half-open range [start, end) of UTF-16 units of the original text.
struct UnitRange {
    int start = 0;
    int end = 0;
    bool empty() const { return start == end; }
};

// Text derived from the original input (a slice, normalized, with a prefix inserted, ...) that keeps, for
// each of its UTF-16 units, the range of original units it stands for. Token spans are computed from it,
// so they point into the original text even after NFC or replacements. Inserted text (a prepended "▁")
// has an empty range at the place it was inserted.
class AlignedText {
public:
    AlignedText() = default;
    // Original text, unchanged, whose first unit is unit `offset` of the input. Stores no table.
    AlignedText(QString text, int offset);
    // Changed text: sources[i] is where unit i came from.
    AlignedText(QString text, std::vector<UnitRange> sources);

    const QString& text() const { return text_; }
    int size() const { return static_cast<int>(text_.size()); }
    UnitRange source(int unit) const;
    // Where units [begin, end) came from: the hull of their non-empty sources, or, if all of them
    // were inserted, the empty range of the first.
    UnitRange sourceOf(int begin, int end) const;

private:
    QString text_;
    int offset_ = 0;
    std::vector<UnitRange> sources_;  // empty when the text is an unchanged slice (unit i <- offset_ + i)
};

// Assembles an AlignedText piece by piece.
class AlignedTextBuilder {
public:
    // Copies units [begin, end) of `from` with their sources.
    void appendFrom(const AlignedText& from, int begin, int end);
    // Appends new text whose every unit stands for `source` (an empty range for inserted text).
    void appendNew(QStringView text, UnitRange source);
    AlignedText build();

private:
    QString text_;
    std::vector<UnitRange> sources_;
};

// Code point helpers on UTF-16 that tolerate lone surrogates (each counts as one code point).
int codePointLength(QStringView text, int unit);
char32_t codePointAt(QStringView text, int unit);

// A copy of `text` with every lone surrogate replaced by U+FFFD (same length, so offsets stay valid).
// Regular expressions refuse invalid UTF-16, and the UTF-8 of a lone surrogate does not exist.
QString withoutLoneSurrogates(const QString& text);

// Converts UTF-16 unit offsets of one text to code point offsets.
class CodePointIndex {
public:
    explicit CodePointIndex(QStringView text);
    int at(int unit) const { return before_.empty() ? unit : before_[static_cast<size_t>(unit)]; }

private:
    std::vector<int> before_;  // code points before each unit; empty when the text has no surrogates
};

std::string toUtf8(QStringView text);

// GPT-2's byte-level alphabet: every byte is shown as a printable character ("Ġ" for a space).
char16_t byteLevelChar(unsigned char byte);
// The byte a byte-level character stands for, or -1 if it is not in the alphabet.
int byteLevelByte(char32_t ch);
// The byte-level spelling of raw bytes ("Ġworld" for " world"), as UTF-8.
std::string byteLevelSpelling(std::string_view bytes);

}  // namespace headlight::tokenizer_detail
