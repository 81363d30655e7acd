#include "core/analysis/context_analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "core/analysis/head_activity.h"
#include "core/base/error.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

namespace {

struct Row {
    std::size_t item;          // which context
    NeuronRef neuron;          // whose activation
    std::vector<int> tokens;   // what to run
};

// Splits rows into batches of about `batchTokens` padded tokens (rows sorted by length first).
std::vector<std::vector<const Row*>> makeBatches(const std::vector<Row>& rows, int64_t batchTokens) {
    std::vector<const Row*> order;
    for (const Row& r : rows) order.push_back(&r);
    std::stable_sort(order.begin(), order.end(),
                     [](const Row* a, const Row* b) { return a->tokens.size() < b->tokens.size(); });
    std::vector<std::vector<const Row*>> batches;
    std::vector<const Row*> current;
    for (const Row* r : order) {
        const int64_t longest = static_cast<int64_t>(r->tokens.size());  // sorted: the newest is the longest
        if (!current.empty() && int64_t(current.size() + 1) * longest > batchTokens) {
            batches.push_back(std::move(current));
            current.clear();
        }
        current.push_back(r);
    }
    if (!current.empty()) batches.push_back(std::move(current));
    return batches;
}

TokenBatch toBatch(const std::vector<const Row*>& batch) {
    std::vector<std::vector<int>> ids;
    for (const Row* r : batch) ids.push_back(r->tokens);
    return TokenBatch::padded(ids, 0);
}

std::string postHook(int layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }

// The distinct layers of the batch rows' neurons, ascending.
std::vector<int> neuronLayers(const std::vector<const Row*>& batch) {
    std::vector<int> layers;
    for (const Row* r : batch) layers.push_back(r->neuron.layer);
    std::sort(layers.begin(), layers.end());
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    return layers;
}

// Activation of each row's neuron at the row's last token. Returns one value per row, in row order.
std::vector<float> lastTokenActivations(const Transformer& model, const std::vector<Row>& rows, int64_t batchTokens) {
    std::vector<float> out(rows.size(), 0.f);
    for (const auto& batch : makeBatches(rows, batchTokens)) {
        const std::vector<int> layers = neuronLayers(batch);
        HookSet hooks;
        for (int l : layers) hooks.capture(postHook(l));
        hooks.atLastTokens();
        const ActivationCache cache = model.run(toBatch(batch), hooks);
        std::map<int, at::Tensor> post;  // layer -> [B, m]
        for (int l : layers) post[l] = cache.at(postHook(l)).contiguous();
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const Row* r = batch[b];
            out[static_cast<std::size_t>(r - rows.data())] = post[r->neuron.layer][b][r->neuron.neuron].item<float>();
        }
    }
    return out;
}

}  // namespace

std::vector<Truncation> truncateContexts(const Transformer& model, const std::vector<ContextInput>& contexts,
                                         double ratio, int64_t batchTokens, const Progress& progress) {
    torch::InferenceMode guard;
    struct Search {
        int start, end, mid;
    };
    std::vector<Search> searches;
    for (const ContextInput& c : contexts) {
        if (c.tokens.size() < 2) throw Error("truncation: a context needs at least one token after BOS");
        const int len = static_cast<int>(c.tokens.size()) - 1;  // tokens without BOS
        searches.push_back({0, len - 1, (len - 1) / 2});
    }
    // Context c without BOS is tokens[1..]; its suffix from index i is tokens[i + 1 ..].
    auto suffix = [&](std::size_t i, int from) {
        const std::vector<int>& t = contexts[i].tokens;
        return std::vector<int>(t.begin() + 1 + from, t.end());
    };
    for (int round = 0;; ++round) {
        progress.throwIfCancelled();
        std::vector<Row> rows;
        for (std::size_t i = 0; i < contexts.size(); ++i)
            if (searches[i].start != searches[i].mid) rows.push_back({i, contexts[i].neuron, suffix(i, searches[i].mid)});
        if (rows.empty()) break;
        progress.report(round, round + 1, "truncation round " + std::to_string(round + 1) + ": " +
                                              std::to_string(rows.size()) + " contexts");
        const std::vector<float> acts = lastTokenActivations(model, rows, batchTokens);
        for (std::size_t r = 0; r < rows.size(); ++r) {
            Search& s = searches[rows[r].item];
            if (acts[r] > ratio * contexts[rows[r].item].maxActivation)
                s.start = s.mid;
            else
                s.end = s.mid;
            s.mid = (s.start + s.end) / 2;
        }
    }
    // The activation of each final prompt, run without BOS.
    std::vector<Row> finals;
    for (std::size_t i = 0; i < contexts.size(); ++i) finals.push_back({i, contexts[i].neuron, suffix(i, searches[i].start)});
    const std::vector<float> acts = lastTokenActivations(model, finals, batchTokens);
    std::vector<Truncation> out;
    for (std::size_t i = 0; i < contexts.size(); ++i) out.push_back({searches[i].start + 1, acts[i]});
    return out;
}

