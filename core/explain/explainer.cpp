#include "core/explain/explainer.h"

#include <algorithm>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace headlight::explain {

std::vector<ExplainTarget> relevantTargets(const Study& study) {
    std::vector<ExplainTarget> out;
    for (std::size_t i = 0; i < study.neurons.size(); ++i) {
        std::vector<int> heads = study.neurons[i].relevantHeads;
        std::sort(heads.begin(), heads.end());
        for (int h : heads) out.push_back({static_cast<int>(i), h});
    }
    return out;
}

std::vector<const NeuronContext*> keptContexts(const NeuronResult& neuron) {
    std::vector<const NeuronContext*> out;
    for (const NeuronContext& c : neuron.contexts)
        if (c.kept) out.push_back(&c);
    std::stable_sort(out.begin(), out.end(), [](const NeuronContext* a, const NeuronContext* b) {
        if (a->activation != b->activation) return a->activation > b->activation;
        return a->doc < b->doc;
    });
    return out;
}

std::string showContext(const std::string& text, const std::string& token) {
    std::string s = text + token;
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

namespace {

bool isActive(const NeuronContext& c, int head) {
    return head >= 0 && head < static_cast<int>(c.active.size()) && c.active[head] != 0;
}

std::string bulletList(const std::vector<std::string>& items) {
    if (items.empty()) return "(none)";
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : "\n") + std::string("- ") + s;
    return out;
}

}  // namespace

std::map<std::string, std::string> explainerValues(const Study& study, const NeuronResult& neuron, int head) {
    std::vector<std::string> positive, negative;
    for (const NeuronContext* c : keptContexts(neuron))
        (isActive(*c, head) ? positive : negative).push_back(showContext(c->text, neuron.neuron.token));
    const int nHeads = std::max(1, study.nHeads);
    return {{"token", neuron.neuron.token},
            {"positive_examples", bulletList(positive)},
            {"negative_examples", bulletList(negative)},
            {"neuron", neuronName(neuron.neuron.ref)},
            {"head", headName(head / nHeads, head % nHeads)}};
}

llm::ChatRequest explainerRequest(const Study& study, const NeuronResult& neuron, int head,
                                  const ExplainerSettings& settings) {
    llm::ChatRequest r;
    r.messages = settings.promptTemplate.renderMessages(explainerValues(study, neuron, head));
    r.maxTokens = settings.maxTokens;
    r.temperature = settings.temperature;
    return r;
}

std::string promptText(const std::vector<llm::ChatMessage>& messages) {
    std::string out;
    for (const llm::ChatMessage& m : messages) {
        if (!out.empty()) out += "\n";
        out += "### " + m.role + "\n" + m.content + "\n";
    }
    return out;
}

std::vector<HeadExplanation> explainWithLlm(const Study& study, const std::vector<ExplainTarget>& targets,
                                            llm::LlmClient& client, const ExplainerSettings& settings,
                                            const Progress& progress) {
    std::vector<llm::ChatRequest> requests;
    requests.reserve(targets.size());
    for (const ExplainTarget& t : targets)
        requests.push_back(explainerRequest(study, study.neurons.at(t.neuronIndex), t.head, settings));
    const std::vector<llm::ChatOutcome> outcomes = client.runAll(requests, progress, "explain");
    std::vector<HeadExplanation> out;
    out.reserve(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const NeuronResult& n = study.neurons[targets[i].neuronIndex];
        HeadExplanation e;
        e.neuron = n.neuron.ref;
        e.baseline = n.neuron.baseline;
        e.head = targets[i].head;
        e.source = "llm";
        e.model = client.endpoint().model;
        e.endpoint = client.endpoint().chatUrl();
        e.prompt = promptText(requests[i].messages);
        e.parameters = llm::parametersJson(requests[i]);
        const llm::ChatOutcome& o = outcomes[i];
        if (o.ok()) {
            if (!o.response.parameters.empty()) e.parameters = o.response.parameters;
            e.reply = o.response.reasoning.empty() ? o.response.content
                                                   : "<think>" + o.response.reasoning + "</think>\n" + o.response.content;
            e.explanation = llm::stripReasoning(o.response.content);
            e.promptTokens = o.response.usage.promptTokens;
            e.completionTokens = o.response.usage.completionTokens;
            e.cost = o.response.cost;
            if (e.explanation.empty()) e.error = "the reply holds no explanation (empty after removing reasoning)";
        } else {
            e.error = o.errorMessage();
        }
        out.push_back(std::move(e));
    }
    return out;
}

void mergeExplanations(Study& study, std::vector<HeadExplanation> records) {
    auto same = [](const HeadExplanation& a, const HeadExplanation& b) {
        return a.neuron == b.neuron && a.baseline == b.baseline && a.head == b.head && a.source == b.source;
    };
    std::vector<HeadExplanation> merged;
    for (HeadExplanation& old : study.explanations) {
        const auto it = std::find_if(records.begin(), records.end(), [&](const HeadExplanation& r) { return same(r, old); });
        if (it == records.end()) {
            merged.push_back(std::move(old));
            continue;
        }
        // The same explanation again (e.g. from the cache): its score still holds.
        if (it->tests.empty() && it->model == old.model && it->explanation == old.explanation) {
            it->classifierModel = old.classifierModel;
            it->classifierEndpoint = old.classifierEndpoint;
            it->classifierParameters = old.classifierParameters;
            it->tests = std::move(old.tests);
            it->tp = old.tp;
            it->fn = old.fn;
            it->fp = old.fp;
            it->tn = old.tn;
            it->invalid = old.invalid;
            it->score = old.score;
            it->classifierPromptTokens = old.classifierPromptTokens;
            it->classifierCompletionTokens = old.classifierCompletionTokens;
            it->classifierCost = old.classifierCost;
        }
    }
    for (HeadExplanation& r : records) merged.push_back(std::move(r));
    // Order: neuron as in the study, then head, then source.
    std::map<std::pair<NeuronRef, bool>, std::size_t> position;
    for (std::size_t i = 0; i < study.neurons.size(); ++i)
        position.emplace(std::make_pair(study.neurons[i].neuron.ref, study.neurons[i].neuron.baseline), i);
    auto neuronOrder = [&](const HeadExplanation& e) {
        const auto it = position.find({e.neuron, e.baseline});
        return it == position.end() ? study.neurons.size() : it->second;
    };
    std::vector<std::pair<std::size_t, std::size_t>> order;  // (neuron order, index)
    for (std::size_t i = 0; i < merged.size(); ++i) order.push_back({neuronOrder(merged[i]), i});
    std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
        const HeadExplanation& x = merged[a.second];
        const HeadExplanation& y = merged[b.second];
        return std::tie(a.first, x.head, x.source) < std::tie(b.first, y.head, y.source);
    });
    std::vector<HeadExplanation> sorted;
    sorted.reserve(merged.size());
    for (const auto& o : order) sorted.push_back(std::move(merged[o.second]));
    study.explanations = std::move(sorted);
}

}  // namespace headlight::explain
