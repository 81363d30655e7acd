#include "ui/study_runner.h"

#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

namespace {
// The warning of a finished job: its failed requests and cache write failures, "" when there are none.
QString warningOf(const explain::StudyJobOutcome& outcome) {
    QStringList lines;
    if (!outcome.failureText().empty()) lines << QString::fromStdString(outcome.failureText());
    if (!outcome.cacheText().empty()) lines << QString::fromStdString(outcome.cacheText());
    if (lines.isEmpty()) return QString();
    if (outcome.failedRequests() > 0) lines << StudyRunner::tr("Run again to retry: only the failed requests are sent.");
    return lines.join(QLatin1Char('\n'));
}
}  // namespace

StudyRunner::StudyRunner(QObject* parent) : QObject(parent), watcher_(new QFutureWatcher<Result>(this)) {
    connect(watcher_, &QFutureWatcher<Result>::finished, this, [this] { onResult(watcher_->result()); });
}

void StudyRunner::onResult(const Result& result) {
    switch (result.kind) {
    case Result::Kind::Cancelled: Q_EMIT cancelled(); return;
    case Result::Kind::Failed: Q_EMIT failed(result.message); return;
    case Result::Kind::Finished:
        if (!result.message.isEmpty()) Q_EMIT warning(result.message);
        Q_EMIT finished(outputPath_);
        return;
    }
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
    explain::StudyJob job;
    job.pipeline = options;
    job.output = outputPath;
    job.explain = llm.explain;
    job.steps = llm.steps;
    job.heldOutCorpus = llm.explain ? llm.heldOutCorpus : QString();
    watcher_->setFuture(QtConcurrent::run([job, token, progress]() -> Result {
        try {
            return {Result::Kind::Finished, warningOf(explain::runStudyJob(job, progress))};
        } catch (const Cancelled&) {
            return {Result::Kind::Cancelled, {}};
        } catch (const Error& e) {
            if (token->isCancelled()) return {Result::Kind::Cancelled, {}};  // however a step reported it
            return {Result::Kind::Failed, QString::fromStdString(e.what())};
        } catch (const std::exception& e) {
            return {Result::Kind::Failed, QStringLiteral("unexpected error: ") + QString::fromUtf8(e.what())};
        }
    }));
}

}  // namespace headlight::ui
