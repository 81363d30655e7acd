#include "core/analysis/activation_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/base/error.h"

namespace headlight::analysis {

using namespace histogram_bins;

int histogramBin(float value) {
    // A float's bits give its octave (exponent) and its 1/8-octave sub-bin (the top 3 mantissa bits)
    // exactly: |value| = 2^e (1 + m), sub-bin floor(8 m). Zero and subnormals have e < -126.
    static_assert(kSubBins == 8, "sub-bins are the top 3 mantissa bits");
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    const uint32_t magnitudeBits = bits & 0x7fffffffu;
    const int octave = static_cast<int>(magnitudeBits >> 23) - 127;
    int magnitude;  // 0 .. kMagnitudeBins - 1, or -1 (zero bin) / kMagnitudeBins (overflow, inf)
    if (octave < kMinExponent) magnitude = -1;
    else if (octave >= kMaxExponent) magnitude = kMagnitudeBins;
    else magnitude = (octave - kMinExponent) * kSubBins + static_cast<int>((magnitudeBits >> 20) & 7u);
    if (magnitude < 0) return kZeroBin;
    return (bits >> 31) ? kZeroBin - 1 - magnitude : kZeroBin + 1 + magnitude;
}

const std::vector<double>& histogramEdges() {
    static const std::vector<double> edges = [] {
        std::vector<double> magnitudes;  // kMagnitudeBins + 1 lower edges of the magnitude bins, and the top
        for (int o = kMinExponent; o < kMaxExponent; ++o)
            for (int s = 0; s < kSubBins; ++s) magnitudes.push_back(std::ldexp(1.0 + double(s) / kSubBins, o));
        magnitudes.push_back(std::ldexp(1.0, kMaxExponent));
        std::vector<double> out{-std::numeric_limits<double>::infinity()};
        for (auto it = magnitudes.rbegin(); it != magnitudes.rend(); ++it) out.push_back(-*it);
        for (double m : magnitudes) out.push_back(m);
        out.push_back(std::numeric_limits<double>::infinity());
        return out;
    }();
    return edges;
}

HistogramAccumulator::HistogramAccumulator(int64_t neurons)
    : neurons_(neurons), counts_(static_cast<std::size_t>(neurons * kBins), 0), nan_(static_cast<std::size_t>(neurons), 0),
      min_(static_cast<std::size_t>(neurons), std::numeric_limits<float>::infinity()),
      max_(static_cast<std::size_t>(neurons), -std::numeric_limits<float>::infinity()) {
    if (neurons < 0) throw Error("histogram: negative neuron count");
}

void HistogramAccumulator::offer(int64_t neuron, float value) {
    if (std::isnan(value)) {
        ++nan_[neuron];
        return;
    }
    ++counts_[neuron * kBins + histogramBin(value)];
    min_[neuron] = std::min(min_[neuron], value);
    max_[neuron] = std::max(max_[neuron], value);
}

void HistogramAccumulator::offerRows(const std::vector<int64_t>& slots, const float* data, int64_t rows,
                                     int64_t stride) {
    for (int64_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < slots.size(); ++j) offer(slots[j], data[r * stride + int64_t(j)]);
}

void HistogramAccumulator::merge(const HistogramAccumulator& other) {
    if (other.neurons_ != neurons_)
        throw Error("histogram merge: " + std::to_string(other.neurons_) + " neurons, expected " + std::to_string(neurons_));
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    for (int64_t n = 0; n < neurons_; ++n) {
        nan_[n] += other.nan_[n];
        min_[n] = std::min(min_[n], other.min_[n]);
        max_[n] = std::max(max_[n], other.max_[n]);
    }
}

ActivationHistogram HistogramAccumulator::of(int64_t neuron) const {
    ActivationHistogram h;
    h.counts.assign(counts_.begin() + neuron * kBins, counts_.begin() + (neuron + 1) * kBins);
    h.nan = nan_[neuron];
    if (h.total() > 0) {
        h.min = min_[neuron];
        h.max = max_[neuron];
    }
    return h;
}

void mergeHistograms(ActivationHistogram& a, const ActivationHistogram& b) {
    if (!b.recorded()) return;
    if (!a.recorded()) {
        a = b;
        return;
    }
    if (a.counts.size() != b.counts.size())
        throw Error("histogram merge: " + std::to_string(b.counts.size()) + " bins, expected " + std::to_string(a.counts.size()));
    const bool aEmpty = a.total() == 0, bEmpty = b.total() == 0;
    for (std::size_t i = 0; i < a.counts.size(); ++i) a.counts[i] += b.counts[i];
    a.nan += b.nan;
    if (aEmpty) {
        a.min = b.min;
        a.max = b.max;
    } else if (!bEmpty) {
        a.min = std::min(a.min, b.min);
        a.max = std::max(a.max, b.max);
    }
}

ActivationHistogram histogramOf(const std::vector<float>& values) {
    HistogramAccumulator acc(1);
    for (float v : values) acc.offer(0, v);
    return acc.of(0);
}

bool isNearDead(float topActivation) { return !(topActivation > kNearDeadActivation); }

float topActivation(const NeuronResult& neuron) {
    if (neuron.histogram.recorded() && neuron.histogram.total() > 0) return neuron.histogram.max;
    float best = std::numeric_limits<float>::quiet_NaN();
    for (const NeuronContext& c : neuron.contexts)
        if (std::isnan(best) || c.activation > best) best = c.activation;
    return best;
}

}  // namespace headlight::analysis
