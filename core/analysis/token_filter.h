// METHOD.md section 1's neuron selection on top of the congruence table: the paper's token filter
// (`len(decoded) > 2 and decoded[0] == " "`), user reject lists, top K per layer, and the seeded
// random-neuron baseline.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/records/names.h"

namespace headlight::analysis {

// Which tokens and neurons may be selected.
struct TokenFilterOptions {
    int minCodePoints = 3;                  // decoded token has at least this many code points (paper: > 2)
    bool requireWordBoundary = true;        // decoded token starts with ' ' (byte-level BPE) or U+2581 (SentencePiece piece)
    std::vector<std::string> rejectTokens;  // decoded token strings never selected (exact match)
    std::vector<int> rejectTokenIds;        // token ids never selected
    std::vector<std::string> rejectNeurons; // "L{layer}N{neuron}" never selected (bad names: headlight::Error)
};

// True if `decoded` (UTF-8) starts with a word boundary: ' ' or U+2581 ("▁", SentencePiece's space).
bool startsWithWordBoundary(const std::string& decoded);
// The token part of the rule: word boundary (if required) and length in code points. Reject lists
// are applied by selectTopNeurons.
bool passesTokenFilter(const std::string& decoded, const TokenFilterOptions& options);

// One neuron of a layer with its congruence (the step-1 table).
struct NeuronCandidate {
    int neuron = 0;          // index in d_mlp
    float congruence = 0.f;  // max_t W_out[n] . W_U[:, t]
    int tokenId = -1;        // argmax token
    std::string token;       // its decoded text (UTF-8)
};

// The first K candidates of `layer` by congruence (descending; ties: lower neuron index first; NaN
// last) that pass the token filter and are not rejected. Fewer than K if not enough pass.
// Throws headlight::Error if K < 0 or a reject-list neuron name is malformed.
std::vector<NeuronCandidate> selectTopNeurons(int layer, std::vector<NeuronCandidate> candidates, int k,
                                              const TokenFilterOptions& options = {});

// A uniform integer in [0, bound) from a 64-bit engine, by rejection sampling (Lemire's method
// without the division in the common case): identical on every platform and standard library,
// unlike std::uniform_int_distribution. bound must be >= 1.
uint64_t uniformBelow(std::mt19937_64& engine, uint64_t bound);

// K distinct random neurons of one layer (no token filter; the caller takes each one's argmax
// token), ascending. The engine of layer l is std::mt19937_64 seeded with splitmix64(seed + l *
// 0x9E3779B97F4A7C15), so a layer's draw does not depend on which other layers are studied; the
// draw is a partial Fisher-Yates shuffle of 0 .. dMlp - 1 using uniformBelow. Throws
// headlight::Error if K > dMlp or an argument is negative.
std::vector<int> selectRandomNeurons(int layer, int dMlp, int k, uint64_t seed);

}  // namespace headlight::analysis
