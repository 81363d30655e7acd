#include "ui/study_completion.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QProgressDialog>
#include <QWidget>

#include "core/study/bundle.h"
#include "core/study/pipeline.h"
#include "ui/bundle_job.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {

QString completionText(const Completion& c) {
    QStringList parts;
    if (c.lookups > 0) parts << QObject::tr("%n look-up(s)", nullptr, int(c.lookups));
    if (c.tokenFacts > 0) parts << QObject::tr("promoted / suppressed tokens of %n neuron(s)", nullptr, int(c.tokenFacts));
    if (c.histograms > 0) parts << QObject::tr("activation histograms of %n neuron(s)", nullptr, int(c.histograms));
    return parts.join(QStringLiteral(", "));
}

// The study's corpus as recorded, or beside the bundle when it was given relative to another folder.
QString recordedCorpus(const StudyDocument& document) {
    const QString corpus = QString::fromStdString(document.bundle().provenance().corpus);
    if (corpus.isEmpty() || QFileInfo::exists(corpus)) return corpus;
    const QString beside = QFileInfo(document.path()).dir().filePath(corpus);
    return QFileInfo(corpus).isRelative() && QFileInfo::exists(beside) ? beside : QString();
}

}  // namespace

StudyCompletion::StudyCompletion(QWidget* parent) : QObject(parent), parent_(parent), job_(new BundleJob(this)) {
    connect(job_, &BundleJob::progress, this, [this](qint64 done, qint64 total, const QString& message) {
        if (!progress_) return;
        progress_->setRange(0, total > 0 && total < (1 << 30) ? int(total) : 0);
        if (total > 0 && total < (1 << 30)) progress_->setValue(int(done));
        progress_->setLabelText(message);
    });
    const auto finish = [this] {
        if (progress_) progress_->deleteLater();
        progress_ = nullptr;
    };
    connect(job_, &BundleJob::finished, this, [this, finish](const QString& path, int) {
        finish();
        Q_EMIT completed(path, completionText(*added_));
    });
    connect(job_, &BundleJob::failed, this, [this, finish](const QString& message) {
        finish();
        Q_EMIT failed(message);
    });
    connect(job_, &BundleJob::cancelled, this, finish);
}

bool StudyCompletion::isRunning() const { return job_->isRunning(); }

QString StudyCompletion::missingText(const StudyDocument& document) {
    const Bundle& b = document.bundle();
    QStringList parts;
    if (!b.hasLookups()) parts << QObject::tr("look-ups");
    if (!b.hasTokenFacts()) parts << QObject::tr("promoted / suppressed tokens");
    if (!b.hasHistograms()) parts << QObject::tr("activation histograms");
    return parts.join(QStringLiteral(", "));
}

bool StudyCompletion::start(const StudyDocument& document) {
    if (isRunning() || missingText(document).isEmpty()) return false;
    CompletionOptions options;
    options.model = document.modelPath();
    if (!document.bundle().hasHistograms()) {
        options.corpus = recordedCorpus(document);
        if (options.corpus.isEmpty())
            options.corpus = QFileDialog::getOpenFileName(
                parent_, QObject::tr("Locate the corpus %1").arg(QString::fromStdString(document.bundle().provenance().corpus)));
        if (options.corpus.isEmpty()) return false;
    }
    progress_ = new QProgressDialog(QObject::tr("Loading the model…"), QObject::tr("Cancel"), 0, 0, parent_);
    progress_->setObjectName(QStringLiteral("completionProgress"));
    progress_->setWindowTitle(QObject::tr("Complete Study"));
    progress_->setMinimumDuration(0);
    progress_->setAutoClose(false);
    progress_->setAutoReset(false);
    connect(progress_, &QProgressDialog::canceled, job_, &BundleJob::cancel);
    progress_->show();
    auto added = std::make_shared<Completion>();
    added_ = added;
    job_->start(document.path(), [options, added](Study& study, const Progress& progress) {
        *added = completeStudy(study, options, progress);
        return int(added->total() > 0);
    });
    return true;
}

}  // namespace headlight::ui
