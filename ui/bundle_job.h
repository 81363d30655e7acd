// A job that changes a study, on the worker pool for the GUI (an ablation experiment, completing a bundle
// made by an older Headlight): reads the bundle, runs the work, writes the bundle back atomically
// (saveBundle: temp file + rename, so the open, memory-mapped copy stays valid until it is reopened).
// Nothing is written after a cancel or a failure. Progress arrives as queued signals; cancel() stops
// at the work's next check.
#pragma once

#include <functional>
#include <memory>

#include <QFutureWatcher>
#include <QObject>

#include "core/base/progress.h"
#include "core/study/study.h"

namespace headlight::ui {

class BundleJob : public QObject {
    Q_OBJECT
public:
    // Changes `study` in place; returns a number handed to finished() (e.g. where the first new record is).
    using Work = std::function<int(Study& study, const Progress& progress)>;

    explicit BundleJob(QObject* parent = nullptr);
    ~BundleJob() override;
    void start(const QString& bundlePath, Work work);
    void cancel();
    bool isRunning() const;

Q_SIGNALS:
    void progress(qint64 done, qint64 total, const QString& message);
    void finished(const QString& bundlePath, int value);
    void failed(const QString& message);
    void cancelled();

private:
    struct Result {
        enum class Kind { Finished, Cancelled, Failed } kind = Kind::Finished;
        QString message;
        int value = -1;
    };
    void onProgress(qint64 done, qint64 total, const QString& message) { Q_EMIT progress(done, total, message); }
    std::shared_ptr<CancellationToken> token_;
    QFutureWatcher<Result>* watcher_;
    QString path_;
};

}  // namespace headlight::ui
