// Validate > Ablate Heads…: the causal experiments of core/analysis/ablation.h on the open study, run
// by a BundleJob on the worker pool (progress, Cancel) and written into the bundle atomically;
// ablationReady() tells the window to reopen the bundle and show the new records in the Overview.
// Fields: mode (zero / mean / resample / path), heads ("L1H2, L2H0": each alone and together; empty:
// each neuron's relevant heads), neurons ("L3N5, L3N9": a group; empty: every neuron), resample seed.
#pragma once

#include <memory>

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace headlight::ui {

class BundleJob;
class StudyDocument;

class AblationDialog : public QDialog {
    Q_OBJECT
public:
    explicit AblationDialog(QWidget* parent = nullptr);
    // The study to ablate; `neuron` (a bundle index, -1: none) fills the Neurons field.
    void setDocument(std::shared_ptr<const StudyDocument> document, int neuron);

    QComboBox* modeBox() const { return mode_; }
    QLineEdit* headsField() const { return heads_; }
    QLineEdit* neuronsField() const { return neurons_; }
    QPushButton* runButton() const { return run_; }
    QPushButton* cancelButton() const { return cancel_; }
    QLabel* statusLabel() const { return status_; }
    BundleJob* runner() const { return runner_; }

Q_SIGNALS:
    void ablationReady(const QString& bundlePath, int firstRecord);

private:
    void start();
    void setRunning(bool running);
    std::shared_ptr<const StudyDocument> document_;
    BundleJob* runner_;
    QComboBox* mode_;
    QLineEdit* heads_;
    QLineEdit* neurons_;
    QSpinBox* seed_;
    QProgressBar* progress_;
    QLabel* status_;
    QPushButton* run_;
    QPushButton* cancel_;
};

}  // namespace headlight::ui
