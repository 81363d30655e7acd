// The head-centric view of a study (issue 13, item 4): one head, every studied neuron it is active or
// relevant for (its active fraction and explanation score E for each), and the source tokens it
// typically reads across those neurons' contexts, aggregated from the stored look-ups. Torch-free; the
// GUI's Head view, `study info --head L1H2` and the `heads` section of `study export --json` all call it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/study/study.h"

namespace headlight {

// The token id at each position of a look-up (the attribution prompt: BOS, where the model has one,
// then the kept prompt tokens[start - 1 ..]); -1 for BOS.
std::vector<int> lookupTokenIds(const NeuronContext& context, const HeadLookup& lookup);

// Per look-up, the source positions ranked first by contribution (descending, positive shares only;
// ties by position) are the ones counted as "read"; kSourcesPerLookup of them at most.
constexpr int kSourcesPerLookup = 3;

struct HeadNeuronEntry {
    int neuron = 0;                    // index into Study::neurons
    NeuronRef ref;                     // the neuron
    bool baseline = false;             // a random-baseline neuron
    bool candidate = false;            // the head is a candidate of this neuron (an earlier layer)
    float activeFraction = 0.f;        // NeuronResult::activeFraction[head] (kept contexts)
    int activeContexts = 0;            // kept contexts where the head is active
    int keptContexts = 0;              // the neuron's kept contexts
    bool relevant = false;             // in NeuronResult::relevantHeads
    std::optional<double> score;          // E of the LLM explanation of (neuron, head), if scored
    std::optional<double> baselineScore;  // E of the offline baseline explanation, if scored
};

struct HeadSourceToken {
    int tokenId = -1;          // -1: BOS
    double contribution = 0;   // summed contribution over the look-ups where it was among the top sources
    int lookups = 0;           // how many look-ups had it among their top sources
};

struct HeadView {
    int head = 0;                           // flat index
    std::vector<HeadNeuronEntry> neurons;   // active in >= 1 kept context or relevant; descending active
                                            // fraction, then bundle order
    std::vector<HeadSourceToken> sources;   // descending contribution (ties: ascending token id)
    int lookups = 0;                        // look-ups of this head over those neurons' kept contexts
};

// The view of flat head `head` (0 <= head < nLayers * nHeads, else headlight::Error); at most
// `topSources` source tokens.
HeadView headView(const Study& study, int head, int topSources = 10);

// The same over neurons materialised one at a time (the GUI's lazily read bundle): `neuronAt(i)` for
// i < neuronCount; memory stays at one neuron.
struct HeadViewInput {
    int nLayers = 0, nHeads = 0, neuronCount = 0;
    std::function<std::shared_ptr<const NeuronResult>(int)> neuronAt;
    const std::vector<HeadExplanation>* explanations = nullptr;  // may be null
};
HeadView headView(const HeadViewInput& input, int head, int topSources = 10);
// Every head with at least one neuron, ascending flat index.
std::vector<HeadView> headViews(const Study& study, int topSources = 10);

// Decodes one vocabulary token for display (UTF-8); empty function: ids only.
using TokenDecoder = std::function<std::string(int tokenId)>;
// The `heads` section of the export JSON (docs/bundle-format.md): one entry per head of headViews.
nlohmann::ordered_json headViewJson(const Study& study, const HeadView& view, const TokenDecoder& decode = {});
nlohmann::ordered_json headViewsJson(const Study& study, const TokenDecoder& decode = {});
// `study info --head L1H2`: the same as text.
std::string headViewText(const Study& study, const HeadView& view, const TokenDecoder& decode = {});

}  // namespace headlight
