#include "core/model/tokenizer_bpe.h"

#include <algorithm>
#include <cstdio>

#include "core/base/error.h"
#include "core/model/tokenizer_text.h"

namespace headlight::tokenizer_detail {

namespace {

// Ids above this are refused: real vocabularies stay far below, and the id table is allocated densely.
constexpr int kMaxTokenId = 1 << 23;

// Length of the UTF-8 sequence starting with `lead` (1 for bytes that cannot start one, so that a
// malformed word still advances).
size_t utf8SequenceLength(unsigned char lead) {
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
    if (lead >= 0xC2) return 2;
    return 1;
}

char32_t decodeSequence(std::string_view s) {
    const auto lead = static_cast<unsigned char>(s[0]);
    if (s.size() == 1) return lead;
    char32_t cp = lead & (0xFF >> (s.size() + 1));
    for (size_t k = 1; k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[k]) & 0x3F);
    return cp;
}

// The code point of a token that is exactly one well-formed character, else nothing.
std::optional<char32_t> singleCodePoint(std::string_view token) {
    if (token.empty()) return std::nullopt;
    const size_t len = utf8SequenceLength(static_cast<unsigned char>(token[0]));
    if (len != token.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(token[k]) & 0xC0) != 0x80) return std::nullopt;
    return decodeSequence(token);
}

std::string quoted(const std::string& token) { return "'" + token + "'"; }

// A power of two of at least 1.5 times `count` (at least 2): the load factor stays below 2/3.
size_t tableSize(size_t count) {
    size_t size = 2;
    while (size < count + count / 2) size *= 2;
    return size;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Hash tables

void TokenIdTable::reset(const std::vector<std::string>* tokens, size_t count) {
    tokens_ = tokens;
    slots_.assign(tableSize(count), Slot{0, -1});
    mask_ = slots_.size() - 1;
}

bool TokenIdTable::insert(int id) {
    const std::string& token = (*tokens_)[static_cast<size_t>(id)];
    const auto hash = static_cast<std::uint32_t>(std::hash<std::string_view>()(token));
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        Slot& slot = slots_[i];
        if (slot.id < 0) {
            slot = Slot{hash, id};
            return true;
        }
        if (slot.hash == hash && (*tokens_)[static_cast<size_t>(slot.id)] == token) return false;
    }
}

int TokenIdTable::find(std::string_view token) const {
    if (slots_.empty()) return -1;
    const auto hash = static_cast<std::uint32_t>(std::hash<std::string_view>()(token));
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (slot.id < 0) return -1;
        if (slot.hash == hash && (*tokens_)[static_cast<size_t>(slot.id)] == token) return slot.id;
    }
}

void MergeTable::reset(size_t count) {
    slots_.assign(tableSize(count), Slot{kEmpty, MergeRule{0, 0}});
    mask_ = slots_.size() - 1;
    shift_ = 64;
    for (size_t size = slots_.size(); size > 1; size /= 2) --shift_;
}

