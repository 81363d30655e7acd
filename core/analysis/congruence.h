// Step 1 of METHOD.md: congruence of MLP neurons with the unembedding, c(l, n, t) = W_out[l][n, :] . W_U[:, t]
// (processed weights, plain dot product); per neuron its max and argmax over the vocabulary; and the
// reverse view, a token's most congruent neurons. Torch-free header.
#pragma once

#include <string>
#include <vector>

#include "core/base/progress.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
class Tokenizer;
}

namespace headlight::analysis {

// Max and argmax over all tokens for every neuron of `layer`. Ties keep the lowest token id.
LayerCongruence computeLayerCongruence(const Transformer& model, int layer);
std::vector<LayerCongruence> computeCongruence(const Transformer& model, const std::vector<int>& layers,
                                               const Progress& progress = {});

// Neuron facts (issue 13): for each of `neurons` (any layers), the `k` tokens of largest W_out[n] . W_U[:, t]
// (promoted, best first) and of smallest (suppressed, most negative first); ties keep the lower token id
// first. One product per layer over the selected neurons, walking the vocabulary in chunks (the same
// projection as computeLayerCongruence). TokenValue::text is left empty (the caller decodes).
struct TokenFacts {
    std::vector<TokenValue> promoted, suppressed;
};
std::vector<TokenFacts> computeTokenFacts(const Transformer& model, const std::vector<NeuronRef>& neurons, int k = 10);

// The `count` neurons of `layers` whose output weights are most congruent with `tokenId`, best first.
struct TokenNeuron {
    NeuronRef ref;          // the neuron
    float congruence = 0;   // W_out[n] . W_U[:, token]
};
std::vector<TokenNeuron> neuronsForToken(const Transformer& model, int tokenId, const std::vector<int>& layers,
                                         int count);

// Token -> neurons: every neuron of `layers` ranked by its congruence W_out[n] . W_U[:, token] with `token`
// (text that must be exactly one token of `tokenizer`, else headlight::Error), best first, at most `top`
// rows (all when top < 0), each with its own argmax token and max congruence (step 1).
struct TokenNeuronRow {
    NextTokenNeuron neuron;        // the neuron with its own argmax token and max congruence
    float tokenCongruence = 0.f;   // its congruence with `token`
};
std::vector<TokenNeuronRow> rankNeuronsForToken(const Transformer& model, const Tokenizer& tokenizer,
                                                const std::string& token, const std::vector<int>& layers, int top,
                                                const Progress& progress = {});

}  // namespace headlight::analysis
