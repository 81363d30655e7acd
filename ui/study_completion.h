// File > Complete Study…: adds what a bundle made by an older Headlight lacks (look-ups of the active
// heads, promoted / suppressed tokens, activation histograms; completeStudy, core/study/pipeline.h) with
// the study's model and corpus, on the worker pool behind a progress dialog with Cancel, and writes the
// bundle atomically (ui/bundle_job.h). Asks for the corpus when it is not where the study was made.
#pragma once

#include <memory>

#include <QObject>
#include <QString>

class QProgressDialog;
class QWidget;

namespace headlight {
struct Completion;
}

namespace headlight::ui {

class BundleJob;
class StudyDocument;

class StudyCompletion : public QObject {
    Q_OBJECT
public:
    explicit StudyCompletion(QWidget* parent);
    // What `document` lacks, in words ("" when nothing is missing).
    static QString missingText(const StudyDocument& document);
    // Starts completing `document` (its model must be found). False when nothing was started (nothing
    // missing, already running, or the user gave no corpus).
    bool start(const StudyDocument& document);
    bool isRunning() const;
    BundleJob* job() const { return job_; }

Q_SIGNALS:
    void completed(const QString& bundlePath, const QString& summary);   // written: reopen it
    void failed(const QString& message);

private:
    QWidget* parent_;
    BundleJob* job_;
    QProgressDialog* progress_ = nullptr;
    std::shared_ptr<Completion> added_;   // what the running job added (written on the worker)
};

}  // namespace headlight::ui
