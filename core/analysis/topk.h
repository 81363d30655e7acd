// Bounded top-N accumulator for the max-activating scan (METHOD.md section 2): for each of many
// neurons, the N best (value, document, position) seen over a corpus, in memory neurons x N.
//
// Order (a strict total order, so the kept set is unique): higher value first; equal values: lower
// document first; then lower position. NaN values are never kept. Because the order is total, the
// result does not depend on the order of offers: merging the accumulators of shards that saw disjoint
// documents gives exactly the single-pass result, in any merge order.
//
// Fast path: each neuron keeps the value of its current worst entry once it holds N, so an offer that
// cannot enter costs one comparison. Entries are kept per neuron as a binary min-heap (worst on top).
// Offers for different neurons touch disjoint memory: threads may share one accumulator if each
// offers only its own neurons; otherwise give each thread its own and merge.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace headlight::analysis {

// One kept activation.
struct TopKEntry {
    float value = 0.0f;     // the activation (a document's maximum over positions)
    int64_t document = -1;  // global document index (Document::index)
    int32_t position = -1;  // token position of that maximum
};

// True if a ranks before b (better): value desc, document asc, position asc.
inline bool ranksBefore(const TopKEntry& a, const TopKEntry& b) {
    if (a.value != b.value) return a.value > b.value;
    if (a.document != b.document) return a.document < b.document;
    return a.position < b.position;
}

// The accumulator in flat arrays (for a bundle or a checkpoint): neuron-major, N slots per neuron,
// each neuron's entries best first, unused slots (count < N) hold value NaN, document -1, position -1.
struct TopKFlat {
    int64_t neurons = 0;             // number of neurons
    int32_t k = 0;                   // slots per neuron (N)
    std::vector<float> values;       // [neurons * k]
    std::vector<int64_t> documents;  // [neurons * k]
    std::vector<int32_t> positions;  // [neurons * k]
    std::vector<int32_t> counts;     // [neurons] entries used per neuron (<= k)
};

class TopKAccumulator {
public:
    TopKAccumulator() = default;
    // Throws headlight::Error if neurons < 0 or k < 1.
    TopKAccumulator(int64_t neurons, int32_t k);

    int64_t neurons() const { return neurons_; }
    int32_t k() const { return k_; }

    // Offers one candidate for `neuron` (0 <= neuron < neurons(); not checked on this hot path).
    inline void offer(int64_t neuron, float value, int64_t document, int32_t position) {
        if (value < threshold_[neuron]) return;  // the common case; false for NaN too, handled below
        offerSlow(neuron, TopKEntry{value, document, position});
    }
    // Offers one document's maxima for all neurons: values[i], positions[i] for neuron i.
    void offerDocument(int64_t document, const float* values, const int32_t* positions);

    // Adds every entry of `other` (same neurons and k, else headlight::Error). Shards must have seen
    // disjoint documents: the same (document, position) offered to both would be kept twice.
    void merge(const TopKAccumulator& other);

    int32_t count(int64_t neuron) const { return counts_[neuron]; }
    // The kept entries of `neuron`, best first.
    std::vector<TopKEntry> sorted(int64_t neuron) const;

    TopKFlat toFlat() const;
    // Validates shapes, counts, order and unused slots; throws headlight::Error naming the field.
    static TopKAccumulator fromFlat(const TopKFlat& flat);

private:
    void offerSlow(int64_t neuron, const TopKEntry& entry);

    int64_t neurons_ = 0;
    int32_t k_ = 0;
    std::vector<float> threshold_;   // [neurons] worst kept value once full, -inf before
    std::vector<int32_t> counts_;    // [neurons]
    std::vector<TopKEntry> heaps_;   // [neurons * k] min-heap per neuron (worst at slot 0)
};

}  // namespace headlight::analysis
