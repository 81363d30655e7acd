// The playground's model access, torch-free: loads a study's model once (its id and weight processing
// as recorded in the provenance) and answers "this text, this neuron, this position" with the neuron's
// activation at every token and the head attribution scores at the position (METHOD.md step 3,
// direct path), exactly as the pipeline computes them. Thread-safe after loading; call it from a
// worker thread, never the GUI thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <QString>

#include "core/records/names.h"

namespace headlight::analysis {

struct PlaygroundResult {
    std::vector<int> tokens;               // the text's tokens (no BOS)
    std::vector<std::string> tokenTexts;   // each token's text (UTF-8)
    std::vector<float> activations;        // the neuron's activation at each token (run with BOS)
    int position = -1;                     // where the head scores were taken (index into tokens)
    std::vector<float> headScores;         // n_layers * n_heads, layer-major; NaN for non-candidates
    std::vector<int> candidateHeads;       // flat, ascending
};

class Playground {
public:
    // Loads the model (folder or hub id); `processing` is Provenance::processing ("none..." = raw).
    // Throws headlight::Error if the model cannot be loaded.
    static Playground load(const QString& modelId, const std::string& processing);

    int nLayers() const;
    int nHeads() const;
    int dMlp() const;

    // Tokenizes `text` (no BOS; the model's BOS is prepended for the forward passes), computes the
    // neuron's activation at every token, and the head scores at `position` (clamped to the last
    // token; -1 = last). Empty text gives an empty result.
    PlaygroundResult run(const std::string& text, const NeuronRef& neuron, int position, bool sameLayerHeads = false) const;

private:
    struct Impl;
    explicit Playground(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

}  // namespace headlight::analysis
