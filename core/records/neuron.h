// The records of steps 1-3 (METHOD.md): a selected next-token neuron, its max-activating contexts with
// their head attribution, the per-neuron summary, and the congruence of a whole layer. Plain data,
// torch-free; analysis/ fills them, study/ stores them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/records/names.h"

namespace headlight {

// Step 1: a selected neuron and the token it promotes.
struct NextTokenNeuron {
    NeuronRef ref;            // which neuron
    int tokenId = -1;         // argmax_t of W_out[n] . W_U[:, t]
    std::string token;        // decoded text of tokenId (UTF-8), e.g. " only"
    float congruence = 0.f;   // max_t of the same dot product
    bool baseline = false;    // true for the random-neuron baseline
};

// Step 2b: where a max-activating context was cut (METHOD.md section 2).
struct Truncation {
    int start = 1;                     // first kept token, document indexing (BOS = 0)
    float truncatedActivation = 0.f;   // activation at the last token of tokens[start..], run without BOS
};

// Step 3: which direction of the neuron's input a head's output is scored against (see
// core/analysis/attribution.h): the paper's W_in column, or the gate-aware first-order direction.
enum class AttributionScore { UpProjection, GateAware };
const char* attributionScoreName(AttributionScore score);   // "up_projection", "gate_aware"
// Parses attributionScoreName's names (or "up", "gate-aware"); throws headlight::Error otherwise.
AttributionScore parseAttributionScore(const std::string& name);

// Step 3, the look-up: the source-token decomposition of one head's direct-path score at the last
// position. With A the head's attention row and v_j the value vector of source position j (the head's
// key/value group under grouped-query attention; b_V included, 0 after fold_value_biases):
//   score = sum_j contributions[j],   contributions[j] = attention[j] * (v_j W_O[h]) . W_in[:, n]
struct HeadLookup {
    int head = 0;                       // flat head index, layer * n_heads + head
    float score = 0.f;                  // the head's attribution score (NeuronContext::headScores[head])
    std::vector<float> attention;       // A[h, last, j] for each position j of the attribution prompt, BOS first
    std::vector<float> contributions;   // source position j's share of the score, same positions
};

// Steps 2-3: one max-activating context of a neuron, truncated, with its head attribution.
struct NeuronContext {
    int64_t doc = 0;                  // 0-based document index in the corpus (reading order)
    std::string docSource;            // corpus file (relative) the document came from
    int64_t docLine = 0;              // 0-based line of that file
    int position = 0;                 // token index of the max in the document, BOS at index 0
    float activation = 0.f;           // the document's max activation (at position)
    int start = 0;                    // index where the kept prompt begins (same indexing; >= 1)
    float truncatedActivation = 0.f;  // activation at the last token of the truncated prompt (no BOS)
    std::vector<int> tokens;          // document tokens [1, position] (no BOS): the prompt is [start, position]
    std::vector<float> tokenActivations;  // the neuron's activation at each of `tokens` (full document run)
    std::string text;                 // decoded prompt, tokens [start, position]
    std::vector<float> headScores;    // score per head, all L*H heads layer-major; NaN where not a candidate
    std::vector<uint8_t> active;      // 1 where the head is active in this context (L*H entries)
    std::vector<HeadLookup> lookups;  // kept contexts: one per active head, ascending head (empty in bundles
                                      // made before look-ups were stored)
    bool kept = true;                 // false: among the scan's top N but dropped (too long, duplicate
                                      // text, or past the first P); kept so that shard studies merge exactly
};

// Neuron facts (issue 13): a token of the vocabulary with its congruence W_out[n] . W_U[:, token].
struct TokenValue {
    int token = -1;          // token id
    float value = 0.f;       // W_out[n] . W_U[:, token] (processed weights, as step 1)
    std::string text;        // decoded token (UTF-8)
};

// The neuron's activation histogram over the whole scanned corpus (every position after BOS), a fixed-bin
// sketch: the bins are those of core/analysis/activation_histogram.h. Empty counts: not recorded
// (bundles made before the histogram existed).
struct ActivationHistogram {
    std::vector<int64_t> counts;  // one per bin (analysis::histogram_bins::kBins), empty: not recorded
    int64_t nan = 0;              // NaN activations (not in any bin)
    float min = 0.f, max = 0.f;   // exact extremes of the binned activations (when total() > 0)
    bool recorded() const { return !counts.empty(); }
    int64_t total() const {
        int64_t t = 0;
        for (int64_t c : counts) t += c;
        return t;
    }
};

// Step 3 summary for one neuron.
struct NeuronResult {
    NextTokenNeuron neuron;                 // the neuron and its token
    std::vector<NeuronContext> contexts;    // the scan's top N, descending activation; `kept` marks the P used
    std::vector<int> candidateHeads;        // flat indices of the candidate heads, ascending
    std::vector<float> activeFraction;      // per head (L*H), fraction of contexts where active
    std::vector<int> relevantHeads;         // flat indices of relevant heads, ascending
    std::vector<TokenValue> promoted;       // facts: the 10 tokens of largest W_out[n] . W_U, best first
    std::vector<TokenValue> suppressed;     // facts: the 10 of smallest (most negative first); empty: not recorded
    ActivationHistogram histogram;          // facts: activations over the scanned corpus (step 2's pass)
};

// Congruence of every neuron of one studied layer (step 1, before selection).
struct LayerCongruence {
    int layer = 0;                  // which layer
    std::vector<float> maxValue;    // per neuron: max_t W_out[n] . W_U[:, t]
    std::vector<int> argmaxToken;   // per neuron: the maximising token
};

}  // namespace headlight
