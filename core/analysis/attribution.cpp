#include "core/analysis/attribution.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "core/analysis/context_batches.h"
#include "core/analysis/head_activity.h"
#include "core/base/error.h"

namespace headlight::analysis {

namespace {

std::string layerHook(int layer, const char* name) { return "blocks." + std::to_string(layer) + ".attn." + name; }

// The processed weights the attribution reads, fetched once per layer.
class WeightColumns {
public:
    explicit WeightColumns(const Transformer& model) : model_(model) {}
    // W_in[:, neuron] of the neuron's layer (a gated MLP's up projection): [d]
    at::Tensor inColumn(const NeuronRef& neuron) { return matrix(W_in_, neuron.layer, "mlp.W_in").select(1, neuron.neuron); }
    // W_gate[:, neuron] (gated MLPs): [d]
    at::Tensor gateColumn(const NeuronRef& neuron) { return matrix(W_gate_, neuron.layer, "mlp.W_gate").select(1, neuron.neuron); }
    // W_O of a layer: [H, dh, d]
    const at::Tensor& outProjection(int layer) { return matrix(W_O_, layer, "attn.W_O"); }

private:
    const at::Tensor& matrix(std::map<int, at::Tensor>& cache, int layer, const char* name) {
        auto it = cache.find(layer);
        if (it == cache.end()) it = cache.emplace(layer, model_.weight("blocks." + std::to_string(layer) + "." + name)).first;
        return it->second;
    }
    const Transformer& model_;
    std::map<int, at::Tensor> W_in_, W_gate_, W_O_;
};

// act(z) and act'(z) of the MLP's activation function, in double precision.
std::pair<double, double> activationAndSlope(Activation act, double z) {
    constexpr double kSqrt2OverPi = 0.7978845608028654, kInvSqrt2 = 0.7071067811865476, kInvSqrt2Pi = 0.3989422804014327;
    switch (act) {
    case Activation::Silu: {
        const double s = 1.0 / (1.0 + std::exp(-z));
        return {z * s, s * (1.0 + z * (1.0 - s))};
    }
    case Activation::Relu: return {z > 0 ? z : 0.0, z > 0 ? 1.0 : 0.0};
    case Activation::Gelu: {
        const double cdf = 0.5 * (1.0 + std::erf(z * kInvSqrt2));
        return {z * cdf, cdf + z * kInvSqrt2Pi * std::exp(-0.5 * z * z)};
    }
    case Activation::GeluNew: {
        const double inner = kSqrt2OverPi * (z + 0.044715 * z * z * z), t = std::tanh(inner);
        return {0.5 * z * (1.0 + t),
                0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * 0.044715 * z * z)};
    }
    }
    throw Error(std::string("gate-aware attribution: no derivative for activation ") + activationName(act));
}

// The direction each row's head outputs are dotted with ([B, d]): W_in[:, n], or for the gate-aware
// score on a gated MLP the first-order direction at the row's actual activation point.
at::Tensor scoreDirections(const std::vector<const ContextRow*>& batch, const ActivationCache& cache, bool gateAware,
                           WeightColumns& weights, const ModelConfig& config) {
    std::vector<at::Tensor> columns;
    for (std::size_t b = 0; b < batch.size(); ++b) {
        const NeuronRef& n = batch[b]->neuron;
        if (!gateAware) {
            columns.push_back(weights.inColumn(n));
            continue;
        }
        const std::string block = "blocks." + std::to_string(n.layer) + ".";
        const double gate = cache.at(block + "mlp.hook_pre")[int64_t(b)][n.neuron].item<double>();
        const double up = cache.at(block + "mlp.hook_pre_linear")[int64_t(b)][n.neuron].item<double>();
        const double scale = cache.at(block + "ln2.hook_scale")[int64_t(b)][0].item<double>();
        const auto [act, slope] = activationAndSlope(config.act, gate);
        columns.push_back(((weights.gateColumn(n).to(at::kDouble) * (slope * up) + weights.inColumn(n).to(at::kDouble) * act) /
                           scale).to(at::kFloat));
    }
    return torch::stack(columns);
}

// What one batch's pass captured for the look-ups: per layer, the attention row of the last position
// ([B, H, T]) and the value vectors at every position ([B, T, Hkv, dh]).
struct LookupCaptures {
    std::map<int, at::Tensor> pattern, values;
    std::map<int, at::Tensor> postGain;  // with post norms: ln1_post.w / ln1_post.hook_scale per layer, [B, d]
};

// Decomposes head `flatHead`'s score for batch row b (prompt length `length`) over its source positions.
HeadLookup decompose(int flatHead, float score, int64_t b, int64_t length, const at::Tensor& w, const LookupCaptures& caps,
                     WeightColumns& weights, const ModelConfig& config) {
    const int layer = flatHead / config.nHeads, head = flatHead % config.nHeads;
    const int kvHead = head / (config.nHeads / config.nKvHeads);
    // With post norms the head writes through ln1_post (gain folded in, scale frozen), as the score reads it.
    const at::Tensor read = caps.postGain.count(layer) ? w * caps.postGain.at(layer)[b] : w;
    const at::Tensor u = at::mv(weights.outProjection(layer)[head].to(at::kDouble), read.to(at::kDouble));  // W_O[h] w: [dh]
    const at::Tensor v = caps.values.at(layer)[b].narrow(0, 0, length).select(1, kvHead).to(at::kDouble);  // [T, dh]
    const at::Tensor attention = caps.pattern.at(layer)[b][head].narrow(0, 0, length).contiguous();         // [T]
    const at::Tensor contributions = (attention.to(at::kDouble) * at::mv(v, u)).to(at::kFloat).contiguous();
    HeadLookup lookup;
    lookup.head = flatHead;
    lookup.score = score;
    lookup.attention.assign(attention.data_ptr<float>(), attention.data_ptr<float>() + length);
    lookup.contributions.assign(contributions.data_ptr<float>(), contributions.data_ptr<float>() + length);
    return lookup;
}

// Adds to `hooks` what the look-ups of layers 0..lastLayer need. The values are needed at every
// position while the other captures are at the last token only, so they are taken by a pass-through
// edit of hook_v rather than a capture.
void addLookupHooks(HookSet& hooks, int lastLayer, LookupCaptures& caps) {
    for (int l = 0; l <= lastLayer; ++l) {
        hooks.capture(layerHook(l, "hook_pattern"));
        hooks.edit(layerHook(l, "hook_v"), [&caps, l](const at::Tensor& v, const HookId&) {
            caps.values[l] = v.to(at::kFloat);
            return v;
        });
    }
}

}  // namespace

