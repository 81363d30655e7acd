// Steps 2b and 3 of METHOD.md on the kept documents: truncation of each max-activating context to the
// shortest suffix that keeps the neuron above ratio x max (the paper's binary search, batched across
// all contexts of all neurons in each round), the neuron's activation at every token of the document
// (for highlighting), and head attribution (direct path: each candidate head's output at the last
// position . the neuron's processed W_in column). Torch-free header.
#pragma once

#include <vector>

#include "core/base/progress.h"
#include "core/study/study.h"

namespace headlight {
class Transformer;
}

namespace headlight::analysis {

// One document context of a neuron: the document's tokens with BOS at index 0, up to and including
// the position of the maximum.
struct ContextInput {
    NeuronRef neuron;           // whose activation
    std::vector<int> tokens;    // [BOS, t1, ..., t_position]
    float maxActivation = 0.f;  // the activation at the last token (with BOS), from the scan
};

struct Truncation {
    int start = 1;                     // first kept token, document indexing (BOS = 0)
    float truncatedActivation = 0.f;   // activation at the last token of tokens[start..], run without BOS
};

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

// Head attribution at the last token of each prompt (run with BOS). prompts[i].tokens must start with
// BOS. Returns, per prompt, n_layers * n_heads scores (layer-major), NaN for heads that are not
// candidates (layers >= the neuron's layer, or > it with sameLayerHeads).
std::vector<std::vector<float>> attributeHeads(const Transformer& model, const std::vector<ContextInput>& prompts,
                                               bool sameLayerHeads, int64_t batchTokens = 8192);

// Candidate heads of a neuron in `layer` (flat, ascending).
std::vector<int> candidateHeads(int layer, int nHeads, bool sameLayerHeads);

}  // namespace headlight::analysis
