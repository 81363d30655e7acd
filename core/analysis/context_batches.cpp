#include "core/analysis/context_batches.h"

#include <algorithm>

namespace headlight::analysis {

std::vector<std::vector<const ContextRow*>> makeBatches(const std::vector<ContextRow>& rows, int64_t batchTokens) {
    std::vector<const ContextRow*> order;
    for (const ContextRow& r : rows) order.push_back(&r);
    std::stable_sort(order.begin(), order.end(),
                     [](const ContextRow* a, const ContextRow* b) { return a->tokens.size() < b->tokens.size(); });
    std::vector<std::vector<const ContextRow*>> batches;
    std::vector<const ContextRow*> current;
    for (const ContextRow* r : order) {
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

TokenBatch toBatch(const std::vector<const ContextRow*>& batch) {
    std::vector<std::vector<int>> ids;
    for (const ContextRow* r : batch) ids.push_back(r->tokens);
    return TokenBatch::padded(ids, 0);
}

std::string postHook(int layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }

std::vector<int> neuronLayers(const std::vector<const ContextRow*>& batch) {
    std::vector<int> layers;
    for (const ContextRow* r : batch) layers.push_back(r->neuron.layer);
    std::sort(layers.begin(), layers.end());
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    return layers;
}

}  // namespace headlight::analysis
