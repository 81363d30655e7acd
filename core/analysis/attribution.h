// Step 3 of METHOD.md: head attribution by the direct path, each candidate head's output at the last
// position (hook_result) r dotted with a direction w of the neuron's input:
//   UpProjection (the paper's score):  w = W_in[:, n], the processed input weights; for a gated MLP
//                                      (act(x W_gate) * (x W_in)) the up projection only, so a head
//                                      acting through the gate is invisible;
//   GateAware (gated MLPs only):       w = d post / d x at the actual activation point of the last
//                                      position, with the norm's scale s frozen (as the paper freezes
//                                      LayerNorm scales): (act'(g) u W_gate[:, n] + act(g) W_in[:, n]) / s,
//                                      g and u the neuron's gate and up pre-activations; r . w is the
//                                      first-order change of the neuron's activation when r is added.
//                                      For non-gated MLPs GateAware is the paper's score.
// Torch-free header.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/analysis/context_input.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
}

namespace headlight::analysis {

// Head attribution at the last token of each prompt (run with BOS). prompts[i].tokens must start with
// BOS. Returns, per prompt, n_layers * n_heads scores (layer-major), NaN for heads that are not
// candidates (layers >= the neuron's layer, or > it with sameLayerHeads).
std::vector<std::vector<float>> attributeHeads(const Transformer& model, const std::vector<ContextInput>& prompts,
                                               bool sameLayerHeads, int64_t batchTokens = 8192);

// Which heads of prompt `prompt` get a look-up decomposition, given the prompt's scores (as
// attributeHeads returns them); flat indices of candidate heads.
using LookupSelector = std::function<std::vector<int>(std::size_t prompt, const std::vector<float>& scores)>;

struct HeadAttribution {
    std::vector<std::vector<float>> scores;         // per prompt, as attributeHeads
    std::vector<std::vector<HeadLookup>> lookups;   // per prompt, the selected heads in ascending order
};

// attributeHeads, and in the same forward passes the look-up decomposition (HeadLookup,
// core/records/neuron.h) of the heads `select` picks for each prompt. The contributions sum to the
// score up to float rounding; the attention row is hook_pattern at the last position.
HeadAttribution attributeHeadsWithLookups(const Transformer& model, const std::vector<ContextInput>& prompts,
                                          bool sameLayerHeads, const LookupSelector& select,
                                          int64_t batchTokens = 8192,
                                          AttributionScore score = AttributionScore::UpProjection);

// Candidate heads of a neuron in `layer` (flat, ascending).
std::vector<int> candidateHeads(int layer, int nHeads, bool sameLayerHeads);

}  // namespace headlight::analysis
