// The GUI's watcher of the study job (core/explain/study_job.h: download, steps 1-3, and optionally
// steps 4-5, each saved to `outputPath` atomically) on a worker thread: never on the GUI thread.
// Progress arrives as queued signals with an ETA; cancel() stops the job at its next safe point. The
// outcome is announced with finished(), preceded by warning() when LLM requests failed for good (the
// bundle then holds what succeeded and records each failure; a rerun sends only the failed ones).
#pragma once

#include <memory>

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>

#include "core/base/progress.h"
#include "core/explain/study_job.h"
#include "core/study/pipeline.h"

namespace headlight::ui {

// Steps 4-5 of a run (off by default).
struct LlmJob {
    bool explain = false;              // run step 4 (and step 5 when heldOutCorpus is given)
    explain::LlmStepsOptions steps;    // useLlm false: the offline baseline only
    QString heldOutCorpus;             // step 5's corpus; "" = no scoring
};

class StudyRunner : public QObject {
    Q_OBJECT
public:
    explicit StudyRunner(QObject* parent = nullptr);
    ~StudyRunner() override;
    void start(const PipelineOptions& options, const QString& outputPath, const LlmJob& llm = {});
    void cancel();
    bool isRunning() const;
    // "12 s", "3 min 20 s", "" when unknown: the time left in the current step at its current rate.
    static QString formatEta(double seconds);

Q_SIGNALS:
    void progress(qint64 done, qint64 total, const QString& message, const QString& eta);
    void finished(const QString& outputPath);
    void failed(const QString& message);
    void warning(const QString& message);  // before finished(): some LLM requests failed for good
    void cancelled();

private:
    // What the worker hands back: how the job ended and its message (error or warning).
    struct Result {
        enum class Kind { Finished, Cancelled, Failed } kind = Kind::Finished;
        QString message;  // Failed: the error; Finished: "" or the warning
    };
    void onProgress(qint64 done, qint64 total, const QString& message);
    void onResult(const Result& result);
    std::shared_ptr<CancellationToken> token_;
    QFutureWatcher<Result>* watcher_;
    QElapsedTimer stepTimer_;
    QString step_;
    QString outputPath_;
};

}  // namespace headlight::ui
