// Validate > Explain heads… and Validate > Score explanations… on the open bundle: steps 4 and 5 of
// METHOD.md run from the window with the LLM (endpoint, models, API key of the session) or the offline
// baseline. Score takes a held-out corpus picked here, the number of test contexts per head, optionally
// detection-style scoring (several contexts per request), and shows
// the cost estimate (requests, tokens, USD at the prices given) before anything runs. The API key is
// checked before the run starts. The job is core's (explain::explainStudy, explain::labelAndScore of
// study_job.h) on the worker pool with progress and Cancel; the bundle is rewritten atomically when it
// finishes, and bundleUpdated(path) lets the window reopen it so the views show the new records.
#pragma once

#include <memory>

#include <QDialog>
#include <QFutureWatcher>

#include "core/base/progress.h"
#include "core/study/study.h"
#include "ui/app_settings.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace headlight::ui {

class ValidateDialog : public QDialog {
    Q_OBJECT
public:
    enum class Mode { Explain, Score };

    explicit ValidateDialog(QWidget* parent = nullptr);
    ~ValidateDialog() override;

    // The bundle to work on and its model (folder or hub id; needed to label the held-out corpus).
    // Reads the study (for the estimate); false, with the reason in the status line, if it cannot.
    bool setStudy(const QString& bundlePath, const QString& modelPath);
    void setMode(Mode mode);
    Mode mode() const { return mode_; }
    void setLlmSettings(const LlmSettings& settings);  // endpoint and models (not the key)
    void setOfflineBaseline(bool offline);
    void setHeldOutCorpus(const QString& path);
    void setTestsPerHead(int tests);
    void setPrices(double promptPerMillion, double completionPerMillion);

    QSpinBox* testsPerHeadBox() const { return tests_; }
    QSpinBox* detectionBox() const { return detect_; }  // contexts per request; 0: one Yes/No each
    QLabel* estimateLabel() const { return estimate_; }
    QLabel* statusLabel() const { return status_; }
    QPushButton* runButton() const { return run_; }
    QPushButton* cancelButton() const { return cancel_; }
    bool isRunning() const { return running_; }  // from Run until the result is handled (bundleUpdated sent)

public Q_SLOTS:
    void startRun();
    void cancelRun();
    void updateEstimate();

Q_SIGNALS:
    void bundleUpdated(const QString& path);  // the job finished and rewrote the bundle
    void runFinished(const QString& message);  // after bundleUpdated: "" or the failed requests
    void runFailed(const QString& message);
    void runCancelled();

protected:
    void reject() override;

private:
    struct Result {
        enum class Kind { Finished, Cancelled, Failed } kind = Kind::Finished;
        QString message;
    };
    void onProgress(qint64 done, qint64 total, const QString& message);
    void onResult(const Result& result);
    void setRunning(bool running);
    QString checkBeforeRun() const;  // "" or why the run cannot start
    struct Options;
    Options jobOptions() const;

    Mode mode_ = Mode::Explain;
    QString bundlePath_, modelPath_;
    std::unique_ptr<Study> study_;  // for the estimate (the run reads the bundle afresh)
    QComboBox* modeBox_;
    QCheckBox* offline_;
    QLineEdit *endpoint_, *explainerModel_, *classifierModel_, *apiKey_, *heldOut_;
    QSpinBox *tests_, *concurrency_, *detect_;
    QDoubleSpinBox *promptPrice_, *completionPrice_;
    QLabel *estimate_, *status_;
    QProgressBar* progress_;
    QPushButton *run_, *cancel_, *browse_;
    bool running_ = false;
    std::shared_ptr<CancellationToken> token_;
    QFutureWatcher<Result>* watcher_;
};

}  // namespace headlight::ui
