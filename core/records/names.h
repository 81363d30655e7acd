// The names of the method's objects: a neuron "L3N127", a head "L2H5" (flat index layer * n_heads +
// head, layer-major), and their parsers. The ground floor of core with the other
// records: it depends on nothing but core/base.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace headlight {

// One MLP neuron: blocks.{layer}.mlp.hook_post[neuron].
struct NeuronRef {
    int layer = 0;   // 0-based layer
    int neuron = 0;  // index in d_mlp
    bool operator==(const NeuronRef& o) const { return layer == o.layer && neuron == o.neuron; }
    bool operator<(const NeuronRef& o) const { return layer != o.layer ? layer < o.layer : neuron < o.neuron; }
};
std::string neuronName(const NeuronRef& ref);  // "L3N127"

// A head: flat index layer * n_heads + head, in layer-major order.
std::string headName(int layer, int head);      // "L2H5"

// A head by layer and index within the layer.
struct HeadIndex {
    int layer = 0;  // 0-based layer
    int head = 0;   // 0-based head within the layer
};
int64_t headFlatIndex(const HeadIndex& head, int headsPerLayer);          // layer * H + head
HeadIndex headFromFlatIndex(int64_t flatIndex, int headsPerLayer);        // inverse of headFlatIndex
// Parses "L{layer}H{head}" (decimal, no sign, no spaces); empty if `name` is not of that form.
std::optional<HeadIndex> parseHeadName(const std::string& name);
// Parses "L{a}{kind}{b}" (decimal, no sign, no spaces), e.g. kind 'H' for heads, 'N' for neurons.
std::optional<std::pair<int, int>> parseLayerIndexName(const std::string& name, char kind);
// Parses "L{layer}N{neuron}" (decimal, no sign, no spaces); empty if malformed.
std::optional<NeuronRef> parseNeuronName(const std::string& name);

// Comma-separated lists ("L1H2, L2H0", "L3N5,L3N9"), as --heads / --neurons and the Ablate dialog take
// them; `what` names the option in the one-line error. Heads come back flat (layer * nHeads + head),
// checked against nLayers x nHeads; duplicates are dropped, the order kept.
std::vector<int> parseHeadList(const std::string& text, int nLayers, int nHeads, const std::string& what);
std::vector<NeuronRef> parseNeuronList(const std::string& text, const std::string& what);

}  // namespace headlight
