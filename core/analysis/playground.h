// The playground's model access, torch-free: loads a study's model once (its id and weight processing
// as recorded in the provenance) and answers "this text, this neuron (any neuron of the model), this
// position" with the neuron's activation at every token, the head attribution scores at the position
// (METHOD.md step 3, direct path, exactly as the pipeline computes them), the look-up of one chosen head
// there (its per-source contributions, as the study stores them), p(token) of the neuron's token, and
// the same activation and p(token) with chosen heads switched off. Thread-safe after loading; call it
// from a worker thread, never the GUI thread.
//
// Switching heads off (issue 15):
//   Zero  the head's value vectors are zeroed at every position (the paper's ablation, as
//         `study ablate`): its output z, and its share of attn_out, become 0.
//   Mean  the head's output z is set, at every position, to the mean of its value vectors over the
//         typed text's positions after BOS (BOS, an attention sink, excluded) - what it would write if
//         it attended uniformly to the text. The mean is over the current text only: nothing from
//         earlier texts or the study's contexts enters it, so a result depends on the text alone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <QString>

#include "core/analysis/congruence.h"
#include "core/records/names.h"
#include "core/records/neuron.h"

namespace headlight {
class Transformer;
class Tokenizer;
}  // namespace headlight

namespace headlight::analysis {

enum class HeadSwitchOff { Zero, Mean };

struct PlaygroundRequest {
    NeuronRef neuron;                 // any neuron of the model
    int position = -1;                // where head scores, look-up and p(token) are taken (-1: last token)
    bool sameLayerHeads = false;      // candidate heads in layers <= the neuron's
    int lookupHead = -1;              // flat head whose look-up to decompose (-1: none; must be a candidate)
    std::vector<int> offHeads;        // flat heads switched off (empty: no ablated run)
    HeadSwitchOff mode = HeadSwitchOff::Zero;
    int tokenId = -1;                 // token of p(token); -1: the neuron's own (argmax of W_out[n] . W_U)
};

struct PlaygroundResult {
    std::vector<int> tokens;               // the text's tokens (no BOS)
    std::vector<std::string> tokenTexts;   // each token's text (UTF-8)
    std::vector<float> activations;        // the neuron's activation at each token (run with BOS)
    int position = -1;                     // where the head scores were taken (index into tokens)
    std::vector<float> headScores;         // n_layers * n_heads, layer-major; NaN for non-candidates
    std::vector<int> candidateHeads;       // flat, ascending
    HeadLookup lookup;                     // the look-up of request.lookupHead at position (empty: none);
                                           // positions: BOS (where the model has one), then tokens[0..position]
    int tokenId = -1;                      // the token of p(token)
    std::string tokenText;                 // its text
    double probability = 0;                // p(token) at position (next-token distribution)
    std::vector<int> offHeads;             // heads switched off in the ablated run (empty: none)
    std::vector<float> ablatedActivations; // the neuron's activation at each token with them off
    double ablatedProbability = 0;         // p(token) at position with them off
};

class Playground {
public:
    // Loads the model (folder or hub id); `processing` is Provenance::processing ("none..." = raw).
    // Throws headlight::Error if the model cannot be loaded.
    static Playground load(const QString& modelId, const std::string& processing);
    // A playground over a model already in memory (tests build planted models).
    static Playground fromModel(Transformer model, Tokenizer tokenizer);

    int nLayers() const;
    int nHeads() const;
    int dMlp() const;

    // Tokenizes `text` (no BOS; the model's BOS is prepended for the forward passes) and answers the
    // request. Empty text gives an empty result. Throws headlight::Error for a neuron or head outside
    // the model.
    PlaygroundResult run(const std::string& text, const PlaygroundRequest& request) const;
    // The former call: activations and head scores of `neuron` at `position`.
    PlaygroundResult run(const std::string& text, const NeuronRef& neuron, int position, bool sameLayerHeads = false) const;

    // Token -> neurons with this model (rankNeuronsForToken of congruence.h).
    std::vector<TokenNeuronRow> neuronsForToken(const std::string& token, const std::vector<int>& layers, int top) const;
    // The neuron's 10 most promoted / suppressed tokens, decoded (computeTokenFacts).
    TokenFacts tokenFacts(const NeuronRef& neuron) const;

private:
    struct Impl;
    explicit Playground(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

}  // namespace headlight::analysis