std::vector<std::vector<float>> tokenActivations(const Transformer& model, const std::vector<ContextInput>& contexts,
                                                 int64_t batchTokens) {
    torch::InferenceMode guard;
    std::vector<Row> rows;
    for (std::size_t i = 0; i < contexts.size(); ++i) rows.push_back({i, contexts[i].neuron, contexts[i].tokens});
    std::vector<std::vector<float>> out(contexts.size());
    const int skip = model.bosTokenId() ? 1 : 0;  // the callers prepend BOS only where the model has one
    for (const auto& batch : makeBatches(rows, batchTokens)) {
        const std::vector<int> layers = neuronLayers(batch);
        HookSet hooks;
        for (int l : layers) hooks.capture(postHook(l));
        const ActivationCache cache = model.run(toBatch(batch), hooks);
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const Row* r = batch[b];
            const at::Tensor acts = cache.at(postHook(r->neuron.layer))[b].select(1, r->neuron.neuron).contiguous();  // [T]
            const float* p = acts.data_ptr<float>();
            out[r->item].assign(p + skip, p + r->tokens.size());
        }
    }
    return out;
}

std::vector<int> candidateHeads(int layer, int nHeads, bool sameLayerHeads) {
    std::vector<int> out(static_cast<std::size_t>(candidateHeadCount(layer, nHeads, sameLayerHeads)));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int>(i);
    return out;
}

std::vector<std::vector<float>> attributeHeads(const Transformer& model, const std::vector<ContextInput>& prompts,
                                               bool sameLayerHeads, int64_t batchTokens) {
    torch::InferenceMode guard;
    const int L = model.config().nLayers, H = model.config().nHeads;
    std::vector<Row> rows;
    for (std::size_t i = 0; i < prompts.size(); ++i) rows.push_back({i, prompts[i].neuron, prompts[i].tokens});
    std::vector<std::vector<float>> out(prompts.size(),
                                        std::vector<float>(std::size_t(L) * H, std::numeric_limits<float>::quiet_NaN()));
    std::map<int, at::Tensor> W_in;  // layer -> [d, m]
    for (const auto& batch : makeBatches(rows, batchTokens)) {
        int lastLayer = -1;
        for (const Row* r : batch) lastLayer = std::max(lastLayer, sameLayerHeads ? r->neuron.layer : r->neuron.layer - 1);
        if (lastLayer < 0) continue;  // neurons of layer 0 without same-layer heads have no candidates
        HookSet hooks;
        for (int l = 0; l <= lastLayer; ++l) model.captureHeadContributions(hooks, l);
        hooks.atLastTokens();
        const ActivationCache cache = model.run(toBatch(batch), hooks);
        // w[b] = W_in[layer_b][:, n_b]  ->  [B, d]
        std::vector<at::Tensor> columns;
        for (const Row* r : batch) {
            auto it = W_in.find(r->neuron.layer);
            if (it == W_in.end())
                it = W_in.emplace(r->neuron.layer, model.weight("blocks." + std::to_string(r->neuron.layer) + ".mlp.W_in")).first;
            columns.push_back(it->second.select(1, r->neuron.neuron));
        }
        const at::Tensor w = torch::stack(columns).unsqueeze(1);  // [B, 1, d]
        for (int l = 0; l <= lastLayer; ++l) {
            const at::Tensor result = model.headContributions(cache, l);  // [B, H, d] hook_result (post norms: as written)
            const at::Tensor scores = (result * w).sum(-1).contiguous();                                // [B, H]
            for (std::size_t b = 0; b < batch.size(); ++b) {
                const Row* r = batch[b];
                const int rowLast = sameLayerHeads ? r->neuron.layer : r->neuron.layer - 1;
                if (l > rowLast) continue;
                for (int h = 0; h < H; ++h) out[r->item][std::size_t(l) * H + h] = scores[b][h].item<float>();
            }
        }
    }
    return out;
}

}  // namespace headlight::analysis
