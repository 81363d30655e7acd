#include "core/analysis/topk.h"

#include <algorithm>
#include <string>

#include "core/base/error.h"

namespace headlight::analysis {

namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Heap order for std::*_heap: "a < b" when a ranks before b, so the front is the worst entry.
inline bool heapLess(const TopKEntry& a, const TopKEntry& b) { return ranksBefore(a, b); }

// Replaces the worst entry (slot 0) by `entry` and restores the heap.
void replaceTop(TopKEntry* heap, int32_t size, const TopKEntry& entry) {
    int32_t i = 0;
    for (;;) {
        const int32_t left = 2 * i + 1;
        if (left >= size) break;
        int32_t worse = left;  // the child that ranks later
        const int32_t right = left + 1;
        if (right < size && ranksBefore(heap[left], heap[right])) worse = right;
        if (!ranksBefore(entry, heap[worse])) break;  // entry is at least as bad as both children
        heap[i] = heap[worse];
        i = worse;
    }
    heap[i] = entry;
}

}  // namespace

TopKAccumulator::TopKAccumulator(int64_t neurons, int32_t k) : neurons_(neurons), k_(k) {
    if (neurons < 0) throw Error("top-k: number of neurons must be >= 0, got " + std::to_string(neurons));
    if (k < 1) throw Error("top-k: number of kept documents per neuron must be >= 1, got " + std::to_string(k));
    threshold_.assign(static_cast<std::size_t>(neurons), kMinusInfinity);
    counts_.assign(static_cast<std::size_t>(neurons), 0);
    heaps_.resize(static_cast<std::size_t>(neurons) * static_cast<std::size_t>(k));
}

void TopKAccumulator::offerSlow(int64_t neuron, const TopKEntry& entry) {
    if (std::isnan(entry.value)) return;
    TopKEntry* heap = heaps_.data() + neuron * k_;
    int32_t& count = counts_[static_cast<std::size_t>(neuron)];
    if (count < k_) {
        heap[count++] = entry;
        std::push_heap(heap, heap + count, heapLess);
        if (count == k_) threshold_[static_cast<std::size_t>(neuron)] = heap[0].value;
        return;
    }
    if (!ranksBefore(entry, heap[0])) return;
    replaceTop(heap, k_, entry);
    threshold_[static_cast<std::size_t>(neuron)] = heap[0].value;
}

void TopKAccumulator::offerDocument(int64_t document, const float* values, const int32_t* positions) {
    const float* threshold = threshold_.data();
    for (int64_t n = 0; n < neurons_; ++n)
        if (!(values[n] < threshold[n])) offerSlow(n, TopKEntry{values[n], document, positions[n]});
}

void TopKAccumulator::merge(const TopKAccumulator& other) {
    if (other.neurons_ != neurons_ || other.k_ != k_)
        throw Error("top-k merge: shapes differ (" + std::to_string(neurons_) + " neurons x " + std::to_string(k_) +
                    " vs " + std::to_string(other.neurons_) + " x " + std::to_string(other.k_) + ")");
    for (int64_t n = 0; n < neurons_; ++n) {
        const TopKEntry* heap = other.heaps_.data() + n * k_;
        for (int32_t i = 0; i < other.counts_[static_cast<std::size_t>(n)]; ++i)
            offer(n, heap[i].value, heap[i].document, heap[i].position);
    }
}

std::vector<TopKEntry> TopKAccumulator::sorted(int64_t neuron) const {
    const TopKEntry* heap = heaps_.data() + neuron * k_;
    std::vector<TopKEntry> out(heap, heap + counts_[static_cast<std::size_t>(neuron)]);
    std::sort(out.begin(), out.end(), ranksBefore);
    return out;
}

TopKFlat TopKAccumulator::toFlat() const {
    TopKFlat flat;
    flat.neurons = neurons_;
    flat.k = k_;
    const std::size_t slots = heaps_.size();
    flat.values.assign(slots, std::numeric_limits<float>::quiet_NaN());
    flat.documents.assign(slots, -1);
    flat.positions.assign(slots, -1);
    flat.counts = counts_;
    for (int64_t n = 0; n < neurons_; ++n) {
        const std::vector<TopKEntry> entries = sorted(n);
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const std::size_t slot = static_cast<std::size_t>(n * k_) + i;
            flat.values[slot] = entries[i].value;
            flat.documents[slot] = entries[i].document;
            flat.positions[slot] = entries[i].position;
        }
    }
    return flat;
}

TopKAccumulator TopKAccumulator::fromFlat(const TopKFlat& flat) {
    if (flat.neurons < 0 || flat.k < 1)
        throw Error("top-k data: bad shape " + std::to_string(flat.neurons) + " neurons x " + std::to_string(flat.k));
    const std::size_t slots = static_cast<std::size_t>(flat.neurons) * static_cast<std::size_t>(flat.k);
    auto checkSize = [&](std::size_t size, std::size_t expected, const char* field) {
        if (size != expected)
            throw Error(std::string("top-k data: '") + field + "' has " + std::to_string(size) + " elements, expected " +
                        std::to_string(expected));
    };
    checkSize(flat.values.size(), slots, "values");
    checkSize(flat.documents.size(), slots, "documents");
    checkSize(flat.positions.size(), slots, "positions");
    checkSize(flat.counts.size(), static_cast<std::size_t>(flat.neurons), "counts");
    TopKAccumulator acc(flat.neurons, flat.k);
    for (int64_t n = 0; n < flat.neurons; ++n) {
        const int32_t count = flat.counts[static_cast<std::size_t>(n)];
        const std::string at = "top-k data: neuron " + std::to_string(n) + ": ";
        if (count < 0 || count > flat.k)
            throw Error(at + "'counts' is " + std::to_string(count) + ", outside [0, " + std::to_string(flat.k) + "]");
        const std::size_t base = static_cast<std::size_t>(n) * static_cast<std::size_t>(flat.k);
        for (int32_t i = 0; i < flat.k; ++i) {
            const TopKEntry e{flat.values[base + i], flat.documents[base + i], flat.positions[base + i]};
            if (i >= count) {
                if (!std::isnan(e.value) || e.document != -1 || e.position != -1)
                    throw Error(at + "unused slot " + std::to_string(i) + " is not (NaN, -1, -1)");
                continue;
            }
            if (std::isnan(e.value)) throw Error(at + "'values' slot " + std::to_string(i) + " is NaN");
            if (e.document < 0) throw Error(at + "'documents' slot " + std::to_string(i) + " is negative");
            if (i > 0) {
                const TopKEntry prev{flat.values[base + i - 1], flat.documents[base + i - 1],
                                     flat.positions[base + i - 1]};
                if (!ranksBefore(prev, e))
                    throw Error(at + "entries are not in descending order at slot " + std::to_string(i));
            }
            acc.offerSlow(n, e);
        }
    }
    return acc;
}

}  // namespace headlight::analysis
