// The paper's validation (METHOD.md section 6): zero-ablate a head's value vectors at all positions
// and measure the drop in the softmax probability of the neuron's token at the last position of each
// kept prompt (run with BOS); compare contexts where the head was active with those where it was not
// (two-sample Kolmogorov-Smirnov test). Torch-free header.
#pragma once

#include <vector>

#include "core/base/progress.h"
#include "core/records/ablation.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
class Tokenizer;
}

namespace headlight::analysis {

// For every neuron and each of its relevant heads: probability drops split by the head's activity,
// and the KS statistic/p-value (NaN when one side is empty).
std::vector<AblationResult> runHeadAblations(const Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<NeuronResult>& neurons,
                                             int64_t batchTokens = 8192, const Progress& progress = {});

}  // namespace headlight::analysis
