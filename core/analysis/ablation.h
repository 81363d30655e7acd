// The paper's validation (METHOD.md section 6) and its causal variants (issue 15): switch heads off and
// measure, at the last position of each kept prompt (run with BOS), the drop in the softmax probability
// of the neuron's token and in the neuron's activation; compare contexts where the head was active
// with those where it was not (two-sample Kolmogorov-Smirnov test). Torch-free header.
//
// The modes (AblationMode, core/records/ablation.h), for head h of layer l, z_h its hook_z slice:
//   zero      z_h := 0 at every position (HookSet::zeroHeadValues; the paper's ablation, unchanged);
//   mean      z_h := mean of z_h over every position (BOS included) of the kept prompts of the study
//             (all neurons given, not only the ablated ones; at most meanPrompts of them, evenly spaced
//             in study order). r_h = z_h W_O[h] is linear in z_h, so this is exactly mean-ablation of the
//             head's output r_h (b_O untouched);
//   resample  z_h := z_h of a donor prompt: for each kept prompt, one donor drawn (seeded) among the
//             study's other kept prompts at least as long (any other when none is), position t taking
//             the donor's value at min(t, donor length - 1); the same donor for every head of a neuron;
//   path      path patching head -> neuron: at the last position the neuron's MLP input loses the heads'
//             contributions r_h (as the attribution reads them, post norms included) with the ln2 scale s
//             frozen: pre -= r_h . W_in[:, n] / s (and the gate's pre-activation by r_h . W_gate[:, n] / s
//             for gated MLPs); the rest of the model is clean, so the p(token) drop is the effect through
//             the neuron alone. r_h . W_in[:, n] is the attribution score, so the input moves by score / s.
//             The total effect (zero ablation of the same heads, every path) is recorded beside it.
// Several heads are switched off together in one pass; for a set, the record also holds the sum of the
// single-head effects, and "active" means at least one head of the set was active in the context.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/progress.h"
#include "core/records/ablation.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
class Tokenizer;
}

namespace headlight::analysis {

struct AblationOptions {
    AblationMode mode = AblationMode::Zero;
    // Heads (flat) switched off: each alone, and together when there are two or more. Empty: each
    // neuron's relevant heads alone (the paper's experiment), and with a neuron group (below) the group's
    // shared relevant heads together.
    std::vector<int> heads;
    // The neurons to ablate (refs of `neurons` entries); empty: all. Two or more form a group: the heads
    // ablated together (`heads`, or those relevant to every neuron of the group) are recorded with
    // AblationResult::group set.
    std::vector<NeuronRef> neurons;
    uint64_t seed = 0;             // resample: the donor draw
    // mean: the prompts the mean is taken over, at most this many (0: all). A study of 60 neurons has
    // 1,200 prompts; 256 of them (about 10,000 positions) fix the mean well and keep mean ablation
    // within twice the cost of zero ablation (bench/ablation_speed.cpp).
    int meanPrompts = 256;
    bool sameLayerHeads = false;   // path: heads of the neuron's own layer reach its MLP (study parameter)
    int64_t batchTokens = 8192;
};

// Runs the experiments. `neurons` is the whole study (the mean of the mean mode and the resample donors
// come from all its kept prompts). Throws headlight::Error when a head is outside the model, a
// neuron is not in `neurons`, a path head is not upstream of a neuron's MLP, or a group shares no
// relevant head.
std::vector<AblationResult> runAblations(const Transformer& model, const Tokenizer& tokenizer,
                                         const std::vector<NeuronResult>& neurons, const AblationOptions& options,
                                         const Progress& progress = {});

// The paper's experiment: every neuron's relevant heads, each zero-ablated alone.
std::vector<AblationResult> runHeadAblations(const Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<NeuronResult>& neurons,
                                             int64_t batchTokens = 8192, const Progress& progress = {});

// Replaces the records of `fresh`'s (neuron, mode, heads, group) in `existing` and appends the others;
// returns where each fresh record now is in `existing`.
std::vector<std::size_t> mergeAblations(std::vector<AblationResult>& existing, std::vector<AblationResult> fresh);

}  // namespace headlight::analysis
