// Step 5 (METHOD.md section 5): the head explanation score. Steps 2-3 re-run on a held-out corpus
// with the same settings give, per neuron, held-out NeuronContexts with active masks (the same records
// as NeuronResult::contexts). For each explained (neuron, head), the test contexts are the first
// `testsPerHead` (default 10) kept held-out contexts in descending activation order (ties: ascending
// document), labelled by the head's active mask. Each is sent in its own request to the classifier with
// the explanation (one-word Yes/No, max_tokens 1); anything else is invalid (counted, not guessed).
// E = (TP/(TP+FN) + TN/(TN+FP)) / 2; no score when the valid test labels are all one class. The scorer
// works on records only: it needs no model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/analysis/statistics.h"
#include "core/base/progress.h"
#include "core/llm/llm_client.h"
#include "core/llm/prompts.h"
#include "core/study/study.h"

namespace headlight::explain {

// The test contexts of `head` among a neuron's held-out contexts (predictions empty).
std::vector<ExplanationTest> selectTests(const std::vector<NeuronContext>& heldOut, int head, int testsPerHead = 10);

// Recomputes tp/fn/fp/tn/invalid and score from the tests' labels and predictions. Tests whose request
// failed (error set) are counted nowhere, and the explanation then has no score until a rerun. With the
// score come its bootstrap 95 % interval (analysis::bootstrapBalancedAccuracy, kBootstrapResamples,
// seeded by kBootstrapSeed and the record's neuron, head, baseline flag and source: reproducible) and,
// when the tests have pYes, the ROC AUC of pYes against the labels (over the tests that have one).
void tally(HeadExplanation& explanation);

struct ScorerSettings {
    int testsPerHead = 10;               // paper: 10
    int maxTokens = 1;                   // paper: 1
    int topLogprobs = 10;                // ask for log-probabilities (AUC); 0: do not (Yes/No only)
    // Detection-style scoring: > 0 puts up to this many test contexts of a head in one request (test i
    // in request i mod R, R = ceil(tests / detect): mixed activations) and the model names the ones
    // where the head is active. Cheaper per label (the instructions and the explanation are sent once
    // per request); no log-probabilities. 0: the paper's one Yes/No request per test.
    int detect = 0;
    int detectMaxTokens = 40;
    llm::PromptTemplate detectorTemplate = llm::builtInTemplate("detector");
    std::optional<double> temperature;   // empty: the server's default
    llm::PromptTemplate promptTemplate = llm::builtInTemplate("classifier");
};

// The classifier request for one test of an explanation of a neuron with `token`.
llm::ChatRequest classifierRequest(const HeadExplanation& explanation, const std::string& token, const Study& study,
                                   const ExplanationTest& test, const ScorerSettings& settings);

// The detection request for the tests `tests` (indices into explanation.tests) of an explanation.
llm::ChatRequest detectorRequest(const HeadExplanation& explanation, const std::string& token, const Study& study,
                                 const std::vector<std::size_t>& tests, const ScorerSettings& settings);
// The numbers a detection reply names, each in 1..count ("None" -> none); empty when the reply names
// a number outside 1..count or neither numbers nor "none" (every excerpt of the request is then invalid).
std::optional<std::vector<int>> parseDetection(const std::string& reply, int count);
// The groups of test indices that detection sends together (settings.detect per request at most).
std::vector<std::vector<std::size_t>> detectionGroups(std::size_t tests, int perRequest);

// One classifier request and the tests (indices into explanation.tests) its reply labels.
struct ScoreRequestRef {
    std::size_t explanation = 0;
    std::vector<std::size_t> tests;
};
// The classifier requests of the explanations `indices` (one per test, or one per detection group),
// and, with `where`, which tests each labels.
std::vector<llm::ChatRequest> classifierRequests(const Study& study, const std::vector<std::size_t>& indices,
                                                 const ScorerSettings& settings, std::vector<ScoreRequestRef>* where = nullptr);

// Sets the tests of every explanation of `study` from `heldOut` (per neuron, matched by neuron ref
// and baseline flag; a neuron missing there gets no tests) and clears earlier predictions. With
// `source` given ("llm" or "baseline"), only the explanations of that source.
void attachTests(Study& study, const std::vector<NeuronResult>& heldOut, int testsPerHead, const std::string& source = {});

// Classifies the tests of the explanations selected by `indices` (into study.explanations; all
// "llm" records with an explanation when empty) with `classifier`, then tallies. A request that fails
// for good is recorded in its test's `error` (no reply, no prediction); returns how many failed.
// Throws headlight::Cancelled when cancelled.
int64_t scoreWithLlm(Study& study, llm::LlmClient& classifier, const ScorerSettings& settings,
                     const Progress& progress = {}, std::vector<std::size_t> indices = {});
// Classifies the tests of every "baseline" record with the offline classifier, then tallies.
void scoreBaselines(Study& study);

// Summary of E over heads: mean, std, skew and a 10-bin histogram on [0, 1].
struct ScoreSummary {
    analysis::Summary summary;       // over scored heads
    analysis::Histogram histogram;   // 10 bins on [0, 1]
    int64_t scored = 0;              // explanations with a score
    int64_t unscored = 0;            // explanations without (one-class labels, not scored, failed)
    int64_t invalid = 0;             // invalid classifier replies
    std::optional<analysis::Interval> meanCi95;  // bootstrap interval of the mean E (heads resampled)
    std::optional<double> meanAuc;   // mean AUC over the heads that have one
    int64_t withAuc = 0;             // heads with an AUC
};
// Over the explanations of `source` ("llm" or "baseline") of real neurons (baselineNeurons false) or
// of the random-neuron baseline (true).
// The one implementation behind `study info`, its JSON and the window's Overview.
ScoreSummary summarizeScores(const std::vector<HeadExplanation>& explanations, const std::string& source,
                             bool baselineNeurons);
ScoreSummary summarizeScores(const Study& study, const std::string& source, bool baselineNeurons);
// One line, the same in `study info` and the Overview: "scored 12 (no score 1, invalid replies 0)  mean E
// 0.609 [95% CI 0.521, 0.690]  mean AUC 0.702 (12 heads)  std 0.179  skew -0.120  histogram [0,1]/10: 0 0 ...". Mean only with a score, std and skew only
// with two or more (they are undefined below that, NaN in the summary).
std::string describeScoreSummary(const ScoreSummary& summary);

}  // namespace headlight::explain
