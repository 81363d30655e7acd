#include "ui/validate_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHostAddress>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QUrl>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/explain/llm_steps.h"
#include "core/explain/study_job.h"
#include "core/llm/prompts.h"
#include "core/study/bundle.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

struct ValidateDialog::Options {
    explain::LlmStepsOptions steps;
    QString heldOut;
};

namespace {

// A server on this machine (vLLM, llama.cpp) usually takes no key; a remote one needs one.
bool isLocal(const QString& baseUrl) {
    const QString host = QUrl(baseUrl).host();
    const QHostAddress address(host);
    return host == QLatin1String("localhost") || (!address.isNull() && address.isLoopback());
}

QDoubleSpinBox* priceBox(QWidget* parent, const QString& name) {
    auto* box = new QDoubleSpinBox(parent);
    box->setObjectName(name);
    box->setRange(0, 10000);
    box->setDecimals(3);
    box->setSuffix(QStringLiteral(" USD / 1M tokens"));
    return box;
}

}  // namespace

ValidateDialog::ValidateDialog(QWidget* parent) : QDialog(parent), watcher_(new QFutureWatcher<Result>(this)) {
    setObjectName(QStringLiteral("validateDialog"));
    auto* form = new QFormLayout;
    modeBox_ = new QComboBox(this);
    modeBox_->addItems({tr("Explain heads (step 4)"), tr("Score explanations (step 5)")});
    offline_ = new QCheckBox(tr("Offline baseline only (no LLM request, free)"), this);
    endpoint_ = new QLineEdit(this);
    explainerModel_ = new QLineEdit(this);
    classifierModel_ = new QLineEdit(this);
    apiKey_ = new QLineEdit(this);
    apiKey_->setEchoMode(QLineEdit::Password);
    apiKey_->setPlaceholderText(tr("kept in memory for this session only; or set OPENAI_API_KEY"));
    concurrency_ = new QSpinBox(this);
    concurrency_->setRange(1, 256);
    heldOut_ = new QLineEdit(this);
    heldOut_->setObjectName(QStringLiteral("heldOutCorpus"));
    browse_ = new QPushButton(tr("Browse…"), this);
    auto* heldOutRow = new QHBoxLayout;
    heldOutRow->addWidget(heldOut_);
    heldOutRow->addWidget(browse_);
    tests_ = new QSpinBox(this);
    tests_->setObjectName(QStringLiteral("testsPerHead"));
    tests_->setRange(2, 1000);
    tests_->setValue(10);
    tests_->setToolTip(tr("Held-out test contexts per (neuron, head): one classifier request each (paper: 10)"));
    detect_ = new QSpinBox(this);
    detect_->setObjectName(QStringLiteral("detection"));
    detect_->setRange(0, 50);
    detect_->setSpecialValueText(tr("off: one Yes/No request per context"));
    detect_->setSuffix(tr(" contexts per request"));
    detect_->setToolTip(tr("Detection-style scoring: several test contexts in one request, the model names those "
                           "where the head is active (cheaper per label; no AUC)"));
    promptPrice_ = priceBox(this, QStringLiteral("promptPrice"));
    completionPrice_ = priceBox(this, QStringLiteral("completionPrice"));
    form->addRow(tr("Step:"), modeBox_);
    form->addRow(QString(), offline_);
    form->addRow(tr("Endpoint:"), endpoint_);
    form->addRow(tr("Explainer model:"), explainerModel_);
    form->addRow(tr("Classifier model:"), classifierModel_);
    form->addRow(tr("API key:"), apiKey_);
    form->addRow(tr("Concurrency:"), concurrency_);
    form->addRow(tr("Held-out corpus:"), heldOutRow);
    form->addRow(tr("Test contexts per head:"), tests_);
    form->addRow(tr("Detection:"), detect_);
    form->addRow(tr("Prompt price:"), promptPrice_);
    form->addRow(tr("Completion price:"), completionPrice_);
    estimate_ = new QLabel(this);
    estimate_->setObjectName(QStringLiteral("costEstimate"));
    estimate_->setWordWrap(true);
    progress_ = new QProgressBar(this);
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("validateStatus"));
    status_->setWordWrap(true);
    status_->setTextFormat(Qt::PlainText);
    auto* buttons = new QDialogButtonBox(this);
    run_ = buttons->addButton(tr("&Run"), QDialogButtonBox::AcceptRole);
    cancel_ = buttons->addButton(tr("&Cancel Run"), QDialogButtonBox::ActionRole);
    QPushButton* close = buttons->addButton(QDialogButtonBox::Close);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(estimate_);
    layout->addWidget(progress_);
    layout->addWidget(status_);
    layout->addWidget(buttons);

    setLlmSettings(loadLlmSettings());
    QSettings settings;
    promptPrice_->setValue(settings.value(QStringLiteral("validate/promptPrice"), 0.0).toDouble());
    completionPrice_->setValue(settings.value(QStringLiteral("validate/completionPrice"), 0.0).toDouble());
    heldOut_->setText(settings.value(QStringLiteral("run/heldOut")).toString());
    connect(modeBox_, &QComboBox::currentIndexChanged, this, [this](int i) { setMode(i == 0 ? Mode::Explain : Mode::Score); });
    for (QLineEdit* e : {endpoint_, explainerModel_, classifierModel_}) connect(e, &QLineEdit::editingFinished, this, &ValidateDialog::updateEstimate);
    connect(offline_, &QCheckBox::toggled, this, &ValidateDialog::updateEstimate);
    connect(tests_, &QSpinBox::valueChanged, this, &ValidateDialog::updateEstimate);
    connect(detect_, &QSpinBox::valueChanged, this, &ValidateDialog::updateEstimate);
    for (QDoubleSpinBox* b : {promptPrice_, completionPrice_}) connect(b, &QDoubleSpinBox::valueChanged, this, &ValidateDialog::updateEstimate);
    connect(browse_, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Held-out corpus"), heldOut_->text(),
                                                       tr("Corpora (*.jsonl *.json *.txt);;All files (*)"));
        if (!f.isEmpty()) heldOut_->setText(f);
    });
    connect(run_, &QPushButton::clicked, this, &ValidateDialog::startRun);
    connect(cancel_, &QPushButton::clicked, this, &ValidateDialog::cancelRun);
    connect(close, &QPushButton::clicked, this, &ValidateDialog::reject);
    connect(watcher_, &QFutureWatcher<Result>::finished, this, [this] { onResult(watcher_->result()); });
    setRunning(false);
    setMode(Mode::Explain);
}

