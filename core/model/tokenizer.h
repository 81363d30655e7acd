// Tokenizers of Hugging Face checkpoints, hand-written (no packaged C++ library reads them here):
// tokenizer.json with a BPE model (ByteLevel as GPT-2 / Pythia / Llama 3 / Qwen, with their split regexes,
// or SentencePiece-style with byte fallback and the U+2581 marker as Llama 2 / Mistral / Gemma), added and
// special tokens, normalizers, post-processors, decoders; and the legacy vocab.json + merges.txt pair.
// A component it does not implement is refused at load with one line naming its type and the file.
// Torch-free.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <QString>

namespace headlight {

// A token's place in the original text, in Unicode code points, half-open [start, end).
struct TokenSpan {
    int start = 0;
    int end = 0;
};

struct Encoding {
    std::vector<int> ids;          // token ids (no BOS unless asked for)
    std::vector<TokenSpan> spans;  // one per id, in code points of the input text
};

class Tokenizer {
public:
    // tokenizer.json; throws headlight::Error naming the file and the unsupported feature.
    static Tokenizer fromTokenizerJson(const QString& path);
    // Legacy GPT-2 pair (byte-level BPE, <|endoftext|> as special token if it is in the vocab).
    static Tokenizer fromVocabMerges(const QString& vocabPath, const QString& mergesPath);
    // A folder: tokenizer.json if present, else vocab.json + merges.txt.
    static Tokenizer fromFolder(const QString& dir);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // encode(text, add_special_tokens=false) as HF does: added tokens matched, normalizer and
    // pre-tokenizer applied, no post-processor (so no BOS).
    Encoding encode(const QString& text) const;
    Encoding encodeUtf8(const std::string& utf8) const;  // convenience; invalid UTF-8 becomes U+FFFD
    std::vector<int> encodeIds(const QString& text) const { return encode(text).ids; }
    // encode(text, add_special_tokens=true) as HF does: the post-processor's special tokens around the ids
    // (BOS first for Llama 3.x, Gemma, Mistral; nothing for GPT-2, Pythia, Qwen). Their spans are empty, at
    // the start (before) or the end (after) of the text.
    Encoding encodeWithSpecialTokens(const QString& text) const;

    // decode(ids, skip_special_tokens, clean_up_tokenization_spaces=false) as HF does.
    QString decode(const std::vector<int>& ids, bool skipSpecialTokens = false) const;
    // The token's string exactly as in the vocabulary ("Ġworld", "▁Once", "<0x0A>").
    QString tokenString(int id) const;
    // The text one token stands for on its own (" world"); bytes of incomplete UTF-8 become U+FFFD.
    QString tokenText(int id) const;
    std::optional<int> tokenId(const QString& tokenString) const;

    int vocabSize() const;  // largest id + 1 (vocab and added tokens)
    bool isSpecial(int id) const;
    // BOS as the tokenizer declares it (the post-processor's first special token, else an added special
    // token with a usual BOS name such as <|endoftext|>), if any.
    std::optional<int> bosTokenId() const;
    // True if the post-processor prepends BOS (Llama 2/3.x, Gemma, Mistral); GPT-2, Pythia and Qwen add nothing.
    bool postProcessorAddsBos() const;
    // What starts a new word in token strings: U+0120 'Ġ' (byte-level) or U+2581 '▁' (SentencePiece).
    // tokenText() of such a token starts with a space.
    QString wordBoundaryMarker() const;
    std::string kind() const;   // "byte-level BPE" or "sentencepiece BPE"
    QString source() const;     // the file(s) it was read from

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace headlight
