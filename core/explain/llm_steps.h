// Steps 4-5 over a whole Study, as one job that the CLI (study explain / score / run) and the GUI
// (Run dialog) share: build the clients (behind the response cache unless turned off), explain every
// relevant (neuron, head) with the offline baseline and, unless offline, the LLM; then label the
// held-out contexts and score every explanation. Torch-free: the held-out labels are computed by the
// caller (labelHeldOut, core/study/heldout.h) or taken from a bundle.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <QString>

#include "core/base/progress.h"
#include "core/explain/explainer.h"
#include "core/explain/scorer.h"
#include "core/llm/llm_client.h"
#include "core/study/study.h"

namespace headlight::explain {

struct LlmStepsOptions {
    bool useLlm = true;                 // false: the offline baseline only (no request is sent)
    llm::Endpoint explainer;            // step 4's endpoint and model (API key in memory only)
    llm::Endpoint classifier;           // step 5's (may be another server and model)
    llm::ClientOptions client;          // concurrency, timeouts, retries
    bool useCache = true;               // read and write the response cache
    QString cacheDir;                   // "" = llm::ResponseCache::defaultDirectory()
    ExplainerSettings explainerSettings;
    ScorerSettings scorerSettings;
};

// What one step sent, received and spent.
struct StepReport {
    int64_t requests = 0;          // LLM requests the step made (cache hits included)
    int64_t failed = 0;            // requests that failed for good
    std::string firstError;        // the message of the first failure
    int64_t sent = 0;              // requests that went to the server now (not from the cache)
    int64_t cached = 0;            // served from the cache: free now
    int64_t promptTokens = 0;      // usage of what was sent now
    int64_t completionTokens = 0;
    double cost = 0;               // USD, at the endpoint's prices
    std::string text() const;      // "N sent, M from the cache; P prompt + C completion tokens, $x spent now"
};

// The client for `endpoint` with `options`' transport settings, behind the cache unless turned off.
std::shared_ptr<llm::LlmClient> makeClient(const llm::Endpoint& endpoint, const LlmStepsOptions& options);

// The requests step 4 would send (for dry runs and estimates).
std::vector<llm::ChatRequest> explainRequests(const Study& study, const ExplainerSettings& settings);
// The requests step 5 would send for the LLM explanations, once tests are attached.
std::vector<llm::ChatRequest> scoreRequests(const Study& study, const ScorerSettings& settings);

// Step 4 on `study`: the baseline explains every relevant head; the LLM too unless !useLlm. Replies
// that failed for good are not stored (earlier records of the same head stay); they are counted in
// the report. Throws headlight::Cancelled when cancelled.
StepReport explainStudy(Study& study, const LlmStepsOptions& options, const Progress& progress = {});

// Step 5 on `study` with held-out labels (per neuron, labelHeldOut's result): attaches the tests,
// scores the baseline records offline and, unless !useLlm, the LLM records with the classifier, and
// records `provenance` (with its time stamp set now) in study.heldOut. When any classifier request
// failed for good the report says so and study.heldOut is left as it was: the caller should not save.
// Throws headlight::Error when the study has no explanations, headlight::Cancelled when cancelled.
StepReport scoreStudy(Study& study, const std::vector<NeuronResult>& heldOutLabels, HeldOutProvenance provenance,
                      const LlmStepsOptions& options, const Progress& progress = {});

}  // namespace headlight::explain
