#include "core/records/names.h"

#include "core/records/neuron.h"

#include <limits>

#include "core/base/error.h"

namespace headlight {

std::string neuronName(const NeuronRef& ref) {
    return "L" + std::to_string(ref.layer) + "N" + std::to_string(ref.neuron);
}

std::string headName(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }

int64_t headFlatIndex(const HeadIndex& head, int headsPerLayer) {
    return static_cast<int64_t>(head.layer) * headsPerLayer + head.head;
}

HeadIndex headFromFlatIndex(int64_t flatIndex, int headsPerLayer) {
    if (headsPerLayer <= 0 || flatIndex < 0)
        throw Error("head index " + std::to_string(flatIndex) + " with " + std::to_string(headsPerLayer) +
                    " heads per layer is invalid");
    return {static_cast<int>(flatIndex / headsPerLayer), static_cast<int>(flatIndex % headsPerLayer)};
}

std::optional<std::pair<int, int>> parseLayerIndexName(const std::string& name, char kind) {
    // L<digits><kind><digits>
    auto digits = [&](std::size_t& i, int& out) {
        const std::size_t start = i;
        int64_t value = 0;
        while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
            value = value * 10 + (name[i] - '0');
            if (value > std::numeric_limits<int>::max()) return false;
            ++i;
        }
        out = static_cast<int>(value);
        return i > start;
    };
    std::size_t i = 0;
    std::pair<int, int> out;
    if (i >= name.size() || name[i++] != 'L' || !digits(i, out.first)) return std::nullopt;
    if (i >= name.size() || name[i++] != kind || !digits(i, out.second)) return std::nullopt;
    if (i != name.size()) return std::nullopt;
    return out;
}

std::optional<HeadIndex> parseHeadName(const std::string& name) {
    const auto parsed = parseLayerIndexName(name, 'H');
    if (!parsed) return std::nullopt;
    return HeadIndex{parsed->first, parsed->second};
}

std::optional<NeuronRef> parseNeuronName(const std::string& name) {
    const auto parsed = parseLayerIndexName(name, 'N');
    if (!parsed) return std::nullopt;
    return NeuronRef{parsed->first, parsed->second};
}

const char* attributionScoreName(AttributionScore score) {
    return score == AttributionScore::GateAware ? "gate_aware" : "up_projection";
}

AttributionScore parseAttributionScore(const std::string& name) {
    if (name == "up_projection" || name == "up") return AttributionScore::UpProjection;
    if (name == "gate_aware" || name == "gate-aware") return AttributionScore::GateAware;
    throw Error("attribution score '" + name + "' is not one of up_projection (up), gate_aware (gate-aware)");
}

}  // namespace headlight
