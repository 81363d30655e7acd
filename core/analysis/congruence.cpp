#include "core/analysis/congruence.h"

#include <algorithm>
#include <map>

#include <torch/torch.h>

#include "core/base/error.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

namespace {

void checkLayer(const Transformer& model, int layer) {
    if (layer < 0 || layer >= model.config().nLayers)
        throw Error("layer " + std::to_string(layer) + " does not exist (the model has " +
                    std::to_string(model.config().nLayers) + " layers)");
}

}  // namespace

LayerCongruence computeLayerCongruence(const Transformer& model, int layer) {
    checkLayer(model, layer);
    torch::InferenceMode guard;
    const at::Tensor W_out = model.residualWOut(layer).contiguous();  // [m, d] (post norms: gain folded)
    const at::Tensor W_U = model.weight("W_U");                                                            // [d, V]
    const int64_t m = W_out.size(0), V = W_U.size(1);
    // The product [m, V] can be large (3072 x 50257 floats = 617 MB for GPT-2 small): walk the vocabulary in chunks.
    const int64_t chunk = 8192;
    at::Tensor best = torch::full({m}, -std::numeric_limits<float>::infinity());
    at::Tensor bestIndex = torch::zeros({m}, torch::kLong);
    for (int64_t v0 = 0; v0 < V; v0 += chunk) {
        const int64_t v1 = std::min(V, v0 + chunk);
        const at::Tensor c = torch::matmul(W_out, W_U.slice(1, v0, v1));  // [m, chunk]
        const auto [value, index] = c.max(1);
        const at::Tensor better = value > best;                            // strict: ties keep the lower id
        best = torch::where(better, value, best);
        bestIndex = torch::where(better, index + v0, bestIndex);
    }
    LayerCongruence out;
    out.layer = layer;
    out.maxValue.assign(best.data_ptr<float>(), best.data_ptr<float>() + m);
    const at::Tensor idx = bestIndex.to(torch::kInt).contiguous();
    out.argmaxToken.assign(idx.data_ptr<int>(), idx.data_ptr<int>() + m);
    return out;
}

std::vector<LayerCongruence> computeCongruence(const Transformer& model, const std::vector<int>& layers,
                                               const Progress& progress) {
    std::vector<LayerCongruence> out;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        progress.throwIfCancelled();
        progress.report(static_cast<int64_t>(i), static_cast<int64_t>(layers.size()),
                        "congruence of layer " + std::to_string(layers[i]));
        out.push_back(computeLayerCongruence(model, layers[i]));
    }
    progress.report(static_cast<int64_t>(layers.size()), static_cast<int64_t>(layers.size()), "congruence done");
    return out;
}

namespace {

// Running top-k of the rows of [m, V] congruences over vocabulary chunks: values and token ids [m, k],
// best first. `sign` +1 keeps the largest, -1 the smallest. Ties keep the lower token id (stable sort).
struct RunningTopK {
    at::Tensor values, ids;
    void add(const at::Tensor& chunk, int64_t v0, int k, float sign) {
        const at::Tensor ids0 = torch::arange(v0, v0 + chunk.size(1), torch::kLong).expand({chunk.size(0), chunk.size(1)});
        at::Tensor v = values.defined() ? torch::cat({values, chunk * sign}, 1) : chunk * sign;
        at::Tensor i = ids.defined() ? torch::cat({ids, ids0}, 1) : ids0;
        // Order by (value desc, id asc): ids are already ascending along each row, so a stable sort suffices.
        const auto sorted = torch::sort(v, /*stable=*/true, /*dim=*/1, /*descending=*/true);
        const int64_t keep = std::min<int64_t>(k, v.size(1));
        values = std::get<0>(sorted).slice(1, 0, keep).contiguous();
        ids = i.gather(1, std::get<1>(sorted).slice(1, 0, keep)).contiguous();
    }
    std::vector<TokenValue> row(int64_t r, float sign) const {
        std::vector<TokenValue> out;
        for (int64_t j = 0; j < values.size(1); ++j)
            out.push_back({static_cast<int>(ids[r][j].item<int64_t>()), sign * values[r][j].item<float>(), {}});
        return out;
    }
};

}  // namespace

