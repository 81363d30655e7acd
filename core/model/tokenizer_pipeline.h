// Private part of the tokenizer: the stages around the BPE model, as Hugging Face `tokenizers` defines them
// in tokenizer.json, one file each: added-token matching (tokenizer_added_tokens.cpp), normalizers
// (tokenizer_normalizers.cpp), pre-tokenizers (tokenizer_pretokenizers.cpp), decoders
// (tokenizer_decoders.cpp), post-processors (tokenizer_postprocessors.cpp). Every step keeps track of where
// its text came from (AlignedText) so that token spans point into the original input.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <QString>

#include "core/model/tokenizer_text.h"

namespace headlight::tokenizer_detail {

// ---------------------------------------------------------------------------------------------------
// Added tokens

struct AddedToken {
    QString content;
    int id = 0;
    bool special = false;
    bool normalized = false;  // matched in the normalized text (else in the raw text)
    bool lstrip = false;      // swallows whitespace on its left
    bool rstrip = false;      // swallows whitespace on its right
    bool singleWord = false;  // only matched when not inside a word
};

// Finds added tokens in a text, leftmost first and longest first at one place (Aho-Corasick
// leftmost-longest, as HF), and cuts the text around them. A trie over UTF-16 units: Pythia's 23 runs of
// spaces cost one step at a single space, not 23 comparisons.
class AddedTokenMatcher {
public:
    struct Pattern {
        QString text;  // what is searched (the normalized content for normalized tokens)
        const AddedToken* token;
    };
    struct Segment {
        int begin;
        int end;
        int id;  // -1: ordinary text between added tokens
    };

    AddedTokenMatcher() = default;
    // Of patterns with the same text, the first one counts.
    explicit AddedTokenMatcher(std::vector<Pattern> patterns);
    bool empty() const { return patterns_.empty(); }
    // Appends the segments of `text`; empty ordinary segments are left out.
    void split(QStringView text, std::vector<Segment>& out) const;

private:
    struct Node {
        std::vector<std::pair<char16_t, int>> children;  // sorted by unit
        int pattern = -1;                                // a pattern ends here
    };
    int child(int node, char16_t unit) const;
    // The longest pattern starting at `at`, or nullptr.
    const Pattern* longestMatch(QStringView text, int at) const;

    std::vector<Pattern> patterns_;
    std::vector<Node> nodes_;          // nodes_[0] is the root
    std::vector<bool> firstUnitUsed_;  // by UTF-16 unit: does some pattern start with it
};

// ---------------------------------------------------------------------------------------------------
// Normalizers

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual AlignedText apply(AlignedText text) const = 0;
};

// ---------------------------------------------------------------------------------------------------
// Pre-tokenizers: cut the normalized text into pieces (and sometimes change them).

// A piece is units [begin, end) of texts[owner].
struct Piece {
    int owner;
    int begin;
    int end;
};

struct PieceList {
    std::vector<AlignedText> texts;
    std::vector<Piece> pieces;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    virtual void apply(PieceList& list) const = 0;
    // True for ByteLevel: its pieces go to the model spelled in the byte-level alphabet.
    virtual bool isByteLevel() const { return false; }
};

// ---------------------------------------------------------------------------------------------------
// Decoders: turn token strings back into text.

enum class DecodeMode {
    Text,         // decode(ids): every step as HF does it
    SingleToken,  // tokenText(id): the text one token stands for, without stripping its leading space
};

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void apply(std::vector<QString>& tokens, DecodeMode mode) const = 0;
};

// ---------------------------------------------------------------------------------------------------
// Post-processors: the special tokens that encode(text, add_special_tokens=true) puts around the ids of one
// sequence (TemplateProcessing's "single" template, Roberta's and Bert's cls ... sep; ByteLevel adds none).

struct PostProcessor {
    std::vector<int> before;  // BOS for Llama 3.x, Gemma, Mistral
    std::vector<int> after;
};

// ---------------------------------------------------------------------------------------------------
// Reading tokenizer.json parts. `where` names the file for error messages; each throws headlight::Error
// naming the unsupported type or the bad field. A null JSON value gives a null pointer (no such step).

std::unique_ptr<Normalizer> parseNormalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> parsePreTokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> parseDecoder(const nlohmann::json& j, const std::string& where);
PostProcessor parsePostProcessor(const nlohmann::json& j, const std::string& where);

// The steps the legacy vocab.json + merges.txt pair implies (GPT-2): ByteLevel without prefix space.
std::unique_ptr<PreTokenizer> makeByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex);
std::unique_ptr<Decoder> makeByteLevelDecoder();

// Runs the decoder (or HF's fallback without one: tokens joined by spaces) and joins the result.
QString runDecoder(const Decoder* decoder, std::vector<QString> tokens, DecodeMode mode);

}  // namespace headlight::tokenizer_detail