ValidateDialog::~ValidateDialog() {
    if (token_) token_->cancel();
    watcher_->waitForFinished();
}

bool ValidateDialog::setStudy(const QString& bundlePath, const QString& modelPath) {
    bundlePath_ = bundlePath;
    modelPath_ = modelPath;
    study_.reset();
    try {
        study_ = std::make_unique<Study>(loadStudy(bundlePath));
    } catch (const Error& e) {
        status_->setText(tr("Cannot read the study: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
    setWindowTitle(tr("Validate %1").arg(QFileInfo(bundlePath).fileName()));
    updateEstimate();
    return true;
}

void ValidateDialog::setMode(Mode mode) {
    mode_ = mode;
    const bool score = mode == Mode::Score;
    if (modeBox_->currentIndex() != (score ? 1 : 0)) modeBox_->setCurrentIndex(score ? 1 : 0);
    for (QWidget* w : {static_cast<QWidget*>(heldOut_), static_cast<QWidget*>(browse_), static_cast<QWidget*>(tests_), static_cast<QWidget*>(detect_)})
        w->setEnabled(score && !isRunning());
    updateEstimate();
}

void ValidateDialog::setLlmSettings(const LlmSettings& s) {
    endpoint_->setText(s.endpoint);
    explainerModel_->setText(s.explainerModel);
    classifierModel_->setText(s.classifierModel);
    concurrency_->setValue(s.concurrency);
    offline_->setChecked(s.offlineOnly);
    updateEstimate();
}

void ValidateDialog::setOfflineBaseline(bool offline) { offline_->setChecked(offline); }
void ValidateDialog::setHeldOutCorpus(const QString& path) { heldOut_->setText(path); }
void ValidateDialog::setTestsPerHead(int tests) { tests_->setValue(tests); }
void ValidateDialog::setPrices(double prompt, double completion) {
    promptPrice_->setValue(prompt);
    completionPrice_->setValue(completion);
}

ValidateDialog::Options ValidateDialog::jobOptions() const {
    Options o;
    explain::LlmStepsOptions& s = o.steps;
    s.useLlm = !offline_->isChecked();
    s.explainer.baseUrl = endpoint_->text().trimmed().toStdString();
    s.explainer.model = explainerModel_->text().trimmed().toStdString();
    s.explainer.apiKey = (apiKey_->text().isEmpty() ? sessionApiKey() : apiKey_->text()).toStdString();  // memory only
    s.explainer.promptPricePerMillion = promptPrice_->value();
    s.explainer.completionPricePerMillion = completionPrice_->value();
    s.classifier = s.explainer;
    if (!classifierModel_->text().trimmed().isEmpty()) s.classifier.model = classifierModel_->text().trimmed().toStdString();
    s.client.concurrency = concurrency_->value();
    s.scorerSettings.testsPerHead = tests_->value();
    s.scorerSettings.detect = detect_->value();
    o.heldOut = heldOut_->text().trimmed();
    return o;
}

void ValidateDialog::updateEstimate() {
    if (!study_) {
        estimate_->setText(tr("Estimate: no study"));
        return;
    }
    const Options o = jobOptions();
    if (!o.steps.useLlm) {
        estimate_->setText(tr("Estimate: the offline baseline sends no request (free)."));
        return;
    }
    const bool score = mode_ == Mode::Score;
    explain::ScorerSettings scorer = o.steps.scorerSettings;
    const std::vector<llm::ChatRequest> requests =
        score ? explain::estimatedScoreRequests(*study_, scorer) : explain::explainRequests(*study_, o.steps.explainerSettings);
    const llm::Endpoint& endpoint = score ? o.steps.classifier : o.steps.explainer;
    const explain::CostEstimate e = explain::estimateCost(requests, endpoint, o.steps.cacheDir, o.steps.useCache);
    QString text = tr("Estimate (%1): %2").arg(QString::fromStdString(endpoint.model), QString::fromStdString(e.text()));
    if (score) text += tr(" — %1 test contexts per head; lengths estimated from the study's own contexts").arg(tests_->value());
    estimate_->setText(text);
}

QString ValidateDialog::checkBeforeRun() const {
    if (!study_) return tr("No study to validate.");
    const Options o = jobOptions();
    if (mode_ == Mode::Explain && explain::relevantTargets(*study_).empty()) return tr("The study has no relevant heads to explain.");
    if (mode_ == Mode::Score) {
        if (study_->explanations.empty()) return tr("The study has no explanations: explain the heads first.");
        if (o.heldOut.isEmpty() || !QFileInfo::exists(o.heldOut)) return tr("Pick a held-out corpus (a file or folder that exists).");
        if (modelPath_.isEmpty()) return tr("The study's model was not found (File > Locate Model): it labels the held-out corpus.");
    }
    if (o.steps.useLlm) {
        if (o.steps.explainer.baseUrl.empty() || o.steps.explainer.model.empty())
            return tr("Give an endpoint and a model, or tick \"Offline baseline only\".");
        if (o.steps.explainer.apiKey.empty() && !isLocal(endpoint_->text().trimmed()))
            return tr("No API key: enter one (kept in memory only) or set OPENAI_API_KEY, or use the offline baseline.");
    }
    return {};
}

void ValidateDialog::startRun() {
    if (isRunning()) return;
    const QString problem = checkBeforeRun();
    if (!problem.isEmpty()) {
        status_->setText(problem);
        return;
    }
    if (!apiKey_->text().isEmpty()) setSessionApiKey(apiKey_->text());
    QSettings settings;
    settings.setValue(QStringLiteral("validate/promptPrice"), promptPrice_->value());
    settings.setValue(QStringLiteral("validate/completionPrice"), completionPrice_->value());
    Options o = jobOptions();
    try {
        o.steps.explainerSettings.promptTemplate = llm::loadTemplate("explainer");
        o.steps.scorerSettings.promptTemplate = llm::loadTemplate("classifier");
        o.steps.scorerSettings.detectorTemplate = llm::loadTemplate("detector");
    } catch (const Error& e) {
        status_->setText(QString::fromStdString(e.what()));
        return;
    }
    token_ = std::make_shared<CancellationToken>();
    const Progress progress = queuedProgress(this, &ValidateDialog::onProgress, token_.get());
    const QString path = bundlePath_, model = modelPath_;
    const bool score = mode_ == Mode::Score;
    auto token = token_;
    setRunning(true);
    progress_->setRange(0, 0);
    status_->setText(tr("Starting…"));
    watcher_->setFuture(QtConcurrent::run([o, path, model, score, token, progress]() -> Result {
        try {
            Study study = loadStudy(path);
            const explain::StepReport report = score ? explain::labelAndScore(study, model, o.heldOut, o.steps, progress)
                                                     : explain::explainStudy(study, o.steps, progress);
            progress.throwIfCancelled();  // a cancel after the last check must not write the bundle
            saveBundle(study, path);      // atomic: the open window keeps reading the old file until it reopens
            QString message = QString::fromStdString(report.failureText(score ? "classifier" : "explainer"));
            if (!report.cacheText().empty()) message += (message.isEmpty() ? "" : "\n") + QString::fromStdString(report.cacheText());
            return {Result::Kind::Finished, message};
        } catch (const Cancelled&) {
            return {Result::Kind::Cancelled, {}};
        } catch (const std::exception& e) {
            if (token->isCancelled()) return {Result::Kind::Cancelled, {}};
            return {Result::Kind::Failed, QString::fromUtf8(e.what())};
        }
    }));
}

void ValidateDialog::cancelRun() {
    if (token_ && isRunning()) {
        token_->cancel();
        status_->setText(tr("Cancelling…"));
    }
}

void ValidateDialog::onProgress(qint64 done, qint64 total, const QString& message) {
    if (total > 0) {
        progress_->setRange(0, 1000);
        progress_->setValue(int(1000 * double(done) / double(total)));
    }
    status_->setText(message);
}

void ValidateDialog::onResult(const Result& result) {
    setRunning(false);  // before the signals: a slot may start the next run
    switch (result.kind) {
    case Result::Kind::Cancelled:
        status_->setText(tr("Cancelled: the bundle is unchanged."));
        Q_EMIT runCancelled();
        return;
    case Result::Kind::Failed:
        status_->setText(tr("Failed: %1").arg(result.message));
        Q_EMIT runFailed(result.message);
        return;
    case Result::Kind::Finished:
        status_->setText(result.message.isEmpty() ? tr("Done: the bundle was updated.")
                                                  : tr("Done, with failures (run again to retry only them):\n%1").arg(result.message));
        progress_->setRange(0, 1);
        progress_->setValue(1);
        setStudy(bundlePath_, modelPath_);
        Q_EMIT bundleUpdated(bundlePath_);
        Q_EMIT runFinished(result.message);
        return;
    }
}

void ValidateDialog::setRunning(bool running) {
    running_ = running;
    run_->setEnabled(!running);
    cancel_->setEnabled(running);
    for (QWidget* w : std::initializer_list<QWidget*>{modeBox_, offline_, endpoint_, explainerModel_, classifierModel_, apiKey_,
                                                      concurrency_, promptPrice_, completionPrice_})
        w->setEnabled(!running);
    const bool score = mode_ == Mode::Score;
    for (QWidget* w : std::initializer_list<QWidget*>{heldOut_, browse_, tests_, detect_}) w->setEnabled(score && !running);
}

void ValidateDialog::reject() {
    if (isRunning()) {
        cancelRun();
        return;  // closes when the job has stopped (Close again)
    }
    QDialog::reject();
}

}  // namespace headlight::ui
