#include "core/analysis/playground.h"

#include <algorithm>
#include <cmath>

#include "core/analysis/attribution.h"
#include "core/analysis/truncation.h"
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
    return Playground(std::make_shared<const Impl>(Impl{std::move(model), std::move(tokenizer)}));
}

int Playground::nLayers() const { return impl_->model.config().nLayers; }
int Playground::nHeads() const { return impl_->model.config().nHeads; }
int Playground::dMlp() const { return impl_->model.config().dMlp; }

PlaygroundResult Playground::run(const std::string& text, const NeuronRef& neuron, int position, bool sameLayerHeads) const {
    const Transformer& model = impl_->model;
    if (neuron.layer < 0 || neuron.layer >= model.config().nLayers || neuron.neuron < 0 || neuron.neuron >= model.config().dMlp)
        throw Error("playground: neuron " + neuronName(neuron) + " is not in this model");
    PlaygroundResult r;
    const Encoding enc = impl_->tokenizer.encodeUtf8(text);
    r.tokens = enc.ids;
    const int64_t maxTokens = model.config().nCtx - 1;
    if (static_cast<int64_t>(r.tokens.size()) > maxTokens) r.tokens.resize(maxTokens);
    if (r.tokens.empty()) return r;
    for (int id : r.tokens) r.tokenTexts.push_back(impl_->tokenizer.tokenText(id).toStdString());
    std::vector<int> withBos;
    const std::optional<int> bos = model.bosTokenId();
    if (bos) withBos.push_back(*bos);
    withBos.insert(withBos.end(), r.tokens.begin(), r.tokens.end());
    r.activations = tokenActivations(model, {ContextInput{neuron, withBos, 0.f}}).at(0);
    while (r.activations.size() < r.tokens.size()) r.activations.insert(r.activations.begin(), std::nanf(""));
    const int last = static_cast<int>(r.tokens.size()) - 1;
    r.position = position < 0 ? last : std::min(position, last);
    std::vector<int> prompt(withBos.begin(), withBos.begin() + (bos ? 1 : 0) + r.position + 1);
    r.headScores = attributeHeads(model, {ContextInput{neuron, prompt, 0.f}}, sameLayerHeads).at(0);
    r.candidateHeads = candidateHeads(neuron.layer, model.config().nHeads, sameLayerHeads);
    return r;
}

}  // namespace headlight::analysis
