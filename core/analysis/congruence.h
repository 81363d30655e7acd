// Step 1 of METHOD.md: congruence of MLP neurons with the unembedding, c(l, n, t) = W_out[l][n, :] . W_U[:, t]
// (processed weights, plain dot product); per neuron its max and argmax over the vocabulary; and the
// reverse view, a token's most congruent neurons. Torch-free header.
#pragma once

#include <vector>

#include "core/base/progress.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
}

namespace headlight::analysis {

// Max and argmax over all tokens for every neuron of `layer`. Ties keep the lowest token id.
LayerCongruence computeLayerCongruence(const Transformer& model, int layer);
std::vector<LayerCongruence> computeCongruence(const Transformer& model, const std::vector<int>& layers,
                                               const Progress& progress = {});

// The `count` neurons of `layers` whose output weights are most congruent with `tokenId`, best first.
struct TokenNeuron {
    NeuronRef ref;          // the neuron
    float congruence = 0;   // W_out[n] . W_U[:, token]
};
std::vector<TokenNeuron> neuronsForToken(const Transformer& model, int tokenId, const std::vector<int>& layers,
                                         int count);

}  // namespace headlight::analysis
