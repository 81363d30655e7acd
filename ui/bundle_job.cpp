#include "ui/bundle_job.h"

#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/study/bundle.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

BundleJob::BundleJob(QObject* parent) : QObject(parent), watcher_(new QFutureWatcher<Result>(this)) {
    connect(watcher_, &QFutureWatcher<Result>::finished, this, [this] {
        const Result r = watcher_->result();
        switch (r.kind) {
        case Result::Kind::Cancelled: Q_EMIT cancelled(); return;
        case Result::Kind::Failed: Q_EMIT failed(r.message); return;
        case Result::Kind::Finished: Q_EMIT finished(path_, r.value); return;
        }
    });
}

BundleJob::~BundleJob() {
    if (token_) token_->cancel();
    watcher_->waitForFinished();
}

bool BundleJob::isRunning() const { return watcher_->isRunning(); }

void BundleJob::cancel() {
    if (token_) token_->cancel();
}

void BundleJob::start(const QString& bundlePath, Work work) {
    if (isRunning()) return;
    token_ = std::make_shared<CancellationToken>();
    path_ = bundlePath;
    const Progress progress = queuedProgress(this, &BundleJob::onProgress, token_.get());
    auto token = token_;
    watcher_->setFuture(QtConcurrent::run([bundlePath, work = std::move(work), token, progress]() -> Result {
        try {
            Study study = loadStudy(bundlePath);
            const int value = work(study, progress);
            token->throwIfCancelled();   // nothing is written after a cancel
            saveBundle(study, bundlePath);
            return {Result::Kind::Finished, {}, value};
        } catch (const Cancelled&) {
            return {Result::Kind::Cancelled, {}, -1};
        } catch (const Error& e) {
            if (token->isCancelled()) return {Result::Kind::Cancelled, {}, -1};
            return {Result::Kind::Failed, QString::fromStdString(e.what()), -1};
        } catch (const std::exception& e) {
            return {Result::Kind::Failed, QStringLiteral("unexpected error: ") + QString::fromUtf8(e.what()), -1};
        }
    }));
}

}  // namespace headlight::ui
