#include "core/analysis/score_interval.h"

#include "core/analysis/statistics.h"

namespace headlight::analysis {

uint64_t explanationSeed(const HeadExplanation& e) {
    uint64_t seed = kBootstrapSeed;
    for (int64_t v : {int64_t(e.neuron.layer), int64_t(e.neuron.neuron), int64_t(e.head),
                      int64_t(e.baseline ? 1 : 0) + (e.source == "llm" ? 2 : 0)})
        seed = mixSeed(seed, static_cast<uint64_t>(v));
    return seed;
}

std::optional<ScoreInterval> explanationInterval(const HeadExplanation& e) {
    if (!e.score) return std::nullopt;
    ConfusionMatrix m;
    m.tp = e.tp;
    m.fn = e.fn;
    m.fp = e.fp;
    m.tn = e.tn;
    const auto ci = bootstrapBalancedAccuracy(m, kBootstrapResamples, explanationSeed(e));
    if (!ci) return std::nullopt;
    return ScoreInterval{ci->low, ci->high};
}

}  // namespace headlight::analysis
