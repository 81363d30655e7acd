#include "core/analysis/truncation.h"

#include <map>

#include <torch/torch.h>

#include "core/analysis/context_batches.h"
#include "core/base/error.h"

namespace headlight::analysis {

namespace {

// Activation of each row's neuron at the row's last token. Returns one value per row, in row order.
std::vector<float> lastTokenActivations(const Transformer& model, const std::vector<ContextRow>& rows, int64_t batchTokens) {
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
            const ContextRow* r = batch[b];
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
        std::vector<ContextRow> rows;
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
    std::vector<ContextRow> finals;
    for (std::size_t i = 0; i < contexts.size(); ++i) finals.push_back({i, contexts[i].neuron, suffix(i, searches[i].start)});
    const std::vector<float> acts = lastTokenActivations(model, finals, batchTokens);
    std::vector<Truncation> out;
    for (std::size_t i = 0; i < contexts.size(); ++i) out.push_back({searches[i].start + 1, acts[i]});
    return out;
}

std::vector<std::vector<float>> tokenActivations(const Transformer& model, const std::vector<ContextInput>& contexts,
                                                 int64_t batchTokens) {
    torch::InferenceMode guard;
    std::vector<ContextRow> rows;
    for (std::size_t i = 0; i < contexts.size(); ++i) rows.push_back({i, contexts[i].neuron, contexts[i].tokens});
    std::vector<std::vector<float>> out(contexts.size());
    const int skip = model.bosTokenId() ? 1 : 0;  // the callers prepend BOS only where the model has one
    for (const auto& batch : makeBatches(rows, batchTokens)) {
        const std::vector<int> layers = neuronLayers(batch);
        HookSet hooks;
        for (int l : layers) hooks.capture(postHook(l));
        const ActivationCache cache = model.run(toBatch(batch), hooks);
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const ContextRow* r = batch[b];
            const at::Tensor acts = cache.at(postHook(r->neuron.layer))[b].select(1, r->neuron.neuron).contiguous();  // [T]
            const float* p = acts.data_ptr<float>();
            out[r->item].assign(p + skip, p + r->tokens.size());
        }
    }
    return out;
}

}  // namespace headlight::analysis
