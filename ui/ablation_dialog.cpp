#include "ui/ablation_dialog.h"

#include <algorithm>

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/base/error.h"
#include "core/study/pipeline.h"
#include "ui/bundle_job.h"
#include "ui/study_document.h"

namespace headlight::ui {

AblationDialog::AblationDialog(QWidget* parent)
    : QDialog(parent), runner_(new BundleJob(this)), mode_(new QComboBox(this)), heads_(new QLineEdit(this)),
      neurons_(new QLineEdit(this)), seed_(new QSpinBox(this)), progress_(new QProgressBar(this)), status_(new QLabel(this)),
      run_(new QPushButton(tr("&Run"), this)), cancel_(new QPushButton(tr("&Cancel"), this)) {
    setObjectName(QStringLiteral("ablationDialog"));
    setWindowTitle(tr("Ablate Heads"));
    mode_->addItem(tr("Zero (the paper's: the head's values set to 0)"), QStringLiteral("zero"));
    mode_->addItem(tr("Mean (the head's output set to its mean over the study)"), QStringLiteral("mean"));
    mode_->addItem(tr("Resample (the head's output from another context)"), QStringLiteral("resample"));
    mode_->addItem(tr("Path patching head → neuron (direct vs total effect)"), QStringLiteral("path"));
    heads_->setPlaceholderText(tr("each neuron's relevant heads, e.g. L1H2, L2H0"));
    neurons_->setPlaceholderText(tr("every neuron, e.g. L3N5, L3N9 (a group)"));
    seed_->setRange(0, 1000000);
    auto* form = new QFormLayout;
    form->addRow(tr("&Mode:"), mode_);
    form->addRow(tr("&Heads:"), heads_);
    form->addRow(tr("&Neurons:"), neurons_);
    form->addRow(tr("Resample &seed:"), seed_);
    auto* note = new QLabel(tr("Named heads are ablated each alone and all together; two or more neurons form a group "
                               "whose shared relevant heads are also ablated together. Effects on p(token) and on the "
                               "neuron's activation at the last position are written into the bundle."), this);
    note->setWordWrap(true);
    status_->setObjectName(QStringLiteral("ablationStatus"));
    status_->setTextFormat(Qt::PlainText);
    status_->setWordWrap(true);
    progress_->setRange(0, 1);
    progress_->setValue(0);
    run_->setObjectName(QStringLiteral("ablationRun"));
    run_->setDefault(true);
    cancel_->setObjectName(QStringLiteral("ablationCancel"));
    cancel_->setEnabled(false);
    auto* close = new QPushButton(tr("Close"), this);
    auto* buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(run_);
    buttons->addWidget(cancel_);
    buttons->addWidget(close);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(progress_);
    layout->addWidget(status_);
    layout->addLayout(buttons);
    connect(run_, &QPushButton::clicked, this, &AblationDialog::start);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        runner_->cancel();
        status_->setText(tr("Cancelling…"));
        cancel_->setEnabled(false);
    });
    connect(close, &QPushButton::clicked, this, &QDialog::hide);
    connect(runner_, &BundleJob::progress, this, [this](qint64 done, qint64 total, const QString& message) {
        progress_->setRange(0, total > 0 ? 1000 : 0);
        if (total > 0) progress_->setValue(int(1000.0 * double(done) / double(total)));
        status_->setText(message);
    });
    connect(runner_, &BundleJob::finished, this, [this](const QString& path, int first) {
        setRunning(false);
        progress_->setRange(0, 1);
        progress_->setValue(1);
        status_->setText(tr("Done: the results are in the bundle and the Overview."));
        Q_EMIT ablationReady(path, first);
    });
    connect(runner_, &BundleJob::failed, this, [this](const QString& message) {
        setRunning(false);
        progress_->setRange(0, 1);
        progress_->setValue(0);
        status_->setText(tr("Failed: %1").arg(message));
    });
    connect(runner_, &BundleJob::cancelled, this, [this] {
        setRunning(false);
        progress_->setRange(0, 1);
        progress_->setValue(0);
        status_->setText(tr("Cancelled: the bundle is unchanged."));
    });
}

void AblationDialog::setDocument(std::shared_ptr<const StudyDocument> document, int neuron) {
    if (runner_->isRunning()) return;
    document_ = std::move(document);
    if (document_ && neuron >= 0 && neuron < document_->neuronCount()) neurons_->setText(document_->neuronLabel(neuron));
    const bool model = document_ && !document_->modelPath().isEmpty();
    run_->setEnabled(model);
    status_->setText(!document_ ? tr("Open a study first.")
                     : model   ? tr("Model: %1").arg(document_->modelPath())
                               : tr("The study's model was not found: File > Locate Model… first."));
}

void AblationDialog::setRunning(bool running) {
    run_->setEnabled(!running && document_ && !document_->modelPath().isEmpty());
    cancel_->setEnabled(running);
    for (QWidget* w : std::initializer_list<QWidget*>{mode_, heads_, neurons_, seed_}) w->setEnabled(!running);
}

void AblationDialog::start() {
    if (!document_ || runner_->isRunning()) return;
    analysis::AblationOptions o;
    try {   // bad input is refused here, before any work, with the core's one-line message
        o.mode = parseAblationMode(mode_->currentData().toString().toStdString());
        o.heads = parseHeadList(heads_->text().toStdString(), document_->nLayers(), document_->nHeads(), "Heads");
        o.neurons = parseNeuronList(neurons_->text().toStdString(), "Neurons");
    } catch (const Error& e) {
        status_->setText(QString::fromStdString(e.what()));
        return;
    }
    o.seed = uint64_t(seed_->value());
    setRunning(true);
    progress_->setRange(0, 0);
    status_->setText(tr("Loading the model…"));
    runner_->start(document_->path(), [model = document_->modelPath(), o](Study& study, const Progress& progress) {
        const std::vector<std::size_t> at = addAblations(study, o, model, progress);
        return at.empty() ? -1 : int(*std::min_element(at.begin(), at.end()));
    });
}

}  // namespace headlight::ui
