// The record of the head-ablation validation (METHOD.md section 6) and its causal variants (issue 15).
// Plain data, torch-free.
#pragma once

#include <string>
#include <vector>

#include "core/records/names.h"

namespace headlight {

// How the heads are switched off (core/analysis/ablation.h has the exact definitions):
//   Zero      the head's value vectors zeroed at every position (the paper's ablation): z_h = 0, so its
//             output r_h = z_h W_O[h] = 0 (b_V's share stays in b_O after fold_value_biases);
//   Mean      the head's output z_h (hence r_h = z_h W_O[h]) replaced at every position by its mean over
//             every position of the study's kept prompts (up to 256 of them, evenly spaced);
//   Resample  z_h replaced by its values on another kept prompt of the study (seeded, reproducible);
//   Path      path patching head -> neuron: only the head's contribution to the neuron's MLP input at the
//             last position is removed, the ln2 scale frozen (the direct path the attribution measures);
//             the total effect (zero ablation, every path) is recorded beside it.
enum class AblationMode { Zero, Mean, Resample, Path };
const char* ablationModeName(AblationMode mode);   // "zero", "mean", "resample", "path"
// Parses ablationModeName's names; throws headlight::Error naming the mode otherwise.
AblationMode parseAblationMode(const std::string& name);

// Effects of one experiment on one neuron, per kept prompt, split by whether the heads were active
// there (for several heads: at least one of them). Effects are clean - ablated, at the last position.
struct AblationEffects {
    std::vector<float> dropActive, dropInactive;              // drop in p(token) (the paper's measure)
    std::vector<float> activationActive, activationInactive;  // drop in the neuron's activation
    bool empty() const { return dropActive.empty() && dropInactive.empty(); }
};

// One ablation experiment: one neuron, one head or a set of heads ablated together.
struct AblationResult {
    NeuronRef neuron;                        // the neuron
    int head = 0;                            // flat index of the first head (heads.front())
    std::vector<float> dropActive;           // probability drop of the neuron's token, contexts where the head is active
    std::vector<float> dropInactive;         // ... where it is not
    double ksStatistic = 0.0;                // two-sample KS D (probability drops, active vs inactive)
    double ksPValue = 1.0;                   // its p-value
    // Issue 15 (absent from older bundles, which read as zero ablation of one head):
    AblationMode mode = AblationMode::Zero;  // how the heads were switched off
    std::vector<int> heads;                  // flat indices ablated together, ascending (size 1: one head)
    std::vector<float> activationActive;     // drop in the neuron's activation at the last position (active)
    std::vector<float> activationInactive;   // ... (inactive); empty in older bundles
    double activationKsStatistic = 0.0;      // KS test of the activation drops, active vs inactive
    double activationKsPValue = 1.0;
    AblationEffects total;                   // Path only: the total effect (zero ablation of the same heads)
    AblationEffects sumOfSingles;            // several heads: the sum of the single-head effects, same split
    std::vector<NeuronRef> group;            // a neuron group's experiment: every neuron of the group (else empty)

    // The heads ablated together: `heads`, or {head} for records built without it.
    std::vector<int> headSet() const { return heads.empty() ? std::vector<int>{head} : heads; }
};

}  // namespace headlight
