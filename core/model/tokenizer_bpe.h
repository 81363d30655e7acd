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

struct MergeRule {
    int rank;
    int newId;
};

// Open-addressing hash tables for the two big lookups of a BPE model: token string -> id and (left id,
// right id) -> merge. Flat arrays, sized once: for the 128k-262k vocabularies and their 280k-515k merges
// they load faster and look up with fewer cache misses than std::unordered_map.
class TokenIdTable {
public:
    // Room for `count` tokens; the strings stay in `tokens` (by id), which must outlive the table.
    void reset(const std::vector<std::string>* tokens, size_t count);
    bool insert(int id);  // false if a token with the same string is already there
    int find(std::string_view token) const;  // -1 if absent

private:
    struct Slot {
        std::uint32_t hash;
        std::int32_t id;  // -1: empty
    };
    const std::vector<std::string>* tokens_ = nullptr;
    std::vector<Slot> slots_;
    size_t mask_ = 0;
};

class MergeTable {
public:
    void reset(size_t count);  // room for `count` merges
    void set(std::uint64_t key, MergeRule rule);  // a later rule for the same pair replaces the earlier one
    const MergeRule* find(std::uint64_t key) const {
        for (size_t i = slotOf(key);; i = (i + 1) & mask_) {
            const Slot& slot = slots_[i];
            if (slot.key == key) return &slot.rule;
            if (slot.key == kEmpty) return nullptr;
        }
    }

private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t(0);  // never a key: ids are below 2^23
    struct Slot {
        std::uint64_t key;
        MergeRule rule;
    };
    size_t slotOf(std::uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_); }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    int shift_ = 63;
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
    void encodeCached(std::string_view utf8, std::vector<WordToken>& out) const;
    void findMarkerCuts();
    bool canCutBefore(std::string_view utf8, size_t at) const;

    BpeOptions options_;
    std::vector<std::string> tokens_;  // by id; empty for unused ids
    std::vector<bool> used_;
    TokenIdTable ids_;
    MergeTable merges_;
    int byteIds_[256];          // byte-level: id of each byte's character (-1 if missing)
    int fallbackIds_[256];      // byte fallback: id of <0xXX> (-1 if missing)
    std::unordered_map<char32_t, int> charIds_;  // character-level: single-character tokens
    std::optional<int> unkId_;
    // SentencePiece-style words (Mistral and Gemma have no pre-tokenizer: a whole text is one word) are cut
    // before a "▁" where no vocabulary token holds the character before it followed by "▁", so no merge can
    // cross the cut: the same tokens, but short, cacheable pieces instead of a document-long word.
    bool cutBeforeMarker_ = false;
    std::unordered_map<char32_t, bool> joinsMarker_;  // characters some token holds right before a "▁"

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