std::vector<TokenFacts> computeTokenFacts(const Transformer& model, const std::vector<NeuronRef>& neurons, int k) {
    torch::InferenceMode guard;
    std::vector<TokenFacts> out(neurons.size());
    std::map<int, std::vector<std::size_t>> byLayer;
    for (std::size_t i = 0; i < neurons.size(); ++i) {
        checkLayer(model, neurons[i].layer);
        if (neurons[i].neuron < 0 || neurons[i].neuron >= model.config().dMlp)
            throw Error(neuronName(neurons[i]) + " is outside d_mlp = " + std::to_string(model.config().dMlp));
        byLayer[neurons[i].layer].push_back(i);
    }
    const at::Tensor W_U = model.weight("W_U");  // [d, V]
    for (const auto& [layer, slots] : byLayer) {
        std::vector<int64_t> rows;
        for (std::size_t i : slots) rows.push_back(neurons[i].neuron);
        const at::Tensor W = model.residualWOut(layer).index_select(0, torch::tensor(rows, torch::kLong));  // [m, d]
        RunningTopK top, bottom;
        for (int64_t v0 = 0; v0 < W_U.size(1); v0 += 8192) {
            const at::Tensor c = torch::matmul(W, W_U.slice(1, v0, std::min(W_U.size(1), v0 + 8192)));
            top.add(c, v0, k, 1.f);
            bottom.add(c, v0, k, -1.f);
        }
        for (std::size_t r = 0; r < slots.size(); ++r) {
            out[slots[r]].promoted = top.row(int64_t(r), 1.f);
            out[slots[r]].suppressed = bottom.row(int64_t(r), -1.f);
        }
    }
    return out;
}

std::vector<TokenNeuron> neuronsForToken(const Transformer& model, int tokenId, const std::vector<int>& layers,
                                         int count) {
    torch::InferenceMode guard;
    const at::Tensor W_U = model.weight("W_U");
    if (tokenId < 0 || tokenId >= W_U.size(1))
        throw Error("token id " + std::to_string(tokenId) + " is outside the vocabulary");
    const at::Tensor column = W_U.select(1, tokenId).contiguous();  // [d]
    std::vector<TokenNeuron> all;
    for (int layer : layers) {
        checkLayer(model, layer);
        const at::Tensor c = torch::matmul(model.residualWOut(layer), column)
                                 .contiguous();  // [m]
        for (int64_t n = 0; n < c.size(0); ++n)
            all.push_back({{layer, static_cast<int>(n)}, c.data_ptr<float>()[n]});
    }
    std::stable_sort(all.begin(), all.end(), [](const TokenNeuron& a, const TokenNeuron& b) {
        return a.congruence > b.congruence;
    });
    if (count >= 0 && static_cast<int>(all.size()) > count) all.resize(count);
    return all;
}

std::vector<TokenNeuronRow> rankNeuronsForToken(const Transformer& model, const Tokenizer& tokenizer,
                                                const std::string& token, const std::vector<int>& layers, int top,
                                                const Progress& progress) {
    const std::vector<int> ids = tokenizer.encodeUtf8(token).ids;
    if (ids.size() != 1)
        throw Error("token '" + token + "' is " + std::to_string(ids.size()) + " tokens of this tokenizer, not one");
    std::map<int, LayerCongruence> byLayer;
    for (LayerCongruence& lc : computeCongruence(model, layers, progress)) byLayer.emplace(lc.layer, std::move(lc));
    std::vector<TokenNeuronRow> rows;
    for (const TokenNeuron& t : neuronsForToken(model, ids.front(), layers, top)) {
        const LayerCongruence& lc = byLayer.at(t.ref.layer);
        TokenNeuronRow row;
        row.neuron.ref = t.ref;
        row.neuron.tokenId = lc.argmaxToken[std::size_t(t.ref.neuron)];
        row.neuron.token = tokenizer.tokenText(row.neuron.tokenId).toStdString();
        row.neuron.congruence = lc.maxValue[std::size_t(t.ref.neuron)];
        row.tokenCongruence = t.congruence;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace headlight::analysis
