// Private part of the tokenizer: the BPE model that turns one pre-token ("word") into token ids, as the
// Hugging Face `tokenizers` BPE model does (merges applied by rank, leftmost first; byte fallback;
// unknown-token fusing), with a bounded cache of recent words.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace headlight::tokenizer_detail {

struct BpeOptions {
    std::optional<std::string> unkToken;
    bool fuseUnk = false;
    bool byteFallback = false;  // characters missing from the vocab become <0xXX> byte tokens
    bool ignoreMerges = false;  // a word that is itself in the vocab is taken whole
    // Words are spelled in GPT-2's byte-level alphabet: each byte is one starting symbol.
    bool byteLevel = false;
};

// One token of a word and the bytes [begin, end) of the word's UTF-8 that it covers. Characters the
// model drops (not in the vocab, no byte fallback, no unknown token) are covered by no token.
struct WordToken {
    int id = 0;
    int begin = 0;
    int end = 0;
};

class BpeModel {
public:
    // `vocab` maps token strings (UTF-8, as written in the files) to ids; `merges` are pairs of token
    // strings in rank order. Throws headlight::Error starting with `where` on inconsistent data.
    BpeModel(const std::vector<std::pair<std::string, int>>& vocab,
             const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
             const std::string& where);

    BpeModel(const BpeModel&) = delete;
    BpeModel& operator=(const BpeModel&) = delete;

    // Appends the tokens of one word, given as its raw UTF-8 (not byte-level spelled), in order.
    void encodeWord(std::string_view utf8, std::vector<WordToken>& out) const;

    int idEnd() const { return static_cast<int>(tokens_.size()); }  // largest id + 1
    const std::string* token(int id) const;                            // nullptr for an unused id
    std::optional<int> id(const std::string& token) const;
    const BpeOptions& options() const { return options_; }

private:
    struct MergeRule {
        int rank;
        int newId;
    };
    struct Symbol {
        int id;
        int begin;  // bytes of the word
        int end;
        int prev;   // linked list of the symbols still alive
        int next;
        bool alive;
    };

    static std::uint64_t pairKey(int left, int right) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
               static_cast<std::uint32_t>(right);
    }
    const MergeRule* findMerge(int left, int right) const;
    void initialSymbols(std::string_view utf8, std::vector<Symbol>& symbols) const;
    void mergeSymbols(std::vector<Symbol>& symbols) const;
    void encodeUncached(std::string_view utf8, std::vector<WordToken>& out) const;

    BpeOptions options_;
    std::unordered_map<std::string, int> ids_;
    std::vector<std::string> tokens_;  // by id; empty for unused ids
    std::vector<bool> used_;
    std::unordered_map<std::uint64_t, MergeRule> merges_;
    int byteIds_[256];          // byte-level: id of each byte's character (-1 if missing)
    int fallbackIds_[256];      // byte fallback: id of <0xXX> (-1 if missing)
    std::unordered_map<char32_t, int> charIds_;  // character-level: single-character tokens
    std::optional<int> unkId_;

    // Cache of word -> tokens, bounded: emptied when full (HF's cache simply stops growing). The tokens
    // of all cached words live in one arena, so an entry costs no allocation of its own.
    struct CachedWord {
        std::uint32_t first;  // index into cacheArena_
        std::uint32_t count;
    };
    static constexpr size_t kCacheCapacity = 100000;
    static constexpr size_t kMaxCachedWordBytes = 256;
    mutable std::mutex cacheMutex_;
    mutable std::unordered_map<std::string, CachedWord> cache_;
    mutable std::vector<WordToken> cacheArena_;
};

}  // namespace headlight::tokenizer_detail
