#include "core/explain/scorer.h"

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/analysis/score_interval.h"
#include "core/base/error.h"
#include "core/explain/baseline.h"
#include "core/explain/explainer.h"
#include "core/llm/logprobs.h"

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
    e.ci95.reset();
    e.auc.reset();
    if (!e.score) return;
    e.ci95 = analysis::explanationInterval(e);
    std::vector<double> pYes;
    std::vector<bool> labels;
    for (const ExplanationTest& t : e.tests)
        if (t.pYes) {
            pYes.push_back(*t.pYes);
            labels.push_back(t.label);
        }
    e.auc = analysis::rocAuc(pYes, labels);
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
    r.topLogprobs = settings.topLogprobs;
    return r;
}

llm::ChatRequest detectorRequest(const HeadExplanation& e, const std::string& token, const Study& study,
                                 const std::vector<std::size_t>& tests, const ScorerSettings& settings) {
    const int nHeads = std::max(1, study.nHeads);
    std::string contexts;
    for (std::size_t k = 0; k < tests.size(); ++k) {
        std::string text = showContext(e.tests.at(tests[k]).text, token);
        std::replace(text.begin(), text.end(), '\n', ' ');
        contexts += (k ? "\n" : "") + std::to_string(k + 1) + ". " + text;
    }
    llm::ChatRequest r;
    r.messages = settings.detectorTemplate.renderMessages({{"token", token},
                                                           {"explanation", e.explanation},
                                                           {"contexts", contexts},
                                                           {"count", std::to_string(tests.size())},
                                                           {"neuron", neuronName(e.neuron)},
                                                           {"head", headName(e.head / nHeads, e.head % nHeads)}});
    r.maxTokens = settings.detectMaxTokens;
    r.temperature = settings.temperature;
    return r;
}

std::optional<std::vector<int>> parseDetection(const std::string& reply, int count) {
    std::string text = llm::stripReasoning(reply);
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::vector<int> numbers;
    for (std::size_t i = 0; i < text.size();) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && j - i < 9) ++j;
        const int n = std::stoi(text.substr(i, j - i));
        if (n < 1 || n > count) return std::nullopt;
        if (std::find(numbers.begin(), numbers.end(), n) == numbers.end()) numbers.push_back(n);
        i = j;
    }
    if (numbers.empty() && text.find("none") == std::string::npos) return std::nullopt;
    return numbers;
}

