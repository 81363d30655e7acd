#include "ui/download_dialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/model/hub_download.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

DownloadDialog::DownloadDialog(QWidget* parent) : QDialog(parent), watcher_(new QFutureWatcher<Outcome>(this)) {
    setWindowTitle(tr("Download Model"));
    setObjectName(QStringLiteral("downloadDialog"));
    id_ = new QLineEdit(this);
    id_->setObjectName(QStringLiteral("hubId"));
    id_->setPlaceholderText(tr("e.g. gpt2, EleutherAI/pythia-160m, org/name@revision"));
    id_->setMinimumWidth(360);
    const hub::HubSettings settings = hub::HubSettings::fromEnvironment();
    cache_ = new QLabel(this);
    cache_->setTextFormat(Qt::PlainText);
    cache_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cache_->setText(QDir::toNativeSeparators(settings.cacheDir) + (settings.offline ? tr("  (HF_HUB_OFFLINE: cache only)") : QString()));
    auto* endpoint = new QLabel(settings.endpoint, this);
    endpoint->setTextFormat(Qt::PlainText);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setValue(0);
    progress_->setTextVisible(true);
    progress_->setFormat(QStringLiteral("%p%"));
    status_ = new QLabel(tr("Config, safetensors weights (sharded too) and tokenizer files are fetched; "
                            "what the cache already has is reused."), this);
    status_->setObjectName(QStringLiteral("downloadStatus"));
    status_->setTextFormat(Qt::PlainText);  // server messages are shown literally
    status_->setWordWrap(true);
    status_->setMinimumWidth(420);

    auto* form = new QFormLayout;
    form->addRow(tr("&Hub id:"), id_);
    form->addRow(tr("Hub:"), endpoint);
    form->addRow(tr("Cache:"), cache_);

    auto* buttons = new QDialogButtonBox(this);
    download_ = buttons->addButton(tr("&Download"), QDialogButtonBox::AcceptRole);
    download_->setDefault(true);
    cancel_ = buttons->addButton(tr("Cancel download"), QDialogButtonBox::ActionRole);
    close_ = buttons->addButton(QDialogButtonBox::Close);
    cancel_->setEnabled(false);
    // AcceptRole would close the dialog: wire the buttons by hand.
    connect(download_, &QPushButton::clicked, this, &DownloadDialog::startDownload);
    connect(cancel_, &QPushButton::clicked, this, &DownloadDialog::cancelDownload);
    connect(close_, &QPushButton::clicked, this, &DownloadDialog::reject);
    connect(id_, &QLineEdit::returnPressed, this, &DownloadDialog::startDownload);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(progress_);
    layout->addWidget(status_);
    layout->addWidget(buttons);

    connect(watcher_, &QFutureWatcher<Outcome>::finished, this, &DownloadDialog::onFinished);
}

DownloadDialog::~DownloadDialog() {
    if (token_) token_->cancel();
    watcher_->waitForFinished();
}

void DownloadDialog::setHubId(const QString& id) { id_->setText(id.trimmed()); }
QString DownloadDialog::hubId() const { return id_->text().trimmed(); }
bool DownloadDialog::isRunning() const { return watcher_->isRunning(); }

void DownloadDialog::setRunning(bool running) {
    download_->setEnabled(!running);
    id_->setReadOnly(running);
    cancel_->setEnabled(running);
}

void DownloadDialog::startDownload() {
    if (isRunning()) return;
    const QString text = hubId();
    hub::HubId id;
    try {
        id = hub::parseHubId(text);
    } catch (const Error& e) {
        status_->setText(QString::fromStdString(e.what()));
        return;
    }
    running_ = text;
    snapshotDir_.clear();
    closeWhenStopped_ = false;
    token_ = std::make_shared<CancellationToken>();
    setRunning(true);
    progress_->setRange(0, 0);  // busy until the file list is known
    status_->setText(tr("Asking the hub for %1…").arg(text));
    const Progress progress = queuedProgress(this, &DownloadDialog::onProgress, token_.get());
    auto token = token_;
    watcher_->setFuture(QtConcurrent::run([id, token, progress]() -> Outcome {
        Outcome out;
        try {
            // Settings are read here, on the worker: the environment as it is when the download starts.
            const hub::DownloadResult r = hub::downloadModel(id, hub::HubSettings::fromEnvironment(), progress);
            out.snapshotDir = r.snapshotDir;
            out.files = r.filesDownloaded;
            out.bytes = r.bytesDownloaded;
        } catch (const Cancelled&) {
            out.cancelled = true;
        } catch (const Error& e) {
            if (token->isCancelled()) out.cancelled = true;
            else out.error = QString::fromStdString(e.what());
        } catch (const std::exception& e) {
            out.error = QStringLiteral("unexpected error: ") + QString::fromUtf8(e.what());
        }
        return out;
    }));
}

void DownloadDialog::cancelDownload() {
    if (!token_ || !isRunning()) return;
    token_->cancel();
    status_->setText(tr("Cancelling…"));
}

void DownloadDialog::onProgress(qint64 done, qint64 total, const QString& message) {
    if (!isRunning()) return;
    if (total > 0) {
        progress_->setRange(0, 1000);
        progress_->setValue(int(std::min<qint64>(1000, done * 1000 / total)));
    }
    if (!message.isEmpty()) status_->setText(message);
}

void DownloadDialog::onFinished() {
    const Outcome out = watcher_->result();
    setRunning(false);
    if (closeWhenStopped_) {
        closeWhenStopped_ = false;
        QDialog::reject();
    }
    progress_->setRange(0, 1000);
    if (out.cancelled) {
        progress_->setValue(0);
        status_->setText(tr("Cancelled. What was fetched is kept; Download resumes from there."));
        return;
    }
    if (!out.error.isEmpty()) {
        progress_->setValue(0);
        status_->setText(tr("Download failed: %1").arg(out.error));
        Q_EMIT failed(out.error);
        return;
    }
    progress_->setValue(1000);
    snapshotDir_ = out.snapshotDir;
    status_->setText((out.files > 0 ? tr("Downloaded %1 files (%2 MB) to %3")
                                          .arg(out.files)
                                          .arg(double(out.bytes) / 1e6, 0, 'f', 1)
                                          .arg(QDir::toNativeSeparators(out.snapshotDir))
                                    : tr("Already in the cache: %1").arg(QDir::toNativeSeparators(out.snapshotDir))));
    Q_EMIT downloaded(running_, out.snapshotDir);
}

void DownloadDialog::reject() {
    if (isRunning()) {  // cancel; the dialog closes when the worker has stopped
        closeWhenStopped_ = true;
        cancelDownload();
        return;
    }
    QDialog::reject();
}

}  // namespace headlight::ui
