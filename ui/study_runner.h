// Runs the study pipeline (core/study/pipeline.h) on a worker thread: never on the GUI thread.
// Progress arrives as queued signals with an ETA; cancel() stops the job at its next safe point.
// The result is saved to `outputPath` (atomically) by the worker and announced with finished().
#pragma once

#include <memory>

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>

#include "core/base/progress.h"
#include "core/study/pipeline.h"

namespace headlight::ui {

class StudyRunner : public QObject {
    Q_OBJECT
public:
    explicit StudyRunner(QObject* parent = nullptr);
    ~StudyRunner() override;
    void start(const PipelineOptions& options, const QString& outputPath);
    void cancel();
    bool isRunning() const;
    // "12 s", "3 min 20 s", "" when unknown: the time left in the current step at its current rate.
    static QString formatEta(double seconds);

Q_SIGNALS:
    void progress(qint64 done, qint64 total, const QString& message, const QString& eta);
    void finished(const QString& outputPath);
    void failed(const QString& message);
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
