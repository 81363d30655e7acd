// METHOD.md section 3's rules on head scores: which candidate heads are active in a context, and
// which heads are relevant for a neuron. Pure arithmetic on a score matrix (no model).
//
// Heads are numbered by their flat index layer * n_heads + head (layer-major), named "L{layer}H{head}"
// (headName() in core/records/names.h). The candidate heads of a neuron in layer l are the heads of
// layers l' < l (or l' <= l with sameLayerHeads), i.e. the flat indices 0 .. candidateHeadCount - 1: a
// score row holds exactly those, in flat order.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "core/records/names.h"

namespace headlight::analysis {

// Number of candidate heads of a neuron in `neuronLayer`: neuronLayer * headsPerLayer, or
// (neuronLayer + 1) * headsPerLayer with sameLayerHeads. Throws headlight::Error on negative input.
int64_t candidateHeadCount(int neuronLayer, int headsPerLayer, bool sameLayerHeads);

// Parameters of the two rules (the paper's defaults).
struct HeadActivityOptions {
    double stdMultiplier = 2.0;  // active in a context: score > mean + stdMultiplier * std (Bessel)
    double relevantMin = 0.25;   // relevant: active in at least this fraction of the contexts ...
    double relevantMax = 0.75;   // ... and at most this fraction (both bounds inclusive)
};

// The active-head rule applied to every context (row) of a score matrix.
struct ContextActivity {
    int64_t contexts = 0;             // rows
    int64_t heads = 0;                // columns (candidate heads)
    std::vector<double> mean;         // [contexts] mean of the row's scores
    std::vector<double> std;          // [contexts] their standard deviation, Bessel's correction (NaN if heads < 2)
    std::vector<double> threshold;    // [contexts] mean + stdMultiplier * std
    std::vector<uint8_t> active;      // [contexts * heads] row-major, 1 where score > threshold
};

// `scores` is row-major [contexts x heads] (float, as the attribution produces them); statistics are
// computed in double. A context whose std is NaN (fewer than 2 heads) or whose scores hold a NaN
// has no active head. Throws headlight::Error if scores.size() != contexts * heads.
ContextActivity activeHeads(const std::vector<float>& scores, int64_t contexts, int64_t heads,
                            const HeadActivityOptions& options = {});

// The relevance rule over one neuron's contexts.
struct HeadRelevance {
    std::vector<int64_t> activeCount;   // [heads] contexts in which the head is active
    std::vector<double> activeFraction; // [heads] activeCount / contexts (0 for no contexts)
    std::vector<int64_t> relevant;      // flat indices of relevant heads, ascending
};
// `active` is row-major [contexts x heads] (ContextActivity::active). With no contexts no head is
// relevant. Throws headlight::Error on a size mismatch or relevantMin > relevantMax.
HeadRelevance relevantHeads(const std::vector<uint8_t>& active, int64_t contexts, int64_t heads,
                            const HeadActivityOptions& options = {});

}  // namespace headlight::analysis
