#include "core/records/names.h"

#include "core/records/ablation.h"
#include "core/records/neuron.h"

#include <algorithm>
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

namespace {

// The non-empty, trimmed entries of a comma-separated list.
std::vector<std::string> listEntries(const std::string& text) {
    std::vector<std::string> out;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        std::size_t end = text.find(',', begin);
        if (end == std::string::npos) end = text.size();
        std::string entry = text.substr(begin, end - begin);
        entry.erase(0, entry.find_first_not_of(" \t"));
        entry.erase(entry.find_last_not_of(" \t") + 1);
        if (!entry.empty()) out.push_back(entry);
        begin = end + 1;
    }
    return out;
}

}  // namespace

std::vector<int> parseHeadList(const std::string& text, int nLayers, int nHeads, const std::string& what) {
    std::vector<int> out;
    for (const std::string& entry : listEntries(text)) {
        const std::optional<HeadIndex> h = parseHeadName(entry);
        if (!h) throw Error(what + ": '" + entry + "' is not a head name like L1H2");
        if (h->layer >= nLayers || h->head >= nHeads)
            throw Error(what + ": head " + entry + " does not exist (the model has " + std::to_string(nLayers) +
                        " layers of " + std::to_string(nHeads) + " heads)");
        const int flat = int(headFlatIndex(*h, nHeads));
        if (std::find(out.begin(), out.end(), flat) == out.end()) out.push_back(flat);
    }
    return out;
}

std::vector<NeuronRef> parseNeuronList(const std::string& text, const std::string& what) {
    std::vector<NeuronRef> out;
    for (const std::string& entry : listEntries(text)) {
        const std::optional<NeuronRef> n = parseNeuronName(entry);
        if (!n) throw Error(what + ": '" + entry + "' is not a neuron name like L3N5");
        if (std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*n);
    }
    return out;
}

const char* ablationModeName(AblationMode mode) {
    switch (mode) {
    case AblationMode::Zero: return "zero";
    case AblationMode::Mean: return "mean";
    case AblationMode::Resample: return "resample";
    case AblationMode::Path: return "path";
    }
    return "zero";
}

AblationMode parseAblationMode(const std::string& name) {
    for (AblationMode m : {AblationMode::Zero, AblationMode::Mean, AblationMode::Resample, AblationMode::Path})
        if (name == ablationModeName(m)) return m;
    throw Error("ablation mode '" + name + "' is not one of zero, mean, resample, path");
}

}  // namespace headlight
