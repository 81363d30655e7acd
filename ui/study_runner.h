// Runs the study pipeline (core/study/pipeline.h, steps 1-3) and optionally steps 4-5
// (core/explain/llm_steps.h: explain with the LLM and the offline baseline, score on a held-out corpus)
// on a worker thread: never on the GUI thread. Progress arrives as queued signals with an ETA; cancel()
// stops the job at its next safe point. The result is saved to `outputPath` (atomically) by the worker
// and announced with finished(); LLM requests that failed for good are announced with warning() (the
// bundle then holds what succeeded; a rerun takes the replies received from the response cache).
#pragma once

#include <memory>

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>

#include "core/base/progress.h"
#include "core/explain/llm_steps.h"
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
    void onProgress(qint64 done, qint64 total, const QString& message);
    std::shared_ptr<CancellationToken> token_;
    QFutureWatcher<QString>* watcher_;
    QElapsedTimer stepTimer_;
    QString step_;
    QString outputPath_;
};

}  // namespace headlight::ui
