#include "core/analysis/playground.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/analysis/attribution.h"
#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

struct Playground::Impl {
    Transformer model;
    Tokenizer tokenizer;
};

Playground Playground::load(const QString& modelId, const std::string& processing) {
    LoadOptions options;
    options.processing = processing.rfind("none", 0) == 0 ? WeightProcessing::none()
                                                          : WeightProcessing::transformerLensDefaults();
    Transformer model = Transformer::load(modelId, options);
    Tokenizer tokenizer = Tokenizer::fromFolder(resolveModelDir(modelId));
    return fromModel(std::move(model), std::move(tokenizer));
}

Playground Playground::fromModel(Transformer model, Tokenizer tokenizer) {
    return Playground(std::make_shared<const Impl>(Impl{std::move(model), std::move(tokenizer)}));
}

int Playground::nLayers() const { return impl_->model.config().nLayers; }
int Playground::nHeads() const { return impl_->model.config().nHeads; }
int Playground::dMlp() const { return impl_->model.config().dMlp; }

namespace {

std::string postHook(int layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }
std::string layerHook(int layer, const char* name) { return "blocks." + std::to_string(layer) + ".attn." + name; }

struct Pass {
    std::vector<float> activations;  // per token after BOS
    double probability = 0;          // p(token) at the position
    ActivationCache cache;
};

// One forward pass over BOS + tokens: the neuron's activation per token and p(token) at `at` (index into
// the ids); `hooks` may carry interventions and extra captures.
Pass runPass(const Transformer& model, const std::vector<int>& ids, int skip, const NeuronRef& neuron, int at,
             int token, HookSet hooks) {
    hooks.capture(postHook(neuron.layer)).capture("logits");
    Pass p;
    p.cache = model.run(TokenBatch::single(ids), hooks);
    const at::Tensor acts = p.cache.at(postHook(neuron.layer))[0].select(1, neuron.neuron).contiguous();
    p.activations.assign(acts.data_ptr<float>() + skip, acts.data_ptr<float>() + acts.size(0));
    const at::Tensor logits = p.cache.at("logits")[0][at].to(torch::kDouble);
    p.probability = torch::softmax(logits, -1)[token].item<double>();
    return p;
}

// The interventions that switch `heads` off; Mean needs the clean pass's value vectors (captured).
HookSet switchOff(const Transformer& model, const std::vector<int>& heads, HeadSwitchOff mode, const ActivationCache& clean,
                  int skip) {
    const ModelConfig& c = model.config();
    HookSet hooks;
    for (int flat : heads) {
        const int layer = flat / c.nHeads, head = flat % c.nHeads;
        if (mode == HeadSwitchOff::Zero) {
            hooks.zeroHeadValues(layer, head);
            continue;
        }
        const int group = head / std::max(1, c.nHeads / std::max(1, c.nKvHeads));
        const at::Tensor v = clean.at(layerHook(layer, "hook_v"))[0].select(1, group);  // [T, dh]
        const at::Tensor mean = v.slice(0, std::min<int64_t>(skip, v.size(0) - 1)).mean(0);  // over the text's positions
        hooks.edit(layerHook(layer, "hook_z"), [head, mean](const at::Tensor& z, const HookId&) {
            at::Tensor out = z.clone();
            out.select(2, head).copy_(mean.to(z.dtype()).expand({z.size(0), z.size(1), z.size(3)}));
            return out;
        });
    }
    return hooks;
}

}  // namespace

PlaygroundResult Playground::run(const std::string& text, const PlaygroundRequest& q) const {
    torch::InferenceMode guard;
    const Transformer& model = impl_->model;
    const ModelConfig& c = model.config();
    const NeuronRef neuron = q.neuron;
    if (neuron.layer < 0 || neuron.layer >= c.nLayers || neuron.neuron < 0 || neuron.neuron >= c.dMlp)
        throw Error("playground: neuron " + neuronName(neuron) + " is not in this model");
    for (int h : q.offHeads)
        if (h < 0 || h >= c.nLayers * c.nHeads) throw Error("playground: head " + std::to_string(h) + " is not in this model");
    PlaygroundResult r;
    const Encoding enc = impl_->tokenizer.encodeUtf8(text);
    r.tokens = enc.ids;
    const int64_t maxTokens = c.nCtx - 1;
    if (static_cast<int64_t>(r.tokens.size()) > maxTokens) r.tokens.resize(maxTokens);
    if (r.tokens.empty()) return r;
    for (int id : r.tokens) r.tokenTexts.push_back(impl_->tokenizer.tokenText(id).toStdString());
    std::vector<int> withBos;
    const std::optional<int> bos = model.bosTokenId();
    if (bos) withBos.push_back(*bos);
    withBos.insert(withBos.end(), r.tokens.begin(), r.tokens.end());
    const int skip = bos ? 1 : 0;
    const int last = static_cast<int>(r.tokens.size()) - 1;
    r.position = q.position < 0 ? last : std::min(q.position, last);
    r.tokenId = q.tokenId >= 0 ? q.tokenId : computeTokenFacts(model, {neuron}, 1).front().promoted.front().token;
    r.tokenText = impl_->tokenizer.tokenText(r.tokenId).toStdString();

    HookSet captures;
    for (int flat : q.offHeads) captures.capture(layerHook(flat / c.nHeads, "hook_v"));
    Pass clean = runPass(model, withBos, skip, neuron, skip + r.position, r.tokenId, captures);
    r.activations = std::move(clean.activations);
    r.probability = clean.probability;
    if (!q.offHeads.empty()) {
        Pass off = runPass(model, withBos, skip, neuron, skip + r.position, r.tokenId,
                           switchOff(model, q.offHeads, q.mode, clean.cache, skip));
        r.offHeads = q.offHeads;
        r.ablatedActivations = std::move(off.activations);
        r.ablatedProbability = off.probability;
    }

    // Head scores (and the chosen head's look-up) at the position, as the pipeline computes them.
    std::vector<int> prompt(withBos.begin(), withBos.begin() + skip + r.position + 1);
    r.candidateHeads = candidateHeads(neuron.layer, c.nHeads, q.sameLayerHeads);
    const bool lookup = std::find(r.candidateHeads.begin(), r.candidateHeads.end(), q.lookupHead) != r.candidateHeads.end();
    HeadAttribution a = attributeHeadsWithLookups(
        model, {ContextInput{neuron, prompt, 0.f}}, q.sameLayerHeads,
        [&](std::size_t, const std::vector<float>&) { return lookup ? std::vector<int>{q.lookupHead} : std::vector<int>{}; });
    r.headScores = std::move(a.scores.at(0));
    if (lookup && !a.lookups.at(0).empty()) r.lookup = std::move(a.lookups[0][0]);
    return r;
}

PlaygroundResult Playground::run(const std::string& text, const NeuronRef& neuron, int position, bool sameLayerHeads) const {
    PlaygroundRequest q;
    q.neuron = neuron;
    q.position = position;
    q.sameLayerHeads = sameLayerHeads;
    return run(text, q);
}

std::vector<TokenNeuronRow> Playground::neuronsForToken(const std::string& token, const std::vector<int>& layers, int top) const {
    return rankNeuronsForToken(impl_->model, impl_->tokenizer, token, layers, top);
}

TokenFacts Playground::tokenFacts(const NeuronRef& neuron) const {
    TokenFacts f = computeTokenFacts(impl_->model, {neuron}, 10).front();
    for (auto* list : {&f.promoted, &f.suppressed})
        for (TokenValue& t : *list) t.text = impl_->tokenizer.tokenText(t.token).toStdString();
    return f;
}

}  // namespace headlight::analysis
