// One study from a model and a corpus to a saved bundle: the job both drivers run (headlight-cli study
// run, the GUI's Run dialog). In order: resolve the model (a hub id the cache lacks is downloaded), steps
// 1-3, save; with `explain` step 4 (the offline baseline always, the LLM unless steps.useLlm is false),
// save; with a held-out corpus the held-out labels (steps 2-3 re-run on it) and step 5, save. Every save
// is atomic, so an interruption leaves the bundle of the last finished step, and a rerun of steps 4-5
// takes every reply already paid for from the response cache. Requests that fail for good do not stop
// the job: they are recorded in the bundle (records' error fields) and counted in the outcome.
// Torch-free header.
#pragma once

#include <optional>
#include <string>

#include <QString>

#include "core/base/progress.h"
#include "core/explain/llm_steps.h"
#include "core/study/pipeline.h"

namespace headlight::explain {

struct StudyJob {
    PipelineOptions pipeline;   // steps 1-3: model (folder or hub id), corpus, every METHOD.md parameter
    QString output;             // the bundle, rewritten after each finished step
    bool explain = false;       // run step 4
    LlmStepsOptions steps;      // steps 4-5: endpoints, transport, cache, templates, settings
    QString heldOutCorpus;      // run step 5 on this corpus (requires explain); empty: no scoring
};

struct StudyJobOutcome {
    QString output;                      // where the study is
    int64_t relevantPairs = 0;           // relevant (neuron, head) pairs found by step 3
    std::optional<StepReport> explained; // step 4's report, when it ran
    std::optional<StepReport> scored;    // step 5's report, when it ran
    int64_t failedRequests() const;      // LLM requests that failed for good, both steps
    // "" when nothing failed, else the failures of each step that had some (StepReport::failureText).
    std::string failureText() const;
    // "" or the steps' response-cache write failures (StepReport::cacheText), one per line.
    std::string cacheText() const;
};

// Throws headlight::Cancelled when cancelled (the bundle then holds the last finished step, or does
// not exist if steps 1-3 did not finish), headlight::Error on bad input.
StudyJobOutcome runStudyJob(const StudyJob& job, const Progress& progress = {});

// Step 5 on `study`: labels the held-out corpus with `model` (steps 2-3 re-run with the study's
// settings) and scores every explanation (LLM unless !steps.useLlm, and the offline baseline).
StepReport labelAndScore(Study& study, const QString& model, const QString& heldOutCorpus, const LlmStepsOptions& steps,
                         const Progress& progress = {});

}  // namespace headlight::explain
