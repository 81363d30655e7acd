// The offline baseline explainer and classifier (no LLM): an explanation made of the word n-grams most
// over-represented in the contexts where a head is active against those where it is not, and a
// classifier that applies it to test contexts. It yields a score E for every relevant head, so every
// Study has a floor to compare LLM explanations with.
//
// Features: lower-cased words (runs of letters, digits, apostrophes and non-ASCII bytes); contiguous
// n-grams, n = 1..3, and gapped pairs "a ... b" (b 2 to 4 words after a). Each context counts once per
// feature (presence). Ranking: smoothed log-odds ratio of presence in active vs inactive contexts
// (add-0.5 on every cell), divided by its standard error (a z-score); only features more frequent in
// the active contexts, found in at least 2 of them (1 when there are fewer than 4). The top 5 are kept,
// skipping a feature that covers exactly the same contexts as one already kept (ties: longer first).
// Classifier: active if the context contains at least `threshold` of the kept features; the threshold
// (1..5) maximises the balanced accuracy on the training contexts (ties: the smallest).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/progress.h"
#include "core/study/study.h"

namespace headlight::explain {

// Lower-cased words of a text (see above).
std::vector<std::string> baselineWords(const std::string& text);

struct NgramFeature {
    std::vector<std::string> words;  // the n-gram's words
    bool gapped = false;             // true: "words[0] ... words[1]" with 1 to 3 words between
    double logOdds = 0;              // smoothed log-odds ratio (active vs inactive)
    double z = 0;                    // logOdds / its standard error
    int activeCount = 0;             // active training contexts containing it
    int inactiveCount = 0;           // inactive training contexts containing it

    std::string text() const;        // "purposes only" or "for ... only"
    bool matches(const std::vector<std::string>& words) const;
};

struct BaselineExplanation {
    std::vector<NgramFeature> features;  // best first, at most 5
    int threshold = 1;                   // predict active when at least this many features match
    double trainingAccuracy = 0;         // balanced accuracy on the training contexts

    // "active when the context contains any of: 'purposes only', 'for ... only'"
    std::string text() const;
    int matchCount(const std::string& context) const;
    bool predict(const std::string& context) const;
    nlohmann::ordered_json toJson() const;
    // Throws headlight::Error if `json` is not a baseline explanation.
    static BaselineExplanation fromJson(const nlohmann::json& json);
};

// Fits the baseline on training contexts (texts) where the head is active / inactive.
BaselineExplanation fitBaseline(const std::vector<std::string>& active, const std::vector<std::string>& inactive,
                                int maxFeatures = 5);

// The baseline explanation record (source "baseline") of one (neuron, head) of `study`: trained on
// the neuron's kept contexts (active mask of `head`).
HeadExplanation baselineExplanation(const NeuronResult& neuron, int head);
// Every relevant (neuron, head) of the study, real and random-baseline neurons alike.
std::vector<HeadExplanation> explainWithBaseline(const Study& study, const Progress& progress = {});

// Classifies the tests of a baseline explanation record (reads its parameters) and tallies E.
void classifyWithBaseline(HeadExplanation& explanation);

}  // namespace headlight::explain
