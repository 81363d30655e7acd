// The record of the head-ablation validation (METHOD.md section 6). Plain data, torch-free.
#pragma once

#include <vector>

#include "core/records/names.h"

namespace headlight {

// Head zero-ablation experiment (METHOD.md section 6) for one (neuron, head).
struct AblationResult {
    NeuronRef neuron;                        // the neuron
    int head = 0;                            // flat head index
    std::vector<float> dropActive;           // probability drop of the neuron's token, contexts where the head is active
    std::vector<float> dropInactive;         // ... where it is not
    double ksStatistic = 0.0;                // two-sample KS D
    double ksPValue = 1.0;                   // its p-value
};

}  // namespace headlight