void MergeTable::set(std::uint64_t key, MergeRule rule) {
    for (size_t i = slotOf(key);; i = (i + 1) & mask_) {
        Slot& slot = slots_[i];
        if (slot.key == kEmpty || slot.key == key) {
            slot = Slot{key, rule};
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The model

BpeModel::BpeModel(const std::vector<std::pair<std::string, int>>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
                   const std::string& where)
    : options_(std::move(options)) {
    auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };
    if (vocab.empty()) fail("the BPE vocabulary is empty");

    int maxId = -1;
    for (const auto& [token, id] : vocab) {
        if (id < 0 || id >= kMaxTokenId)
            fail("vocabulary id " + std::to_string(id) + " of token " + quoted(token) + " is out of range");
        maxId = std::max(maxId, id);
    }
    tokens_.resize(static_cast<size_t>(maxId) + 1);
    used_.assign(static_cast<size_t>(maxId) + 1, false);
    ids_.reset(&tokens_, vocab.size());
    for (const auto& [token, id] : vocab) {
        if (used_[static_cast<size_t>(id)])
            fail("duplicated vocabulary id " + std::to_string(id) + " (tokens " +
                 quoted(tokens_[static_cast<size_t>(id)]) + " and " + quoted(token) + ")");
        used_[static_cast<size_t>(id)] = true;
        tokens_[static_cast<size_t>(id)] = token;
        if (!ids_.insert(id)) fail("duplicated vocabulary token " + quoted(token));
    }

    // Later duplicates of a pair overwrite earlier ones, as in HF's merge map.
    merges_.reset(merges.size());
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [left, right] = merges[rank];
        const int l = ids_.find(left);
        const int r = ids_.find(right);
        joined.assign(left).append(right);
        const int merged = ids_.find(joined);
        if (l < 0 || r < 0 || merged < 0) {
            const std::string label = "merge " + std::to_string(rank) + " (" + quoted(left) + " " + quoted(right) + ")";
            if (l < 0) fail(label + " refers to unknown token " + quoted(left));
            if (r < 0) fail(label + " refers to unknown token " + quoted(right));
            fail(label + ": the merged token " + quoted(joined) + " is not in the vocabulary");
        }
        merges_.set(pairKey(l, r), MergeRule{static_cast<int>(rank), merged});
    }

    for (int b = 0; b < 256; ++b) {
        std::string spelled;
        appendUtf8(spelled, byteLevelChar(static_cast<unsigned char>(b)));
        byteIds_[b] = ids_.find(spelled);
        char fallback[8];
        std::snprintf(fallback, sizeof fallback, "<0x%02X>", b);
        fallbackIds_[b] = ids_.find(fallback);
    }
    if (!options_.byteLevel) {
        for (size_t id = 0; id < tokens_.size(); ++id)
            if (const auto cp = used_[id] ? singleCodePoint(tokens_[id]) : std::nullopt) charIds_.emplace(*cp, static_cast<int>(id));
    }
    findMarkerCuts();
    if (options_.unkToken) {
        const int unk = ids_.find(*options_.unkToken);
        // HF only complains when an unknown character shows up; without the token it is dropped here.
        if (unk >= 0) unkId_ = unk;
    }
}

const std::string* BpeModel::token(int id) const {
    if (id < 0 || id >= idEnd() || !used_[static_cast<size_t>(id)]) return nullptr;
    return &tokens_[static_cast<size_t>(id)];
}

std::optional<int> BpeModel::id(const std::string& token) const {
    const int found = ids_.find(token);
    if (found < 0) return std::nullopt;
    return found;
}

const MergeRule* BpeModel::findMerge(int left, int right) const {
    return merges_.find(pairKey(left, right));
}

// The starting symbols of a word, as HF's BPE::merge_word: one per character (byte-level: per byte),
// characters outside the vocab as byte-fallback tokens or the unknown token (fused if asked).
void BpeModel::initialSymbols(std::string_view utf8, std::vector<Symbol>& symbols) const {
    symbols.clear();
    auto add = [&](int id, int begin, int end) {
        const int index = static_cast<int>(symbols.size());
        symbols.push_back(Symbol{id, begin, end, index - 1, -1, true});
        if (index > 0) symbols[static_cast<size_t>(index) - 1].next = index;
    };
    std::optional<WordToken> pendingUnk;
    auto flushUnk = [&] {
        if (pendingUnk) add(pendingUnk->id, pendingUnk->begin, pendingUnk->end);
        pendingUnk.reset();
    };

    size_t i = 0;
    while (i < utf8.size()) {
        size_t len = options_.byteLevel ? 1 : utf8SequenceLength(static_cast<unsigned char>(utf8[i]));
        len = std::min(len, utf8.size() - i);
        const std::string_view unit = utf8.substr(i, len);
        const int begin = static_cast<int>(i);
        const int end = static_cast<int>(i + len);
        i += len;

        int id = -1;
        if (options_.byteLevel) {
            id = byteIds_[static_cast<unsigned char>(unit[0])];
        } else {
            const auto it = charIds_.find(decodeSequence(unit));
            if (it != charIds_.end()) id = it->second;
        }
        if (id >= 0) {
            flushUnk();
            add(id, begin, end);
            continue;
        }
        if (options_.byteFallback &&
            std::all_of(unit.begin(), unit.end(), [&](char b) { return fallbackIds_[static_cast<unsigned char>(b)] >= 0; })) {
            // As in HF, a pending unknown token is not flushed first: it lands after these bytes.
            for (int b = begin; b < end; ++b) add(fallbackIds_[static_cast<unsigned char>(utf8[static_cast<size_t>(b)])], b, b + 1);
            continue;
        }
        if (!unkId_) continue;  // no unknown token: HF drops the character
        if (pendingUnk && options_.fuseUnk) {
            pendingUnk->end = end;
        } else {
            flushUnk();
            pendingUnk = WordToken{*unkId_, begin, end};
        }
    }
    flushUnk();
}

// HF's Word::merge_all: a min-heap of candidate merges ordered by (rank, position); stale entries are
// recognised by re-looking up the pair when they come out.
void BpeModel::mergeSymbols(std::vector<Symbol>& symbols) const {
    struct Candidate {
        int rank;
        int pos;
        int newId;
    };
    const auto comesLater = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::vector<Candidate> heap;
    heap.reserve(symbols.size());
    for (size_t p = 0; p + 1 < symbols.size(); ++p)
        if (const MergeRule* rule = findMerge(symbols[p].id, symbols[p + 1].id))
            heap.push_back(Candidate{rule->rank, static_cast<int>(p), rule->newId});
    std::make_heap(heap.begin(), heap.end(), comesLater);

    auto push = [&](const MergeRule* rule, int pos) {
        heap.push_back(Candidate{rule->rank, pos, rule->newId});
        std::push_heap(heap.begin(), heap.end(), comesLater);
    };
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), comesLater);
        const Candidate top = heap.back();
        heap.pop_back();

        Symbol& current = symbols[static_cast<size_t>(top.pos)];
        if (!current.alive || current.next < 0) continue;
        Symbol& right = symbols[static_cast<size_t>(current.next)];
        const MergeRule* rule = findMerge(current.id, right.id);
        if (!rule || rule->newId != top.newId) continue;

        current.id = top.newId;
        current.end = right.end;
        current.next = right.next;
        right.alive = false;
        if (current.next >= 0) symbols[static_cast<size_t>(current.next)].prev = top.pos;

        if (current.prev >= 0)
            if (const MergeRule* r = findMerge(symbols[static_cast<size_t>(current.prev)].id, current.id))
                push(r, current.prev);
        if (current.next >= 0)
            if (const MergeRule* r = findMerge(current.id, symbols[static_cast<size_t>(current.next)].id))
                push(r, top.pos);
    }
}

