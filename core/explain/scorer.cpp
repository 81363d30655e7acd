#include "core/explain/scorer.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/explain/baseline.h"
#include "core/explain/explainer.h"

namespace headlight::explain {

std::vector<ExplanationTest> selectTests(const std::vector<NeuronContext>& heldOut, int head, int testsPerHead) {
    std::vector<const NeuronContext*> order;
    for (const NeuronContext& c : heldOut)
        if (c.kept) order.push_back(&c);
    std::stable_sort(order.begin(), order.end(), [](const NeuronContext* a, const NeuronContext* b) {
        if (a->activation != b->activation) return a->activation > b->activation;
        return a->doc < b->doc;
    });
    std::vector<ExplanationTest> out;
    for (const NeuronContext* c : order) {
        if (static_cast<int>(out.size()) >= testsPerHead) break;
        ExplanationTest t;
        t.doc = c->docLine;
        t.docIndex = c->doc;
        t.text = c->text;
        t.activation = c->activation;
        t.label = head >= 0 && head < static_cast<int>(c->active.size()) && c->active[head] != 0;
        out.push_back(std::move(t));
    }
    return out;
}

void tally(HeadExplanation& e) {
    analysis::ConfusionMatrix m;
    bool failed = false;
    for (const ExplanationTest& t : e.tests) {
        if (!t.error.empty()) {
            failed = true;  // no answer: neither a prediction nor an invalid reply
            continue;
        }
        m.add(t.label, t.predicted);
    }
    e.tp = m.tp;
    e.fn = m.fn;
    e.fp = m.fp;
    e.tn = m.tn;
    e.invalid = m.invalid;
    e.score = failed ? std::nullopt : m.balancedAccuracy();  // a partial score would look like a result
}

llm::ChatRequest classifierRequest(const HeadExplanation& e, const std::string& token, const Study& study,
                                   const ExplanationTest& test, const ScorerSettings& settings) {
    const int nHeads = std::max(1, study.nHeads);
    llm::ChatRequest r;
    r.messages = settings.promptTemplate.renderMessages({{"token", token},
                                                         {"explanation", e.explanation},
                                                         {"context", showContext(test.text, token)},
                                                         {"neuron", neuronName(e.neuron)},
                                                         {"head", headName(e.head / nHeads, e.head % nHeads)}});
    r.maxTokens = settings.maxTokens;
    r.temperature = settings.temperature;
    return r;
}

namespace {

using NeuronKey = std::pair<NeuronRef, bool>;

std::map<NeuronKey, const NeuronResult*> indexNeurons(const std::vector<NeuronResult>& neurons) {
    std::map<NeuronKey, const NeuronResult*> out;
    for (const NeuronResult& n : neurons) out.emplace(NeuronKey{n.neuron.ref, n.neuron.baseline}, &n);
    return out;
}

}  // namespace

void attachTests(Study& study, const std::vector<NeuronResult>& heldOut, int testsPerHead, const std::string& source) {
    const auto byNeuron = indexNeurons(heldOut);
    for (HeadExplanation& e : study.explanations) {
        if (!source.empty() && e.source != source) continue;
        const auto it = byNeuron.find({e.neuron, e.baseline});
        e.tests = it == byNeuron.end() ? std::vector<ExplanationTest>{} : selectTests(it->second->contexts, e.head, testsPerHead);
        e.classifierModel.clear();
        e.classifierEndpoint.clear();
        e.classifierParameters.clear();
        e.classifierPromptTokens = e.classifierCompletionTokens = 0;
        e.classifierCost = 0;
        tally(e);
    }
}

int64_t scoreWithLlm(Study& study, llm::LlmClient& classifier, const ScorerSettings& settings, const Progress& progress,
                     std::vector<std::size_t> indices) {
    if (indices.empty())
        for (std::size_t i = 0; i < study.explanations.size(); ++i)
            if (study.explanations[i].source == "llm" && !study.explanations[i].explanation.empty()) indices.push_back(i);
    const auto byNeuron = indexNeurons(study.neurons);
    std::vector<llm::ChatRequest> requests;
    std::vector<std::pair<std::size_t, std::size_t>> where;  // (explanation, test)
    std::vector<std::string> parameters(indices.size());
    for (std::size_t k = 0; k < indices.size(); ++k) {
        HeadExplanation& e = study.explanations.at(indices[k]);
        const auto it = byNeuron.find({e.neuron, e.baseline});
        const std::string token = it == byNeuron.end() ? std::string() : it->second->neuron.token;
        for (std::size_t t = 0; t < e.tests.size(); ++t) {
            requests.push_back(classifierRequest(e, token, study, e.tests[t], settings));
            where.push_back({indices[k], t});
        }
    }
    const std::vector<llm::ChatOutcome> outcomes = classifier.runAll(requests, progress, "score");
    int64_t failed = 0;
    for (std::size_t k : indices) {
        HeadExplanation& e = study.explanations[k];
        e.classifierModel = classifier.endpoint().model;
        e.classifierEndpoint = classifier.endpoint().chatUrl();
        llm::ChatRequest shape;
        shape.maxTokens = settings.maxTokens;
        shape.temperature = settings.temperature;
        e.classifierParameters = llm::parametersJson(shape);  // replaced below by what was sent
        e.classifierPromptTokens = e.classifierCompletionTokens = 0;
        e.classifierCost = 0;
    }
    for (std::size_t r = 0; r < outcomes.size(); ++r) {
        HeadExplanation& e = study.explanations[where[r].first];
        ExplanationTest& t = e.tests[where[r].second];
        const llm::ChatOutcome& o = outcomes[r];
        if (o.ok()) {
            t.error.clear();
            t.reply = o.response.content;
            t.predicted = llm::parseYesNo(o.response.content);
            if (!o.response.parameters.empty()) e.classifierParameters = o.response.parameters;
            e.classifierPromptTokens += o.response.usage.promptTokens;
            e.classifierCompletionTokens += o.response.usage.completionTokens;
            e.classifierCost += o.response.cost;
        } else {
            ++failed;
            t.reply.clear();
            t.error = o.errorMessage();
            t.predicted.reset();
        }
    }
    for (std::size_t k : indices) tally(study.explanations[k]);
    return failed;
}

void scoreBaselines(Study& study) {
    for (HeadExplanation& e : study.explanations)
        if (e.source == "baseline") classifyWithBaseline(e);
}

ScoreSummary summarizeScores(const Study& study, const std::string& source, bool baselineNeurons) {
    return summarizeScores(study.explanations, source, baselineNeurons);
}

ScoreSummary summarizeScores(const std::vector<HeadExplanation>& explanations, const std::string& source,
                             bool baselineNeurons) {
    ScoreSummary s;
    std::vector<double> values;
    for (const HeadExplanation& e : explanations) {
        if (e.source != source || e.baseline != baselineNeurons) continue;
        s.invalid += e.invalid;
        if (e.score) {
            values.push_back(*e.score);
            ++s.scored;
        } else {
            ++s.unscored;
        }
    }
    s.summary = analysis::summarize(values);
    s.histogram = analysis::histogram(values, 10, 0.0, 1.0);
    return s;
}

std::string describeScoreSummary(const ScoreSummary& s) {
    std::ostringstream out;
    out << "scored " << s.scored << " (no score " << s.unscored << ", invalid replies " << s.invalid << ")";
    if (s.scored > 0) {
        out << std::fixed << std::setprecision(3) << "  mean E " << s.summary.mean;
        if (s.scored > 1) out << "  std " << s.summary.std << "  skew " << s.summary.skew;
        out << "  histogram [0,1]/10:";
        for (int64_t c : s.histogram.counts) out << " " << c;
    }
    return out.str();
}

}  // namespace headlight::explain
