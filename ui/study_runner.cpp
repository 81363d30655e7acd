#include "ui/study_runner.h"

#include <QtConcurrent/QtConcurrentRun>

#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/model/hub_download.h"
#include "core/study/bundle.h"
#include "core/study/heldout.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

namespace {
// What the job returns when it was cancelled (no error message starts with a control character).
QString cancelledMarker() { return QString(QChar(1)) + QStringLiteral("cancelled"); }
// What the job returns when it saved the study but some LLM requests failed: the marker + the message.
QString warningMarker() { return QString(QChar(2)); }

// Steps 4-5 on `study` (worker thread). Returns a warning ("" when every request succeeded). What
// succeeded stays in the study; each failure is recorded there and listed in the warning.
QString runLlmSteps(Study& study, const PipelineOptions& options, const LlmJob& job, const Progress& progress) {
    QStringList warnings;
    const explain::StepReport explained = explain::explainStudy(study, job.steps, progress);
    if (explained.failed > 0) warnings << QString::fromStdString(explained.failureText("explainer"));
    if (!explained.cacheText().empty()) warnings << QString::fromStdString(explained.cacheText());
    if (!job.heldOutCorpus.isEmpty()) {
        const std::vector<NeuronResult> labels = labelHeldOut(study, options.model, job.heldOutCorpus, progress);
        HeldOutProvenance provenance;
        provenance.corpus = job.heldOutCorpus.toStdString();
        provenance.corpusHash = analysis::corpusFingerprint(job.heldOutCorpus);
        const explain::StepReport report = explain::scoreStudy(study, labels, provenance, job.steps, progress);
        if (report.failed > 0)  // the explanations with a failed test have no score until a rerun
            warnings << QString::fromStdString(report.failureText("classifier"));
        if (!report.cacheText().empty()) warnings << QString::fromStdString(report.cacheText());
    }
    if (warnings.isEmpty()) return QString();
    return warnings.join(QStringLiteral("\n")) + StudyRunner::tr("\nRun again to retry: only the failed requests are sent.");
}
}  // namespace

StudyRunner::StudyRunner(QObject* parent) : QObject(parent), watcher_(new QFutureWatcher<QString>(this)) {
    connect(watcher_, &QFutureWatcher<QString>::finished, this, [this] {
        const QString result = watcher_->result();
        if (result.isEmpty()) {
            Q_EMIT finished(outputPath_);
        } else if (result.startsWith(warningMarker())) {
            Q_EMIT warning(result.mid(1));
            Q_EMIT finished(outputPath_);
        } else if (result == cancelledMarker()) {
            Q_EMIT cancelled();
        } else {
            Q_EMIT failed(result);
        }
    });
}

StudyRunner::~StudyRunner() {
    if (token_) token_->cancel();
    watcher_->waitForFinished();
}

bool StudyRunner::isRunning() const { return watcher_->isRunning(); }

void StudyRunner::cancel() {
    if (token_) token_->cancel();
}

QString StudyRunner::formatEta(double seconds) {
    if (!(seconds >= 0) || seconds > 30 * 86400) return QString();
    const qint64 s = qRound64(seconds);
    if (s < 60) return tr("%1 s").arg(s);
    if (s < 3600) return tr("%1 min %2 s").arg(s / 60).arg(s % 60);
    return tr("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

void StudyRunner::onProgress(qint64 done, qint64 total, const QString& message) {
    const QString step = message.section(QLatin1Char(':'), 0, 0);
    if (step != step_ || !stepTimer_.isValid()) {
        step_ = step;
        stepTimer_.restart();
    }
    QString eta;
    if (done > 0 && total > done) eta = formatEta(stepTimer_.elapsed() / 1000.0 * double(total - done) / double(done));
    Q_EMIT progress(done, total, message, eta);
}

void StudyRunner::start(const PipelineOptions& options, const QString& outputPath, const LlmJob& llm) {
    if (isRunning()) return;
    token_ = std::make_shared<CancellationToken>();
    outputPath_ = outputPath;
    step_.clear();
    stepTimer_.invalidate();
    const Progress progress = queuedProgress(this, &StudyRunner::onProgress, token_.get());
    auto token = token_;
    watcher_->setFuture(QtConcurrent::run([options, outputPath, llm, token, progress]() -> QString {
        try {
            // A hub id the cache lacks is downloaded first (progress "downloading ..."); the study keeps the id.
            resolveOrDownloadModel(options.model, progress);
            progress.throwIfCancelled();
            Study study = runStudyPipeline(options, progress);
            QString warning;
            if (llm.explain) warning = runLlmSteps(study, options, llm, progress);
            progress.throwIfCancelled();
            saveBundle(study, outputPath);
            return warning.isEmpty() ? QString() : warningMarker() + warning;
        } catch (const Cancelled&) {
            return cancelledMarker();
        } catch (const Error& e) {
            if (token->isCancelled()) return cancelledMarker();   // however a step reported it
            return QString::fromStdString(e.what());
        } catch (const std::exception& e) {
            return QStringLiteral("unexpected error: ") + QString::fromUtf8(e.what());
        }
    }));
}

}  // namespace headlight::ui
