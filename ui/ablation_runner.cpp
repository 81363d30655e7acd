#include "ui/ablation_runner.h"

#include <algorithm>

#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/study/bundle.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

AblationRunner::AblationRunner(QObject* parent) : QObject(parent), watcher_(new QFutureWatcher<Result>(this)) {
    connect(watcher_, &QFutureWatcher<Result>::finished, this, [this] {
        const Result r = watcher_->result();
        switch (r.kind) {
        case Result::Kind::Cancelled: Q_EMIT cancelled(); return;
        case Result::Kind::Failed: Q_EMIT failed(r.message); return;
        case Result::Kind::Finished: Q_EMIT finished(path_, r.firstRecord); return;
        }
    });
}

AblationRunner::~AblationRunner() {
    if (token_) token_->cancel();
    watcher_->waitForFinished();
}

bool AblationRunner::isRunning() const { return watcher_->isRunning(); }

void AblationRunner::cancel() {
    if (token_) token_->cancel();
}

void AblationRunner::start(const QString& bundlePath, const QString& model, const analysis::AblationOptions& options) {
    if (isRunning()) return;
    token_ = std::make_shared<CancellationToken>();
    path_ = bundlePath;
    const Progress progress = queuedProgress(this, &AblationRunner::onProgress, token_.get());
    auto token = token_;
    watcher_->setFuture(QtConcurrent::run([bundlePath, model, options, token, progress]() -> Result {
        try {
            Study study = loadStudy(bundlePath);
            const std::vector<std::size_t> at = addAblations(study, options, model, progress);
            token->throwIfCancelled();   // nothing is written after a cancel
            saveBundle(study, bundlePath);
            return {Result::Kind::Finished, {}, at.empty() ? -1 : int(*std::min_element(at.begin(), at.end()))};
        } catch (const Cancelled&) {
            return {Result::Kind::Cancelled, {}, 0};
        } catch (const Error& e) {
            if (token->isCancelled()) return {Result::Kind::Cancelled, {}, 0};
            return {Result::Kind::Failed, QString::fromStdString(e.what()), 0};
        } catch (const std::exception& e) {
            return {Result::Kind::Failed, QStringLiteral("unexpected error: ") + QString::fromUtf8(e.what()), 0};
        }
    }));
}

}  // namespace headlight::ui
