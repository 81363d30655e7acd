// Step 2b of METHOD.md on the kept documents: truncation of each max-activating context to the
// shortest suffix that keeps the neuron above ratio x max (the paper's binary search, batched across
// all contexts of all neurons in each round), and the neuron's activation at every token of the
// document (for highlighting). Torch-free header.
#pragma once

#include <vector>

#include "core/analysis/context_input.h"
#include "core/base/progress.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
}

namespace headlight::analysis {

// The paper's search: on the context without BOS, c = tokens[1..], start = 0, end = len(c) - 1,
// mid = (start + end) / 2; while start != mid: keep mid as start if the suffix c[mid:] (run without
// BOS) ends with activation > ratio * max, else as end. It assumes monotonicity; a search that never
// passes keeps the whole context. All searches advance together, one batched forward pass per round.
std::vector<Truncation> truncateContexts(const Transformer& model, const std::vector<ContextInput>& contexts,
                                         double ratio, int64_t batchTokens = 8192, const Progress& progress = {});

// The neuron's activation at every token of each context (run with BOS where the model has one; BOS itself excluded):
// result[i][j] is the activation at tokens[j + 1].
std::vector<std::vector<float>> tokenActivations(const Transformer& model, const std::vector<ContextInput>& contexts,
                                                 int64_t batchTokens = 8192);

}  // namespace headlight::analysis
