#include "core/explain/study_job.h"

#include <QFile>

#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/model/hub_download.h"
#include "core/study/bundle.h"
#include "core/study/heldout.h"

namespace headlight::explain {

int64_t StudyJobOutcome::failedRequests() const {
    return (explained ? explained->failed : 0) + (scored ? scored->failed : 0);
}

std::string StudyJobOutcome::failureText() const {
    std::string text;
    if (explained && explained->failed > 0) text += explained->failureText("explainer");
    if (scored && scored->failed > 0) text += (text.empty() ? "" : "\n") + scored->failureText("classifier");
    return text;
}

std::string StudyJobOutcome::cacheText() const {
    std::string text;
    for (const std::optional<StepReport>* r : {&explained, &scored})
        if (*r && !(*r)->cacheText().empty()) text += (text.empty() ? "" : "\n") + (*r)->cacheText();
    return text;
}

StepReport labelAndScore(Study& study, const QString& model, const QString& heldOutCorpus, const LlmStepsOptions& steps,
                         const Progress& progress) {
    const std::vector<NeuronResult> labels = labelHeldOut(study, model, heldOutCorpus, progress);
    HeldOutProvenance provenance;
    provenance.corpus = heldOutCorpus.toStdString();
    provenance.corpusHash = analysis::corpusFingerprint(heldOutCorpus);
    return scoreStudy(study, labels, provenance, steps, progress);
}

StudyJobOutcome runStudyJob(const StudyJob& job, const Progress& progress) {
    if (!job.heldOutCorpus.isEmpty() && !job.explain)
        throw Error("study run: a held-out corpus scores explanations: turn on step 4 (explain) as well");
    StudyJobOutcome outcome;
    outcome.output = job.output;
    // A hub id the cache lacks is downloaded first; the study keeps the id as given.
    resolveOrDownloadModel(job.pipeline.model, progress);
    progress.throwIfCancelled();
    Study study = runStudyPipeline(job.pipeline, progress);
    progress.throwIfCancelled();  // a cancel after the last check must not write the bundle
    saveBundle(study, job.output);
    if (!job.pipeline.checkpointPath.isEmpty()) QFile::remove(job.pipeline.checkpointPath);  // the bundle holds it all
    for (const NeuronResult& n : study.neurons) outcome.relevantPairs += static_cast<int64_t>(n.relevantHeads.size());
    if (!job.explain) return outcome;

    outcome.explained = explainStudy(study, job.steps, progress);
    progress.throwIfCancelled();
    saveBundle(study, job.output);
    if (job.heldOutCorpus.isEmpty() || study.explanations.empty()) return outcome;  // nothing relevant: nothing to score

    outcome.scored = labelAndScore(study, job.pipeline.model, job.heldOutCorpus, job.steps, progress);
    progress.throwIfCancelled();
    saveBundle(study, job.output);
    return outcome;
}

}  // namespace headlight::explain
