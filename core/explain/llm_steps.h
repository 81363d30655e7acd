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
    int64_t failed = 0;            // requests that failed for good (recorded in the study as fields)
    std::string firstError;        // the message of the first failure
    std::vector<std::string> failures;  // one line per failure: "L1N3 L0H1: message" (score: "... test doc D: ...")
    int64_t cacheStoreFailures = 0;     // replies received but not written to the response cache
    std::string cacheStoreError;        // why the first was not
    int64_t sent = 0;              // requests that went to the server now (not from the cache)
    int64_t cached = 0;            // served from the cache: free now
    int64_t promptTokens = 0;      // usage of what was sent now
    int64_t completionTokens = 0;
    double cost = 0;               // USD, at the endpoint's prices
    std::string text() const;      // "N sent, M from the cache; P prompt + C completion tokens, $x spent now"
    // "N of M <what> requests failed: <first `listed` failure lines>..." ("" when none failed).
    std::string failureText(const std::string& what, std::size_t listed = 5) const;
    // "N replies could not be written to the response cache (reason); a rerun pays for them again" or "".
    std::string cacheText() const;
};

// The client for `endpoint` with `options`' transport settings, behind the cache unless turned off.
std::shared_ptr<llm::LlmClient> makeClient(const llm::Endpoint& endpoint, const LlmStepsOptions& options);

// What a batch of requests will cost, before sending: prompts estimated as UTF-8 bytes / 4 (+4 per
// message), completions at most max_tokens each (an upper bound); replies already in the cache are free.
struct CostEstimate {
    int64_t requests = 0;          // in the batch
    int64_t cached = 0;            // of them, answered by the cache (free)
    int64_t promptTokens = 0;      // estimated, of the requests to send
    int64_t completionTokens = 0;  // at most
    double usd = 0;                // at the endpoint's prices
    bool priced = false;           // the endpoint has prices (else usd is 0 and unknown)
    // "N requests (M cached), about P prompt + at most C completion tokens, at most $x" (or "cost unknown: no prices").
    std::string text() const;
};
CostEstimate estimateCost(const std::vector<llm::ChatRequest>& requests, const llm::Endpoint& endpoint,
                          const QString& cacheDir, bool useCache);

// The requests step 4 would send (for dry runs and estimates).
std::vector<llm::ChatRequest> explainRequests(const Study& study, const ExplainerSettings& settings);
// The requests step 5 would send for the LLM explanations, once tests are attached.
std::vector<llm::ChatRequest> scoreRequests(const Study& study, const ScorerSettings& settings);
// Before the held-out run: step 5's requests with the study's own contexts standing in for the
// held-out ones (same count per head, similar lengths), for the cost estimate shown before a run.
std::vector<llm::ChatRequest> estimatedScoreRequests(const Study& study, const ScorerSettings& settings);

// Step 4 on `study`: the baseline explains every relevant head; the LLM too unless !useLlm. What
// succeeded is stored; a request that failed for good is stored as a record with `error` set and no
// explanation (unless an earlier record of the same head has an explanation: that one stays), and
// listed in the report. A rerun sends only the failed and missing requests (the rest come from the
// response cache). Throws headlight::Cancelled when cancelled.
StepReport explainStudy(Study& study, const LlmStepsOptions& options, const Progress& progress = {});

// Step 5 on `study` with held-out labels (per neuron, labelHeldOut's result): attaches the tests,
// scores the baseline records offline and, unless !useLlm, the LLM records with the classifier, and
// records `provenance` (with its time stamp set now) in study.heldOut. A classifier request that
// failed for good is recorded in its test's `error` and listed in the report; that explanation has no
// score until a rerun (which sends only the failed requests: the rest come from the response cache).
// Throws headlight::Error when the study has no explanations, headlight::Cancelled when cancelled.
StepReport scoreStudy(Study& study, const std::vector<NeuronResult>& heldOutLabels, HeldOutProvenance provenance,
                      const LlmStepsOptions& options, const Progress& progress = {});

}  // namespace headlight::explain
