// Internal to core/analysis (a torch header): the forward passes of truncation and attribution run
// many short contexts; these helpers group them into padded batches of about `batchTokens` tokens
// (rows sorted by length, so padding stays small) and name the hooks they read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/transformer.h"
#include "core/records/names.h"

namespace headlight::analysis {

// One forward-pass row: a context's tokens and the neuron whose activation is read.
struct ContextRow {
    std::size_t item;          // which context (index into the caller's list)
    NeuronRef neuron;          // whose activation
    std::vector<int> tokens;   // what to run
};

// Splits rows into batches of about `batchTokens` padded tokens (rows sorted by length first).
std::vector<std::vector<const ContextRow*>> makeBatches(const std::vector<ContextRow>& rows, int64_t batchTokens);
// The batch's token ids, right-padded.
TokenBatch toBatch(const std::vector<const ContextRow*>& batch);
// The distinct layers of the batch rows' neurons, ascending.
std::vector<int> neuronLayers(const std::vector<const ContextRow*>& batch);
// "blocks.{layer}.mlp.hook_post"
std::string postHook(int layer);

}  // namespace headlight::analysis
