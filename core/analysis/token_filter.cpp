#include "core/analysis/token_filter.h"

#include "core/analysis/head_activity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/base/utf8.h"

namespace headlight::analysis {

bool startsWithWordBoundary(const std::string& decoded) {
    return (!decoded.empty() && decoded[0] == ' ') || decoded.rfind("\xE2\x96\x81", 0) == 0;
}

bool passesTokenFilter(const std::string& decoded, const TokenFilterOptions& options) {
    if (options.requireWordBoundary && !startsWithWordBoundary(decoded)) return false;
    return static_cast<int64_t>(countCodePoints(decoded)) >= options.minCodePoints;
}

std::vector<NeuronCandidate> selectTopNeurons(int layer, std::vector<NeuronCandidate> candidates, int k,
                                              const TokenFilterOptions& options) {
    if (k < 0) throw Error("neuron selection: neurons per layer must be >= 0, got " + std::to_string(k));
    std::set<int> rejectedNeurons;
    for (const std::string& name : options.rejectNeurons) {
        const std::optional<NeuronRef> ref = parseNeuronName(name);
        if (!ref) throw Error("neuron reject list: '" + name + "' is not a neuron name like L3N127");
        if (ref->layer == layer) rejectedNeurons.insert(ref->neuron);
    }
    const std::set<std::string> rejectedTokens(options.rejectTokens.begin(), options.rejectTokens.end());
    const std::set<int> rejectedIds(options.rejectTokenIds.begin(), options.rejectTokenIds.end());
    std::sort(candidates.begin(), candidates.end(), [](const NeuronCandidate& a, const NeuronCandidate& b) {
        const bool an = std::isnan(a.congruence), bn = std::isnan(b.congruence);
        if (an != bn) return bn;  // NaN last
        if (!an && a.congruence != b.congruence) return a.congruence > b.congruence;
        return a.neuron < b.neuron;
    });
    std::vector<NeuronCandidate> kept;
    for (NeuronCandidate& c : candidates) {
        if (static_cast<int>(kept.size()) >= k) break;
        if (std::isnan(c.congruence)) break;
        if (!passesTokenFilter(c.token, options)) continue;
        if (rejectedTokens.count(c.token) || rejectedIds.count(c.tokenId) || rejectedNeurons.count(c.neuron)) continue;
        kept.push_back(std::move(c));
    }
    return kept;
}

uint64_t uniformBelow(std::mt19937_64& engine, uint64_t bound) {
    if (bound == 0) throw Error("uniformBelow: bound must be >= 1");
    // Lemire (2019), "Fast random integer generation in an interval": multiply-shift with rejection.
    unsigned __int128 product = static_cast<unsigned __int128>(engine()) * bound;
    uint64_t low = static_cast<uint64_t>(product);
    if (low < bound) {
        const uint64_t threshold = (0 - bound) % bound;
        while (low < threshold) {
            product = static_cast<unsigned __int128>(engine()) * bound;
            low = static_cast<uint64_t>(product);
        }
    }
    return static_cast<uint64_t>(product >> 64);
}

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
}  // namespace

std::vector<int> selectRandomNeurons(int layer, int dMlp, int k, uint64_t seed) {
    if (layer < 0 || dMlp < 0 || k < 0)
        throw Error("random neurons: layer, d_mlp and count must be >= 0 (got " + std::to_string(layer) + ", " +
                    std::to_string(dMlp) + ", " + std::to_string(k) + ")");
    if (k > dMlp)
        throw Error("random neurons: cannot draw " + std::to_string(k) + " distinct neurons from d_mlp = " +
                    std::to_string(dMlp));
    std::mt19937_64 engine(splitmix64(seed + static_cast<uint64_t>(layer) * 0x9E3779B97F4A7C15ull));
    std::vector<int> pool(static_cast<std::size_t>(dMlp));
    std::iota(pool.begin(), pool.end(), 0);
    for (int i = 0; i < k; ++i) {
        const int j = i + static_cast<int>(uniformBelow(engine, static_cast<uint64_t>(dMlp - i)));
        std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
    }
    std::vector<int> chosen(pool.begin(), pool.begin() + k);
    std::sort(chosen.begin(), chosen.end());
    return chosen;
}

}  // namespace headlight::analysis