std::vector<int> candidateHeads(int layer, int nHeads, bool sameLayerHeads) {
    std::vector<int> out(static_cast<std::size_t>(candidateHeadCount(layer, nHeads, sameLayerHeads)));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int>(i);
    return out;
}

HeadAttribution attributeHeadsWithLookups(const Transformer& model, const std::vector<ContextInput>& prompts,
                                          bool sameLayerHeads, const LookupSelector& select, int64_t batchTokens,
                                          AttributionScore score) {
    torch::InferenceMode guard;
    const ModelConfig& config = model.config();
    const bool gateAware = score == AttributionScore::GateAware && config.mlp == MlpKind::Gated;
    const int L = config.nLayers, H = config.nHeads;
    std::vector<ContextRow> rows;
    for (std::size_t i = 0; i < prompts.size(); ++i) rows.push_back({i, prompts[i].neuron, prompts[i].tokens});
    HeadAttribution out;
    out.scores.assign(prompts.size(), std::vector<float>(std::size_t(L) * H, std::numeric_limits<float>::quiet_NaN()));
    out.lookups.resize(prompts.size());
    WeightColumns weights(model);
    for (const auto& batch : makeBatches(rows, batchTokens)) {
        int lastLayer = -1;
        for (const ContextRow* r : batch) lastLayer = std::max(lastLayer, sameLayerHeads ? r->neuron.layer : r->neuron.layer - 1);
        if (lastLayer < 0) continue;  // neurons of layer 0 without same-layer heads have no candidates
        HookSet hooks;
        for (int l = 0; l <= lastLayer; ++l) model.captureHeadContributions(hooks, l);
        if (gateAware)
            for (int l : neuronLayers(batch))
                for (const char* hook : {".mlp.hook_pre", ".mlp.hook_pre_linear", ".ln2.hook_scale"})
                    hooks.capture("blocks." + std::to_string(l) + hook);
        LookupCaptures caps;
        if (select) addLookupHooks(hooks, lastLayer, caps);
        hooks.atLastTokens();
        const ActivationCache cache = model.run(toBatch(batch), hooks);
        if (select)
            for (int l = 0; l <= lastLayer; ++l) {
                caps.pattern[l] = cache.at(layerHook(l, "hook_pattern"));
                if (config.hasPostNorms()) {
                    const std::string block = "blocks." + std::to_string(l) + ".";
                    caps.postGain[l] = model.weight(block + "ln1_post.w").view({1, -1}) / cache.at(block + "ln1_post.hook_scale");
                }
            }
        const at::Tensor w = scoreDirections(batch, cache, gateAware, weights, config).unsqueeze(1);  // [B, 1, d]
        for (int l = 0; l <= lastLayer; ++l) {
            // [B, H, d] hook_result, or with post norms each head's share of the normed attention output
            const at::Tensor scores = (model.headContributions(cache, l) * w).sum(-1).contiguous();  // [B, H]
            for (std::size_t b = 0; b < batch.size(); ++b) {
                const ContextRow* r = batch[b];
                if (l > (sameLayerHeads ? r->neuron.layer : r->neuron.layer - 1)) continue;
                for (int h = 0; h < H; ++h) out.scores[r->item][std::size_t(l) * H + h] = scores[b][h].item<float>();
            }
        }
        if (!select) continue;
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const ContextRow* r = batch[b];
            std::vector<int> heads = select(r->item, out.scores[r->item]);
            std::sort(heads.begin(), heads.end());
            for (int head : heads) {
                if (head < 0 || head >= L * H || std::isnan(out.scores[r->item][std::size_t(head)])) continue;  // not a candidate
                out.lookups[r->item].push_back(decompose(head, out.scores[r->item][std::size_t(head)], int64_t(b),
                                                         int64_t(r->tokens.size()), w[int64_t(b)][0], caps, weights, config));
            }
        }
    }
    return out;
}

std::vector<std::vector<float>> attributeHeads(const Transformer& model, const std::vector<ContextInput>& prompts,
                                               bool sameLayerHeads, int64_t batchTokens) {
    return attributeHeadsWithLookups(model, prompts, sameLayerHeads, {}, batchTokens).scores;
}

}  // namespace headlight::analysis
