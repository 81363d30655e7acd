#include "core/analysis/congruence.h"

#include <algorithm>

#include <torch/torch.h>

#include "core/base/error.h"
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

}  // namespace headlight::analysis
