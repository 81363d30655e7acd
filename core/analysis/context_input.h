// What steps 2b and 3 run on: one document context of a neuron, BOS first. Torch-free header.
#pragma once

#include <vector>

#include "core/records/names.h"

namespace headlight::analysis {

// One document context of a neuron: the document's tokens with BOS at index 0, up to and including
// the position of the maximum.
struct ContextInput {
    NeuronRef neuron;           // whose activation
    std::vector<int> tokens;    // [BOS, t1, ..., t_position]
    float maxActivation = 0.f;  // the activation at the last token (with BOS), from the scan
};

}  // namespace headlight::analysis
