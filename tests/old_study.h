// A study as an older Headlight wrote it: no look-ups, no promoted / suppressed tokens, no activation
// histograms (what completeStudy adds back). For the tests of issue 13's completion.
#pragma once

#include "core/study/study.h"

namespace headlight::test {

inline Study asMadeBeforeFacts(Study study) {
    for (NeuronResult& n : study.neurons) {
        n.promoted.clear();
        n.suppressed.clear();
        n.histogram = {};
        for (NeuronContext& c : n.contexts) c.lookups.clear();
    }
    return study;
}

}  // namespace headlight::test
