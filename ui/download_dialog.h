// File > Download Model (and the Run dialog's "Download…" button): fetches a Hugging Face hub model
// (`gpt2`, `EleutherAI/pythia-160m`, `org/name@revision`) into the standard hub cache on a worker
// thread (core/model/hub_download), with a progress bar, the file being fetched, and Cancel. An
// interrupted download resumes the next time; HF_ENDPOINT, HF_TOKEN, HF_HOME / HF_HUB_CACHE and
// HF_HUB_OFFLINE apply as for headlight-cli. The token is never shown or stored.
#pragma once

#include <memory>

#include <QDialog>
#include <QFutureWatcher>

#include "core/base/progress.h"

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace headlight::ui {

class DownloadDialog : public QDialog {
    Q_OBJECT
public:
    explicit DownloadDialog(QWidget* parent = nullptr);
    ~DownloadDialog() override;

    void setHubId(const QString& id);
    QString hubId() const;
    bool isRunning() const;
    QString snapshotDir() const { return snapshotDir_; }  // of the last successful download

    QLineEdit* hubIdEdit() const { return id_; }
    QPushButton* downloadButton() const { return download_; }
    QPushButton* cancelButton() const { return cancel_; }
    QPushButton* closeButton() const { return close_; }
    QProgressBar* progressBar() const { return progress_; }
    QLabel* statusLabel() const { return status_; }

public Q_SLOTS:
    void startDownload();
    void cancelDownload();

Q_SIGNALS:
    void downloaded(const QString& hubId, const QString& snapshotDir);
    void failed(const QString& message);

protected:
    void reject() override;  // Close / Esc while downloading cancels, then closes

private:
    struct Outcome {
        QString snapshotDir, error;
        bool cancelled = false;
        int files = 0;
        qint64 bytes = 0;
    };
    void onProgress(qint64 done, qint64 total, const QString& message);
    void onFinished();
    void setRunning(bool running);

    QLineEdit* id_;
    QLabel *cache_, *status_;
    QProgressBar* progress_;
    QPushButton *download_, *cancel_, *close_;
    QFutureWatcher<Outcome>* watcher_;
    std::shared_ptr<CancellationToken> token_;
    QString running_;      // the hub id being fetched
    QString snapshotDir_;
    bool closeWhenStopped_ = false;
};

}  // namespace headlight::ui
