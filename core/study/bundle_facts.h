// The neuron facts of a bundle (issue 13; docs/bundle-format.md, "Neuron facts"): each neuron's 10 most
// promoted and suppressed tokens of W_out[n] . W_U and its activation histogram over the scanned corpus.
// Optional columns: bundles made before them still open (the neurons then have no facts). Internal to
// core/study.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/records/neuron.h"

namespace headlight {

// Collects the facts of the neurons in bundle order, then adds them to a writer.
class FactColumns {
public:
    void addNeuron(const NeuronResult& neuron);       // one call per neuron, in bundle order
    void addTo(io::SafetensorsWriter& writer) const;  // borrows: keep this object alive until the write

private:
    std::vector<const NeuronResult*> neurons_;
    // filled by addTo (mutable: laid out at write time, once the token count K is known)
    mutable std::vector<int32_t> tokens_;
    mutable std::vector<float> values_;
    mutable std::vector<int64_t> textOffset_, histogramOffset_, histogramCount_, histogramNan_;
    mutable std::string text_;
    mutable std::vector<int16_t> histogramBin_;
    mutable std::vector<float> histogramMin_, histogramMax_;
    mutable std::vector<uint8_t> histogramRecorded_;
};

// Validated read access to a mapped bundle's facts.
class FactReader {
public:
    using Fail = std::function<void(const std::string& what)>;  // throws: names the file
    static FactReader open(const io::SafetensorsFile& file, int64_t neurons, const Fail& fail);

    bool hasTokens() const { return tokens_ != nullptr; }
    bool hasHistograms() const { return histogramOffset_ != nullptr; }
    // Fills promoted/suppressed/histogram of neuron i (left empty where absent).
    void fill(int64_t i, NeuronResult& neuron) const;

private:
    int64_t k_ = 0;
    const io::TensorView *tokens_ = nullptr, *values_ = nullptr, *text_ = nullptr, *textOffset_ = nullptr;
    const io::TensorView *histogramOffset_ = nullptr, *histogramBin_ = nullptr, *histogramCount_ = nullptr,
                         *histogramNan_ = nullptr, *histogramMin_ = nullptr, *histogramMax_ = nullptr,
                         *histogramRecorded_ = nullptr;
};

}  // namespace headlight
