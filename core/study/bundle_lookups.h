// The look-ups of a bundle (issue 13; docs/bundle-format.md, "Look-ups"): for every kept context, one
// record per active head with the head's score, its attention row at the last position and each source
// position's contribution (HeadLookup, core/records/neuron.h). Stored as optional columns, so bundles
// made before look-ups existed still open (their contexts have no look-ups). Internal to core/study.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/records/neuron.h"

namespace headlight {

// Collects the look-ups of the contexts in bundle order, then adds them to a writer.
class LookupColumns {
public:
    void addContext(const NeuronContext& context);   // one call per context, in bundle order
    void addTo(io::SafetensorsWriter& writer) const;  // borrows: keep this object alive until the write
    int64_t count() const { return static_cast<int64_t>(head_.size()); }

private:
    std::vector<int64_t> contextOffset_{0}, valueOffset_{0};
    std::vector<int32_t> head_;
    std::vector<float> score_, attention_, contributions_;
};

// Validated read access to a mapped bundle's look-ups.
class LookupReader {
public:
    using Fail = std::function<void(const std::string& what)>;  // throws: names the file
    // Empty reader if the bundle has no look-up columns; otherwise validates shapes, offsets, head
    // indices (0 <= head < heads) and finiteness, calling `fail` (which must throw) on the first fault.
    static LookupReader open(const io::SafetensorsFile& file, int64_t contexts, int64_t heads, const Fail& fail);

    bool present() const { return present_; }
    std::vector<HeadLookup> of(int64_t context) const;  // empty when absent

private:
    bool present_ = false;
    const io::TensorView *contextOffset_ = nullptr, *valueOffset_ = nullptr, *head_ = nullptr, *score_ = nullptr,
                         *attention_ = nullptr, *contributions_ = nullptr;
};

}  // namespace headlight
