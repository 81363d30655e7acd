#include "core/analysis/head_activity.h"

#include <cmath>
#include <limits>

#include "core/base/error.h"

namespace headlight::analysis {

int64_t candidateHeadCount(int neuronLayer, int headsPerLayer, bool sameLayerHeads) {
    if (neuronLayer < 0 || headsPerLayer < 0)
        throw Error("candidate heads: layer " + std::to_string(neuronLayer) + " and heads per layer " +
                    std::to_string(headsPerLayer) + " must be >= 0");
    return static_cast<int64_t>(neuronLayer + (sameLayerHeads ? 1 : 0)) * headsPerLayer;
}

ContextActivity activeHeads(const std::vector<float>& scores, int64_t contexts, int64_t heads,
                            const HeadActivityOptions& options) {
    if (contexts < 0 || heads < 0 || static_cast<int64_t>(scores.size()) != contexts * heads)
        throw Error("head activity: score matrix has " + std::to_string(scores.size()) + " values, expected " +
                    std::to_string(contexts) + " contexts x " + std::to_string(heads) + " heads");
    ContextActivity a;
    a.contexts = contexts;
    a.heads = heads;
    a.mean.assign(static_cast<std::size_t>(contexts), std::numeric_limits<double>::quiet_NaN());
    a.std = a.mean;
    a.threshold = a.mean;
    a.active.assign(scores.size(), 0);
    for (int64_t c = 0; c < contexts; ++c) {
        const float* row = scores.data() + c * heads;
        double sum = 0;
        for (int64_t h = 0; h < heads; ++h) sum += row[h];
        const double mean = heads > 0 ? sum / static_cast<double>(heads) : std::numeric_limits<double>::quiet_NaN();
        double squares = 0;
        for (int64_t h = 0; h < heads; ++h) squares += (row[h] - mean) * (row[h] - mean);
        const double std = heads > 1 ? std::sqrt(squares / static_cast<double>(heads - 1))
                                     : std::numeric_limits<double>::quiet_NaN();
        const double threshold = mean + options.stdMultiplier * std;
        a.mean[static_cast<std::size_t>(c)] = mean;
        a.std[static_cast<std::size_t>(c)] = std;
        a.threshold[static_cast<std::size_t>(c)] = threshold;
        for (int64_t h = 0; h < heads; ++h)
            a.active[static_cast<std::size_t>(c * heads + h)] = static_cast<double>(row[h]) > threshold ? 1 : 0;
    }
    return a;
}

HeadRelevance relevantHeads(const std::vector<uint8_t>& active, int64_t contexts, int64_t heads,
                            const HeadActivityOptions& options) {
    if (contexts < 0 || heads < 0 || static_cast<int64_t>(active.size()) != contexts * heads)
        throw Error("head relevance: active mask has " + std::to_string(active.size()) + " values, expected " +
                    std::to_string(contexts) + " contexts x " + std::to_string(heads) + " heads");
    if (!(options.relevantMin <= options.relevantMax))
        throw Error("head relevance: minimum fraction " + std::to_string(options.relevantMin) +
                    " exceeds maximum fraction " + std::to_string(options.relevantMax));
    HeadRelevance r;
    r.activeCount.assign(static_cast<std::size_t>(heads), 0);
    r.activeFraction.assign(static_cast<std::size_t>(heads), 0.0);
    for (int64_t c = 0; c < contexts; ++c)
        for (int64_t h = 0; h < heads; ++h)
            if (active[static_cast<std::size_t>(c * heads + h)]) ++r.activeCount[static_cast<std::size_t>(h)];
    if (contexts == 0) return r;
    for (int64_t h = 0; h < heads; ++h) {
        const double fraction =
            static_cast<double>(r.activeCount[static_cast<std::size_t>(h)]) / static_cast<double>(contexts);
        r.activeFraction[static_cast<std::size_t>(h)] = fraction;
        if (fraction >= options.relevantMin && fraction <= options.relevantMax) r.relevant.push_back(h);
    }
    return r;
}

}  // namespace headlight::analysis
