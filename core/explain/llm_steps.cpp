#include "core/explain/llm_steps.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include <QDateTime>

#include "core/base/error.h"
#include "core/explain/baseline.h"
#include "core/llm/prompts.h"
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
    if (auto* cached = dynamic_cast<llm::CachedLlmClient*>(&client); cached && cached->storeFailures() > 0) {
        if (report.cacheStoreFailures == 0) report.cacheStoreError = cached->firstStoreError();
        report.cacheStoreFailures += cached->storeFailures();
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

std::string targetName(const Study& study, const HeadExplanation& e) {
    const int nHeads = std::max(1, study.nHeads);
    return neuronName(e.neuron) + (e.baseline ? " (random)" : "") + " " + headName(e.head / nHeads, e.head % nHeads);
}

void noteFailure(StepReport& report, std::string line, const std::string& message) {
    if (report.failed++ == 0) report.firstError = message;
    report.failures.push_back(std::move(line));
}

// True if study.explanations holds an explanation of the same (neuron, head, source) as `r`.
bool hasExplanation(const Study& study, const HeadExplanation& r) {
    for (const HeadExplanation& e : study.explanations)
        if (e.neuron == r.neuron && e.baseline == r.baseline && e.head == r.head && e.source == r.source && !e.explanation.empty())
            return true;
    return false;
}

}  // namespace

std::string StepReport::failureText(const std::string& what, std::size_t listed) const {
    if (failed == 0) return {};
    std::ostringstream out;
    out << failed << " of " << requests << " " << what << " requests failed:";
    for (std::size_t i = 0; i < failures.size() && i < listed; ++i) out << "\n  " << failures[i];
    if (failures.size() > listed) out << "\n  ... and " << (failures.size() - listed) << " more";
    return out.str();
}

std::string StepReport::cacheText() const {
    if (cacheStoreFailures == 0) return {};
    return std::to_string(cacheStoreFailures) + " replies could not be written to the response cache (" + cacheStoreError +
           "); a rerun pays for them again";
}

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

std::string CostEstimate::text() const {
    std::ostringstream out;
    out << requests << " requests";
    if (cached > 0) out << " (" << cached << " cached, free)";
    out << ", about " << promptTokens << " prompt + at most " << completionTokens << " completion tokens, ";
    if (priced)
        out << "at most " << money(usd);
    else
        out << "cost unknown (no prices set)";
    return out.str();
}

CostEstimate estimateCost(const std::vector<llm::ChatRequest>& requests, const llm::Endpoint& endpoint,
                          const QString& cacheDir, bool useCache) {
    CostEstimate e;
    e.requests = static_cast<int64_t>(requests.size());
    const std::unique_ptr<llm::ResponseCache> cache = useCache ? std::make_unique<llm::ResponseCache>(cacheDir) : nullptr;
    for (const llm::ChatRequest& r : requests) {
        if (cache) {
            const auto body = llm::chatBody(endpoint.model, r);
            if (cache->find(llm::ResponseCache::keyOf(endpoint.chatUrl(), body), endpoint.chatUrl(), body)) {
                ++e.cached;
                continue;
            }
        }
        for (const llm::ChatMessage& m : r.messages) e.promptTokens += llm::estimateTokens(m.content) + 4;
        e.completionTokens += r.maxTokens;
    }
    e.priced = endpoint.promptPricePerMillion > 0 || endpoint.completionPricePerMillion > 0;
    e.usd = llm::priceOf(llm::Usage{e.promptTokens, e.completionTokens}, endpoint);
    return e;
}

std::vector<llm::ChatRequest> estimatedScoreRequests(const Study& study, const ScorerSettings& settings) {
    Study preview = study;
    attachTests(preview, preview.neurons, settings.testsPerHead, "llm");
    return scoreRequests(preview, settings);
}

std::vector<llm::ChatRequest> explainRequests(const Study& study, const ExplainerSettings& settings) {
    std::vector<llm::ChatRequest> requests;
    for (const ExplainTarget& t : relevantTargets(study))
        requests.push_back(explainerRequest(study, study.neurons[t.neuronIndex], t.head, settings));
    return requests;
}

std::vector<llm::ChatRequest> scoreRequests(const Study& study, const ScorerSettings& settings) {
    return classifierRequests(study, llmRecords(study), settings);
}

StepReport explainStudy(Study& study, const LlmStepsOptions& options, const Progress& progress) {
    StepReport report;
    mergeExplanations(study, explainWithBaseline(study, progress));
    const std::vector<ExplainTarget> targets = relevantTargets(study);
    if (!options.useLlm || targets.empty()) return report;
    const auto client = makeClient(options.explainer, options);
    std::vector<HeadExplanation> records = explainWithLlm(study, targets, *client, options.explainerSettings, progress);
    std::vector<HeadExplanation> kept;
    for (HeadExplanation& r : records) {
        if (!r.error.empty()) {
            noteFailure(report, "explain " + targetName(study, r) + ": " + r.error, r.error);
            if (hasExplanation(study, r)) continue;  // an earlier explanation of this head stays
        }
        kept.push_back(std::move(r));
    }
    mergeExplanations(study, std::move(kept));
    report.requests = static_cast<int64_t>(targets.size());
    addSpending(report, *client);
    return report;
}

StepReport scoreStudy(Study& study, const std::vector<NeuronResult>& heldOutLabels, HeldOutProvenance provenance,
                      const LlmStepsOptions& options, const Progress& progress) {
    if (study.explanations.empty()) throw Error("the study has no explanations to score (run step 4 first)");
    StepReport report;
    provenance.testsPerHead = options.scorerSettings.testsPerHead;
    provenance.classifierTemplate = options.scorerSettings.detect > 0 ? options.scorerSettings.detectorTemplate.text
                                                                      : options.scorerSettings.promptTemplate.text;
    attachTests(study, heldOutLabels, options.scorerSettings.testsPerHead, options.useLlm ? "" : "baseline");
    scoreBaselines(study);
    const std::vector<std::size_t> indices = llmRecords(study);
    if (options.useLlm && !indices.empty()) {
        const auto client = makeClient(options.classifier, options);
        scoreWithLlm(study, *client, options.scorerSettings, progress, indices);
        report.requests = static_cast<int64_t>(classifierRequests(study, indices, options.scorerSettings).size());
        for (std::size_t i : indices) {
            const HeadExplanation& e = study.explanations[i];
            for (const ExplanationTest& t : e.tests)
                if (!t.error.empty())
                    noteFailure(report, "score " + targetName(study, e) + " test doc " + std::to_string(t.doc) + ": " + t.error, t.error);
        }
        addSpending(report, *client);
    }
    provenance.createdAt = QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString();
    study.heldOut = std::move(provenance);
    return report;
}

}  // namespace headlight::explain
