// The records of steps 4-5 (METHOD.md sections 4-5): a head explanation and its held-out tests and
// score. Plain data, torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/records/names.h"

namespace headlight {

// Step 5: one held-out test context of a head explanation score.
struct ExplanationTest {
    int64_t doc = 0;                // 0-based line of the document in its held-out corpus file
    int64_t docIndex = 0;           // 0-based document index in the held-out corpus (reading order)
    std::string text;               // the context text (shown with the neuron's token appended)
    float activation = 0.f;         // the neuron's max activation in that document
    bool label = false;             // truth: the head is active in this context (steps 2-3 re-run)
    std::optional<bool> predicted;  // the classifier's Yes/No; empty: invalid reply
    std::string reply;              // the classifier's raw reply
    std::string error;              // "" or why the classifier request failed for good (then no reply,
                                    // not counted; the explanation has no score until a rerun)
    std::optional<double> pYes;     // p(Yes) from the reply's first-token log-probabilities (normalised
                                    // over Yes + No); empty when the server gave none
};

// A 95 % confidence interval of a score.
struct ScoreInterval {
    double low = 0;
    double high = 0;
};

// Steps 4-5: the explanation of one relevant (neuron, head) and its head explanation score E.
struct HeadExplanation {
    NeuronRef neuron;                 // the neuron
    bool baseline = false;            // the neuron's baseline flag (random-neuron baseline)
    int head = 0;                     // flat head index, layer * n_heads + head
    std::string source;               // "llm" or "baseline" (offline n-gram explainer, no LLM)
    std::string model;                // explainer model id ("ngram-log-odds" for the baseline)
    std::string endpoint;             // explainer URL, never the key ("" for the baseline)
    std::string prompt;               // rendered explainer prompt ("### role" lines start messages)
    std::string parameters;           // JSON: request parameters (baseline: its n-grams and threshold)
    std::string reply;                // raw reply (reasoning included)
    std::string explanation;          // the explanation (reasoning stripped)
    std::string error;                // "" or why the explainer request failed (then no explanation)
    int64_t promptTokens = 0;         // explainer usage
    int64_t completionTokens = 0;
    double cost = 0;                  // explainer cost (USD) at the configured prices
    std::string classifierModel;      // step 5: classifier model id ("" before scoring)
    std::string classifierEndpoint;   // classifier URL, never the key
    std::string classifierParameters; // JSON: classifier request parameters
    std::vector<ExplanationTest> tests;  // held-out test contexts, descending activation
    int64_t tp = 0, fn = 0, fp = 0, tn = 0;  // confusion matrix ("positive" = head active)
    int64_t invalid = 0;              // replies neither Yes nor No (not in the score)
    std::optional<double> score;      // E = balanced accuracy; empty: not scored, or one-class labels
    std::optional<ScoreInterval> ci95;  // stratified percentile bootstrap interval of E (empty without E)
    std::optional<double> auc;        // ROC AUC of the tests' pYes; empty without log-probs or one class
    int64_t classifierPromptTokens = 0;      // classifier usage, all tests together
    int64_t classifierCompletionTokens = 0;
    double classifierCost = 0;        // classifier cost (USD)
};

}  // namespace headlight