void BpeModel::encodeUncached(std::string_view utf8, std::vector<WordToken>& out) const {
    if (options_.ignoreMerges) {
        const std::string whole = options_.byteLevel ? byteLevelSpelling(utf8) : std::string(utf8);
        if (const auto wholeId = id(whole)) {
            out.push_back(WordToken{*wholeId, 0, static_cast<int>(utf8.size())});
            return;
        }
    }
    std::vector<Symbol> symbols;
    symbols.reserve(utf8.size());
    initialSymbols(utf8, symbols);
    mergeSymbols(symbols);
    for (const Symbol& s : symbols)
        if (s.alive) out.push_back(WordToken{s.id, s.begin, s.end});
}

namespace {

constexpr std::string_view kMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

}  // namespace

// The character that ends just before byte `at` of well-formed UTF-8.
char32_t characterBefore(std::string_view utf8, size_t at) {
    size_t lead = at - 1;
    while (lead > 0 && (static_cast<unsigned char>(utf8[lead]) & 0xC0) == 0x80) --lead;
    return decodeSequence(utf8.substr(lead, at - lead));
}

// Which characters some vocabulary token holds right before a "▁" (Gemma 3: only '>', of ">▁</"; Mistral:
// none). Only for SentencePiece-style models that know "▁" as a character.
void BpeModel::findMarkerCuts() {
    if (options_.byteLevel || !charIds_.count(0x2581)) return;
    for (size_t id = 0; id < tokens_.size(); ++id) {
        const std::string_view token = tokens_[id];
        for (size_t at = token.find(kMarker, 1); at != std::string_view::npos; at = token.find(kMarker, at + 1))
            joinsMarker_[characterBefore(token, at)] = true;
    }
    cutBeforeMarker_ = true;
}

// A cut before the "▁" at `at` separates two characters that no token holds side by side. The character
// before must be in the vocabulary itself: an unknown one becomes byte-fallback or unknown tokens, whose
// strings are not the character's.
bool BpeModel::canCutBefore(std::string_view utf8, size_t at) const {
    const char32_t before = characterBefore(utf8, at);
    return before != 0x2581 && charIds_.count(before) && !joinsMarker_.count(before);
}

void BpeModel::encodeWord(std::string_view utf8, std::vector<WordToken>& out) const {
    if (!cutBeforeMarker_) return encodeCached(utf8, out);
    size_t pieceStart = 0;
    auto encodePiece = [&](size_t end) {
        const size_t first = out.size();
        encodeCached(utf8.substr(pieceStart, end - pieceStart), out);
        for (size_t k = first; k < out.size(); ++k) {
            out[k].begin += static_cast<int>(pieceStart);
            out[k].end += static_cast<int>(pieceStart);
        }
        pieceStart = end;
    };
    for (size_t at = utf8.find(kMarker, 1); at != std::string_view::npos; at = utf8.find(kMarker, at + kMarker.size()))
        if (canCutBefore(utf8, at)) encodePiece(at);
    encodePiece(utf8.size());
}

void BpeModel::encodeCached(std::string_view utf8, std::vector<WordToken>& out) const {
    if (utf8.empty()) return;
    const bool cacheable = utf8.size() <= kMaxCachedWordBytes;
    std::string key;
    if (cacheable) {
        key.assign(utf8);
        std::lock_guard<std::mutex> lock(cacheMutex_);
        const auto hit = cache_.find(key);
        if (hit != cache_.end()) {
            const auto first = cacheArena_.begin() + hit->second.first;
            out.insert(out.end(), first, first + hit->second.count);
            return;
        }
    }
    const size_t first = out.size();
    encodeUncached(utf8, out);
    if (!cacheable) return;
    std::lock_guard<std::mutex> lock(cacheMutex_);
    if (cache_.size() >= kCacheCapacity) {
        cache_.clear();
        cacheArena_.clear();
    }
    if (cache_.bucket_count() < kCacheCapacity) cache_.reserve(kCacheCapacity);  // once, not at every load
    const CachedWord entry{static_cast<std::uint32_t>(cacheArena_.size()), static_cast<std::uint32_t>(out.size() - first)};
    if (cache_.emplace(std::move(key), entry).second)  // another thread may have cached it meanwhile
        cacheArena_.insert(cacheArena_.end(), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace headlight::tokenizer_detail
