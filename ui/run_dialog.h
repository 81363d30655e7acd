// File > Run Study: model (folder or hub id), corpus, held-out corpus, layers and every parameter of
// METHOD.md with the paper's defaults, LLM settings; progress with ETA and Cancel. The pipeline runs on
// a worker thread (StudyRunner); when done, studyReady(path) gives the bundle to open.
#pragma once

#include <QDialog>

#include "core/study/pipeline.h"
#include "ui/app_settings.h"
#include "ui/study_runner.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QDialogButtonBox;

namespace headlight::ui {

class DownloadDialog;

class RunDialog : public QDialog {
    Q_OBJECT
public:
    explicit RunDialog(QWidget* parent = nullptr);

    PipelineOptions options() const;          // what the form says
    void setOptions(const PipelineOptions& options);
    QString heldOutCorpus() const;
    LlmJob llmJob() const;                    // steps 4-5 as the form says (API key from the session)
    void setHeldOutCorpus(const QString& path);
    void setLlmSettings(const LlmSettings& settings);  // fills the LLM group (not the key)
    StudyRunner* runner() const { return runner_; }
    // Where the result is written before it opens (a temporary bundle; Save As keeps it).
    void setOutputPath(const QString& path) { outputPath_ = path; }
    QString outputPath() const { return outputPath_; }
    QLineEdit* neuronsEdit() const { return neurons_; }  // "study exactly these neurons" (StudyParameters::neurons)
    QPushButton* runButton() const { return run_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* statusLabel() const { return status_; }
    DownloadDialog* downloadDialog();         // the "Download…" button's dialog (created on first use)

public Q_SLOTS:
    void startRun();
    void showDownloadDialog();  // pre-filled with the model field when it holds a hub id

Q_SIGNALS:
    void studyReady(const QString& path);

protected:
    void reject() override;

private:
    void setRunning(bool running);
    QLineEdit *model_, *corpus_, *heldOut_, *textField_, *layers_, *rejectTokens_, *rejectNeurons_, *neurons_;
    QSpinBox *topK_, *randomPerLayer_, *randomSeed_, *minTokenChars_, *topDocuments_, *maxDocuments_, *maxContext_,
        *prompts_, *batchTokens_, *concurrency_;
    QDoubleSpinBox *ratio_, *stdMultiplier_, *relevantMin_, *relevantMax_;
    QCheckBox *wordBoundary_, *sameLayer_, *mimicNewlines_, *raw_, *bf16_, *explain_, *offlineBaseline_;
    QComboBox* attributionScore_;
    QLineEdit *endpoint_, *explainerModel_, *classifierModel_, *apiKey_;
    QProgressBar* progress_;
    QLabel* status_;
    QPushButton *run_, *cancel_, *saveDefaults_;
    StudyRunner* runner_;
    QString outputPath_;
    DownloadDialog* download_ = nullptr;
    QString warning_;  // of the last run: LLM requests that failed for good
};

}  // namespace headlight::ui
