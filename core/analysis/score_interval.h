// The bootstrap 95 % interval of one head explanation score E (METHOD.md section 5), from the record's
// confusion matrix: analysis::bootstrapBalancedAccuracy with kBootstrapResamples resamples, seeded by
// kBootstrapSeed mixed with the record's neuron, head, baseline flag and source, so that one record
// always gets the same interval (in the scorer, and when an older bundle without intervals is opened).
#pragma once

#include <cstdint>
#include <optional>

#include "core/records/explanation.h"

namespace headlight::analysis {

uint64_t explanationSeed(const HeadExplanation& explanation);
// Empty when the record has no score (E) or a class without valid tests.
std::optional<ScoreInterval> explanationInterval(const HeadExplanation& explanation);

}  // namespace headlight::analysis
