// The activation histogram of a neuron over the whole scanned corpus (issue 13, "neuron facts"),
// collected in the scan's single pass with bounded memory: a fixed-bin sketch, so that the bins never
// depend on the data, shards merge by adding counts, and a merge of shards equals the single run exactly.
//
// Bins (kBins = 387, ascending value order): every token activation the scan sees (positions after
// BOS) falls in exactly one.
//   0                     x < -2^14 (and -inf)
//   1 .. 192              negative x with 2^-10 <= |x| < 2^14, by magnitude, largest |x| first
//   193                   the zero bin, |x| < 2^-10
//   194 .. 385            positive x with 2^-10 <= x < 2^14
//   386                   x >= 2^14 (and +inf)
// Each octave [2^e, 2^(e+1)) is cut into 8 equal sub-bins of width 2^e / 8 (relative width <= 12.5 %), as
// an HDR histogram does; the edges are exact floats and a value's bin comes from its float bits, so the bin of
// a value is exact, with no rounding. NaN activations are counted apart (`nan`). Memory: 387 x 8 bytes per
// neuron. The exact min and max of the activations are kept beside the counts. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

#include "core/records/neuron.h"

namespace headlight::analysis {

namespace histogram_bins {
constexpr int kSubBins = 8;                                        // per octave
constexpr int kMinExponent = -10, kMaxExponent = 14;               // magnitudes in [2^-10, 2^14)
constexpr int kMagnitudeBins = (kMaxExponent - kMinExponent) * kSubBins;  // 192
constexpr int kZeroBin = 1 + kMagnitudeBins;                       // 193
constexpr int kBins = 2 * kMagnitudeBins + 3;                      // 387
}  // namespace histogram_bins

// The bin of a value (not NaN), 0 <= bin < kBins.
int histogramBin(float value);
// The kBins + 1 edges in ascending order (-inf first, +inf last): bin b holds values between edges[b]
// and edges[b + 1] (negative bins include their upper edge -|lo| and exclude the lower, by magnitude).
const std::vector<double>& histogramEdges();

// Per-neuron sketches of a scan, neuron-major counts.
class HistogramAccumulator {
public:
    HistogramAccumulator() = default;
    explicit HistogramAccumulator(int64_t neurons);

    int64_t neurons() const { return neurons_; }
    // Offers `rows` rows of a row-major [rows, stride] block of activations: column j belongs to neuron
    // slots[j] (j < slots.size() <= stride).
    void offerRows(const std::vector<int64_t>& slots, const float* data, int64_t rows, int64_t stride);
    void offer(int64_t neuron, float value);
    // Adds `other` (same neuron count, else headlight::Error): exact, order-independent.
    void merge(const HistogramAccumulator& other);

    ActivationHistogram of(int64_t neuron) const;
    // Whole state as flat arrays (checkpoint): counts [neurons * kBins], nan [neurons], min/max [neurons].
    std::vector<int64_t>& counts() { return counts_; }
    std::vector<int64_t>& nanCounts() { return nan_; }
    std::vector<float>& minima() { return min_; }
    std::vector<float>& maxima() { return max_; }
    const std::vector<int64_t>& counts() const { return counts_; }
    const std::vector<int64_t>& nanCounts() const { return nan_; }
    const std::vector<float>& minima() const { return min_; }
    const std::vector<float>& maxima() const { return max_; }

private:
    int64_t neurons_ = 0;
    std::vector<int64_t> counts_, nan_;
    std::vector<float> min_, max_;
};

// Adds `b` into `a` (either may be empty: not recorded); both recorded with different bin counts: Error.
void mergeHistograms(ActivationHistogram& a, const ActivationHistogram& b);

// A histogram of `values` computed directly (tests, and any caller with all values in memory).
ActivationHistogram histogramOf(const std::vector<float>& values);

// Dead or near-dead neurons (docs/user-guide.md): the largest activation the scan found is at most this
// (GELU/SiLU outputs; a live neuron's top activation is of order 1). Such a neuron is marked "near-dead"
// and its contexts are not drawn on a colour scale normalised to its tiny maximum.
constexpr float kNearDeadActivation = 0.01f;
bool isNearDead(float topActivation);
// A neuron's top activation over the scan: its histogram's max when recorded, else its best context's
// activation (NaN: neither).
float topActivation(const NeuronResult& neuron);

}  // namespace headlight::analysis