std::vector<std::vector<std::size_t>> detectionGroups(std::size_t tests, int perRequest) {
    if (tests == 0) return {};
    const std::size_t per = static_cast<std::size_t>(std::max(1, perRequest));
    const std::size_t groups = (tests + per - 1) / per;
    std::vector<std::vector<std::size_t>> out(groups);
    for (std::size_t t = 0; t < tests; ++t) out[t % groups].push_back(t);
    return out;
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

namespace {


// Applies one outcome to its tests: Yes/No (with p_yes) for a single test, or the detection's numbers.
void applyOutcome(HeadExplanation& e, const ScoreRequestRef& q, const llm::ChatOutcome& o, bool detection) {
    std::optional<std::vector<int>> named;
    if (o.ok() && detection) named = parseDetection(o.response.content, static_cast<int>(q.tests.size()));
    for (std::size_t k = 0; k < q.tests.size(); ++k) {
        ExplanationTest& t = e.tests[q.tests[k]];
        t.pYes.reset();
        if (!o.ok()) {
            t.reply.clear();
            t.error = o.errorMessage();
            t.predicted.reset();
            continue;
        }
        t.error.clear();
        t.reply = o.response.content;
        if (!detection) {
            t.predicted = llm::parseYesNo(o.response.content);
            if (o.response.firstTokenLogprobs) t.pYes = llm::yesProbability(*o.response.firstTokenLogprobs);
        } else if (named) {
            t.predicted = std::find(named->begin(), named->end(), int(k + 1)) != named->end();
        } else {
            t.predicted.reset();  // an unreadable detection reply: every excerpt of it invalid
        }
    }
    if (!o.ok()) return;
    if (!o.response.parameters.empty()) e.classifierParameters = o.response.parameters;
    e.classifierPromptTokens += o.response.usage.promptTokens;
    e.classifierCompletionTokens += o.response.usage.completionTokens;
    e.classifierCost += o.response.cost;
}

void resetClassifier(HeadExplanation& e, const llm::LlmClient& classifier, const ScorerSettings& settings) {
    e.classifierModel = classifier.endpoint().model;
    e.classifierEndpoint = classifier.endpoint().chatUrl();
    llm::ChatRequest shape;
    shape.maxTokens = settings.detect > 0 ? settings.detectMaxTokens : settings.maxTokens;
    shape.temperature = settings.temperature;
    shape.topLogprobs = settings.detect > 0 ? 0 : settings.topLogprobs;
    e.classifierParameters = llm::parametersJson(shape);  // replaced by what was sent
    e.classifierPromptTokens = e.classifierCompletionTokens = 0;
    e.classifierCost = 0;
}

}  // namespace

std::vector<llm::ChatRequest> classifierRequests(const Study& study, const std::vector<std::size_t>& indices,
                                                 const ScorerSettings& settings, std::vector<ScoreRequestRef>* where) {
    const auto byNeuron = indexNeurons(study.neurons);
    std::vector<llm::ChatRequest> requests;
    for (std::size_t index : indices) {
        const HeadExplanation& e = study.explanations.at(index);
        const auto it = byNeuron.find({e.neuron, e.baseline});
        const std::string token = it == byNeuron.end() ? std::string() : it->second->neuron.token;
        std::vector<std::vector<std::size_t>> groups;
        if (settings.detect > 0)
            groups = detectionGroups(e.tests.size(), settings.detect);
        else
            for (std::size_t t = 0; t < e.tests.size(); ++t) groups.push_back({t});
        for (std::vector<std::size_t>& g : groups) {
            requests.push_back(settings.detect > 0 ? detectorRequest(e, token, study, g, settings)
                                                   : classifierRequest(e, token, study, e.tests[g[0]], settings));
            if (where) where->push_back({index, std::move(g)});
        }
    }
    return requests;
}

int64_t scoreWithLlm(Study& study, llm::LlmClient& classifier, const ScorerSettings& settings, const Progress& progress,
                     std::vector<std::size_t> indices) {
    if (indices.empty())
        for (std::size_t i = 0; i < study.explanations.size(); ++i)
            if (study.explanations[i].source == "llm" && !study.explanations[i].explanation.empty()) indices.push_back(i);
    std::vector<ScoreRequestRef> where;
    const std::vector<llm::ChatRequest> requests = classifierRequests(study, indices, settings, &where);
    const std::vector<llm::ChatOutcome> outcomes = classifier.runAll(requests, progress, "score");
    for (std::size_t k : indices) resetClassifier(study.explanations[k], classifier, settings);
    int64_t failed = 0;
    for (std::size_t r = 0; r < outcomes.size(); ++r) {
        failed += outcomes[r].ok() ? 0 : 1;
        applyOutcome(study.explanations[where[r].explanation], where[r], outcomes[r], settings.detect > 0);
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
    std::vector<double> values, aucs;
    for (const HeadExplanation& e : explanations) {
        if (e.source != source || e.baseline != baselineNeurons) continue;
        s.invalid += e.invalid;
        if (e.score) {
            values.push_back(*e.score);
            ++s.scored;
        } else {
            ++s.unscored;
        }
        if (e.auc) aucs.push_back(*e.auc);
    }
    s.summary = analysis::summarize(values);
    const uint64_t seed = analysis::mixSeed(analysis::kBootstrapSeed, (source == "llm" ? 2u : 0u) + (baselineNeurons ? 1u : 0u));
    s.meanCi95 = analysis::bootstrapMean(values, analysis::kBootstrapResamples, seed);
    s.withAuc = static_cast<int64_t>(aucs.size());
    if (!aucs.empty()) s.meanAuc = analysis::mean(aucs);
    s.histogram = analysis::histogram(values, 10, 0.0, 1.0);
    return s;
}

std::string describeScoreSummary(const ScoreSummary& s) {
    std::ostringstream out;
    out << "scored " << s.scored << " (no score " << s.unscored << ", invalid replies " << s.invalid << ")";
    if (s.scored > 0) {
        out << std::fixed << std::setprecision(3) << "  mean E " << s.summary.mean;
        if (s.meanCi95) out << " [95% CI " << s.meanCi95->low << ", " << s.meanCi95->high << "]";
        if (s.meanAuc) out << "  mean AUC " << *s.meanAuc << " (" << s.withAuc << " heads)";
        if (s.scored > 1) out << "  std " << s.summary.std << "  skew " << s.summary.skew;
        out << "  histogram [0,1]/10:";
        for (int64_t c : s.histogram.counts) out << " " << c;
    }
    return out.str();
}

}  // namespace headlight::explain
