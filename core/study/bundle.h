// The .headlight bundle: one self-contained, valid safetensors file holding a Study.
// Numbers, token ids and UTF-8 strings live in tensors (columnar, concatenated with offset arrays);
// the __metadata__ key "headlight" holds a JSON document with the schema version, provenance,
// parameters and the small per-study records. Layout: docs/bundle-format.md.
//
// Bundle::open() maps and validates a file and gives columnar, lazy access (the GUI opens 300,000-neuron
// bundles without materialising them); toStudy() materialises everything.
#pragma once

#include <memory>
#include <string>

#include <QString>

#include "core/study/study.h"

namespace headlight {

// Writes `study` atomically to `path` (temp file + rename). Throws headlight::Error on failure.
void saveBundle(const Study& study, const QString& path);

// A validated, memory-mapped bundle.
class Bundle {
public:
    // Maps and fully validates; throws headlight::Error naming the file and what is wrong.
    static Bundle open(const QString& path);

    const QString& path() const;
    int neuronCount() const;
    int64_t contextCount() const;
    NextTokenNeuron neuron(int i) const;          // cheap: no contexts
    int contextCountOf(int neuronIndex) const;
    NeuronResult neuronResult(int i) const;       // materialises one neuron with its contexts
    const Provenance& provenance() const;
    const StudyParameters& parameters() const;
    const std::vector<HeadExplanation>& explanations() const;  // steps 4-5 (empty if none)
    const HeldOutProvenance& heldOut() const;                   // step 5 provenance
    Study toStudy() const;                        // materialises everything

    // Cheap columnar accessors for tables over many neurons (no contexts materialised).
    int nLayers() const;
    int nHeads() const;
    int dMlp() const;
    int layerOf(int i) const;
    bool isBaseline(int i) const;
    float maxActivationOf(int i) const;           // max of the neuron's contexts' activations (NaN: none)
    int keptCountOf(int i) const;                 // contexts with kept = 1 (the P prompts)
    int relevantCountOf(int i) const;             // relevant heads
    const std::vector<AblationResult>& ablations() const;
    // Whether the bundle stores look-ups (made after they existed and with at least one active head).
    bool hasLookups() const;
    // Whether the bundle stores the neuron facts (made after they existed): promoted/suppressed tokens,
    // activation histograms.
    bool hasTokenFacts() const;
    bool hasHistograms() const;

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
};

// Convenience: Bundle::open(path).toStudy().
Study loadStudy(const QString& path);

}  // namespace headlight
