// Runs an ablation experiment (core/analysis/ablation.h, via addAblations) on the worker pool for the
// GUI: reads the bundle, loads its model, runs the experiment, writes the bundle back atomically
// (saveBundle: temp file + rename, so the open, memory-mapped copy stays valid until it is reopened).
// Progress arrives as queued signals; cancel() stops at the next head.
#pragma once

#include <memory>

#include <QFutureWatcher>
#include <QObject>

#include "core/base/progress.h"
#include "core/study/pipeline.h"

namespace headlight::ui {

class AblationRunner : public QObject {
    Q_OBJECT
public:
    explicit AblationRunner(QObject* parent = nullptr);
    ~AblationRunner() override;
    // `model`: the study's model as the document found it (folder or hub id).
    void start(const QString& bundlePath, const QString& model, const analysis::AblationOptions& options);
    void cancel();
    bool isRunning() const;

Q_SIGNALS:
    void progress(qint64 done, qint64 total, const QString& message);
    void finished(const QString& bundlePath, int firstRecord);   // firstRecord: where the run's first record is (-1: none)
    void failed(const QString& message);
    void cancelled();

private:
    struct Result {
        enum class Kind { Finished, Cancelled, Failed } kind = Kind::Finished;
        QString message;
        int firstRecord = -1;
    };
    void onProgress(qint64 done, qint64 total, const QString& message) { Q_EMIT progress(done, total, message); }
    std::shared_ptr<CancellationToken> token_;
    QFutureWatcher<Result>* watcher_;
    QString path_;
};

}  // namespace headlight::ui
