// Step 5's labels (METHOD.md section 5): steps 2-3 re-run on a held-out corpus with the study's own
// settings, for the study's neurons. Implemented by the pipeline (core/study/pipeline.cpp).
#pragma once

#include <vector>

#include <QString>

#include "core/base/progress.h"
#include "core/study/study.h"

namespace headlight {

// For each neuron of `study`, in the same order, a NeuronResult whose contexts are the held-out
// contexts (the scan's top N of `heldoutCorpus`, truncated, with head scores and active masks: the
// same records as NeuronResult::contexts), made with `study.parameters` on the model
// `modelDirOrHubId`. Throws headlight::Error on bad input, headlight::Cancelled when cancelled.
std::vector<NeuronResult> labelHeldOut(const Study& study, const QString& modelDirOrHubId,
                                       const QString& heldoutCorpus, const Progress& progress);

}  // namespace headlight
