#include "core/explain/llm_steps.h"

#include <iomanip>
#include <sstream>

#include <QDateTime>

#include "core/base/error.h"
#include "core/explain/baseline.h"
#include "core/llm/response_cache.h"

namespace headlight::explain {

namespace {

std::string money(double usd) {
    std::ostringstream s;
    s << "$" << std::fixed << std::setprecision(usd < 1 ? 4 : 2) << usd;
    return s.str();
}

// Adds what `client` (an OpenAiChatClient, possibly behind a CachedLlmClient) sent and spent.
void addSpending(StepReport& report, llm::LlmClient& client) {
    llm::LlmClient* inner = &client;
    if (auto* cached = dynamic_cast<llm::CachedLlmClient*>(&client)) {
        report.cached += cached->hits();
        inner = &cached->inner();
    }
    if (const auto* http = dynamic_cast<const llm::OpenAiChatClient*>(inner)) {
        const auto st = http->stats();
        report.sent += st.requests;
        report.promptTokens += st.usage.promptTokens;
        report.completionTokens += st.usage.completionTokens;
        report.cost += st.cost;
    }
}

// Indices of the LLM records with an explanation to score.
std::vector<std::size_t> llmRecords(const Study& study) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < study.explanations.size(); ++i)
        if (study.explanations[i].source == "llm" && !study.explanations[i].explanation.empty()) out.push_back(i);
    return out;
}

}  // namespace

std::string StepReport::text() const {
    std::ostringstream out;
    out << sent << " sent, " << cached << " from the cache; " << promptTokens << " prompt + " << completionTokens
        << " completion tokens, " << money(cost) << " spent now";
    return out.str();
}

std::shared_ptr<llm::LlmClient> makeClient(const llm::Endpoint& endpoint, const LlmStepsOptions& options) {
    auto client = std::make_shared<llm::OpenAiChatClient>(endpoint, options.client);
    if (!options.useCache) return client;
    return std::make_shared<llm::CachedLlmClient>(client, std::make_shared<llm::ResponseCache>(options.cacheDir));
}

std::vector<llm::ChatRequest> explainRequests(const Study& study, const ExplainerSettings& settings) {
    std::vector<llm::ChatRequest> requests;
    for (const ExplainTarget& t : relevantTargets(study))
        requests.push_back(explainerRequest(study, study.neurons[t.neuronIndex], t.head, settings));
    return requests;
}

std::vector<llm::ChatRequest> scoreRequests(const Study& study, const ScorerSettings& settings) {
    std::vector<llm::ChatRequest> requests;
    for (std::size_t i : llmRecords(study)) {
        const HeadExplanation& e = study.explanations[i];
        const NeuronResult* neuron = study.find(e.neuron, e.baseline);
        for (const ExplanationTest& t : e.tests)
            requests.push_back(classifierRequest(e, neuron ? neuron->neuron.token : std::string(), study, t, settings));
    }
    return requests;
}

StepReport explainStudy(Study& study, const LlmStepsOptions& options, const Progress& progress) {
    StepReport report;
    mergeExplanations(study, explainWithBaseline(study, progress));
    const std::vector<ExplainTarget> targets = relevantTargets(study);
    if (!options.useLlm || targets.empty()) return report;
    const auto client = makeClient(options.explainer, options);
    std::vector<HeadExplanation> records = explainWithLlm(study, targets, *client, options.explainerSettings, progress);
    std::vector<HeadExplanation> good;
    for (HeadExplanation& r : records) {
        if (r.error.empty()) {
            good.push_back(std::move(r));
        } else if (report.failed++ == 0) {
            report.firstError = r.error;
        }
    }
    mergeExplanations(study, std::move(good));  // failures are not stored: earlier records stay
    report.requests = static_cast<int64_t>(targets.size());
    addSpending(report, *client);
    return report;
}

StepReport scoreStudy(Study& study, const std::vector<NeuronResult>& heldOutLabels, HeldOutProvenance provenance,
                      const LlmStepsOptions& options, const Progress& progress) {
    if (study.explanations.empty()) throw Error("the study has no explanations to score (run step 4 first)");
    StepReport report;
    provenance.testsPerHead = options.scorerSettings.testsPerHead;
    provenance.classifierTemplate = options.scorerSettings.promptTemplate.text;
    attachTests(study, heldOutLabels, options.scorerSettings.testsPerHead, options.useLlm ? "" : "baseline");
    scoreBaselines(study);
    const std::vector<std::size_t> indices = llmRecords(study);
    if (options.useLlm && !indices.empty()) {
        const auto client = makeClient(options.classifier, options);
        report.failed = scoreWithLlm(study, *client, options.scorerSettings, progress, indices);
        for (std::size_t i : indices) report.requests += static_cast<int64_t>(study.explanations[i].tests.size());
        addSpending(report, *client);
        if (report.failed > 0) {
            for (std::size_t i : indices)
                for (const ExplanationTest& t : study.explanations[i].tests)
                    if (report.firstError.empty() && t.reply.rfind("[request failed] ", 0) == 0) report.firstError = t.reply.substr(17);
            return report;  // study.heldOut unchanged: not a finished scoring
        }
    }
    provenance.createdAt = QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString();
    study.heldOut = std::move(provenance);
    return report;
}

}  // namespace headlight::explain
