#include "core/analysis/ablation.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "core/analysis/statistics.h"
#include "core/base/error.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

namespace {

// Probability of `token` at each prompt's last position, optionally with head (layer, head)'s values zeroed.
std::vector<double> lastTokenProbabilities(const Transformer& model, const std::vector<std::vector<int>>& prompts,
                                           int token, int layer, int head, int64_t batchTokens) {
    std::vector<double> out;
    std::size_t i = 0;
    while (i < prompts.size()) {
        // Batches of about batchTokens padded tokens, in the given order.
        std::size_t j = i;
        std::size_t longest = 0;
        while (j < prompts.size() &&
               (j == i || (j - i + 1) * std::max(longest, prompts[j].size()) <= static_cast<std::size_t>(batchTokens))) {
            longest = std::max(longest, prompts[j].size());
            ++j;
        }
        HookSet hooks;
        hooks.capture("logits").atLastTokens();
        if (layer >= 0) hooks.zeroHeadValues(layer, head);
        const TokenBatch batch =
            TokenBatch::padded(std::vector<std::vector<int>>(prompts.begin() + i, prompts.begin() + j), 0);
        const at::Tensor logits = model.run(batch, hooks).at("logits").to(torch::kDouble);  // [B, V]
        const at::Tensor probs = torch::softmax(logits, -1).select(1, token).contiguous();
        for (int64_t b = 0; b < probs.size(0); ++b) out.push_back(probs.data_ptr<double>()[b]);
        i = j;
    }
    return out;
}

}  // namespace

std::vector<AblationResult> runHeadAblations(const Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<NeuronResult>& neurons,
                                             int64_t batchTokens, const Progress& progress) {
    torch::InferenceMode guard;
    const int H = model.config().nHeads;
    const std::optional<int> bos = model.bosTokenId();
    std::vector<AblationResult> out;
    int64_t total = 0, done = 0;
    for (const NeuronResult& n : neurons) total += static_cast<int64_t>(n.relevantHeads.size());
    for (const NeuronResult& n : neurons) {
        if (n.relevantHeads.empty()) continue;
        // The neuron's token as the paper measures it: the first BPE id of the token string.
        const Encoding enc = tokenizer.encodeUtf8(n.neuron.token);
        const int token = enc.ids.empty() ? n.neuron.tokenId : enc.ids.front();
        std::vector<std::vector<int>> prompts;
        std::vector<const NeuronContext*> contexts;
        for (const NeuronContext& c : n.contexts) {
            if (!c.kept) continue;
            std::vector<int> prompt;
            if (bos) prompt.push_back(*bos);
            prompt.insert(prompt.end(), c.tokens.begin() + (c.start - 1), c.tokens.end());
            prompts.push_back(std::move(prompt));
            contexts.push_back(&c);
        }
        if (prompts.empty()) continue;
        const std::vector<double> clean = lastTokenProbabilities(model, prompts, token, -1, 0, batchTokens);
        for (int flat : n.relevantHeads) {
            progress.throwIfCancelled();
            progress.report(done++, total, "ablate " + neuronName(n.neuron.ref) + " " + headName(flat / H, flat % H));
            const std::vector<double> ablated =
                lastTokenProbabilities(model, prompts, token, flat / H, flat % H, batchTokens);
            AblationResult r;
            r.neuron = n.neuron.ref;
            r.head = flat;
            std::vector<double> active, inactive;
            for (std::size_t k = 0; k < prompts.size(); ++k) {
                const double drop = clean[k] - ablated[k];
                const bool isActive = contexts[k]->active.size() > std::size_t(flat) && contexts[k]->active[flat];
                (isActive ? active : inactive).push_back(drop);
                (isActive ? r.dropActive : r.dropInactive).push_back(static_cast<float>(drop));
            }
            if (!active.empty() && !inactive.empty()) {
                const KsResult ks = ksTwoSample(active, inactive);
                r.ksStatistic = ks.statistic;
                r.ksPValue = ks.pValue;
            } else {
                r.ksStatistic = r.ksPValue = std::numeric_limits<double>::quiet_NaN();
            }
            out.push_back(std::move(r));
        }
    }
    progress.report(total, total, "ablation done");
    return out;
}

}  // namespace headlight::analysis
