#include "ui/run_dialog.h"

#include <algorithm>

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QToolButton>
#include <QVBoxLayout>

#include "core/model/checkpoint.h"
#include "ui/app_settings.h"
#include "ui/download_dialog.h"
#include "ui/study_runner.h"

namespace headlight::ui {

namespace {

QSpinBox* spin(QWidget* parent, int lo, int hi, const QString& tip) {
    auto* s = new QSpinBox(parent);
    s->setRange(lo, hi);
    s->setToolTip(tip);
    return s;
}
QDoubleSpinBox* dspin(QWidget* parent, double lo, double hi, double step, const QString& tip) {
    auto* s = new QDoubleSpinBox(parent);
    s->setRange(lo, hi);
    s->setDecimals(3);
    s->setSingleStep(step);
    s->setToolTip(tip);
    return s;
}
QWidget* withBrowse(QLineEdit* edit, bool folder, QWidget* parent) {
    auto* w = new QWidget(parent);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(edit, 1);
    auto* b = new QToolButton(w);
    b->setText(QStringLiteral("…"));
    b->setToolTip(QObject::tr("Browse"));
    l->addWidget(b);
    QObject::connect(b, &QToolButton::clicked, w, [edit, folder, w] {
        const QString path = folder ? QFileDialog::getExistingDirectory(w, QObject::tr("Choose a folder"), edit->text())
                                    : QFileDialog::getOpenFileName(w, QObject::tr("Choose a file"), edit->text());
        if (!path.isEmpty()) edit->setText(path);
    });
    return w;
}
QString joinList(const std::vector<std::string>& v) {
    QStringList s;
    for (const auto& x : v) s << QString::fromStdString(x);
    return s.join(QLatin1Char(','));
}
std::vector<std::string> splitList(const QString& text) {
    std::vector<std::string> out;
    for (const QString& p : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) out.push_back(p.toStdString());
    return out;
}

}  // namespace

RunDialog::RunDialog(QWidget* parent) : QDialog(parent), runner_(new StudyRunner(this)) {
    setWindowTitle(tr("Run Study"));
    setObjectName(QStringLiteral("runDialog"));
    model_ = new QLineEdit(this);
    model_->setPlaceholderText(tr("checkpoint folder or hub id, e.g. gpt2"));
    corpus_ = new QLineEdit(this);
    corpus_->setPlaceholderText(tr("JSON Lines / text file or folder"));
    heldOut_ = new QLineEdit(this);
    heldOut_->setPlaceholderText(tr("for explanation scores (used by the LLM steps)"));
    textField_ = new QLineEdit(this);
    layers_ = new QLineEdit(this);
    layers_->setPlaceholderText(tr("e.g. 3,4 — empty: the last 3 layers"));
    rejectTokens_ = new QLineEdit(this);
    rejectTokens_->setPlaceholderText(tr("comma-separated token strings"));
    rejectNeurons_ = new QLineEdit(this);
    rejectNeurons_->setPlaceholderText(tr("e.g. L3N12,L4N7"));
    neurons_ = new QLineEdit(this);
    neurons_->setObjectName(QStringLiteral("studyNeurons"));
    neurons_->setPlaceholderText(tr("empty: select by congruence; e.g. L3N12,L4N7: study exactly these"));
    neurons_->setToolTip(tr("Study exactly these neurons (step 1's selection, K and the baseline are skipped; "
                            "layers default to theirs)"));
    topK_ = spin(this, 0, 100000, tr("K: next-token neurons kept per layer"));
    randomPerLayer_ = spin(this, 0, 100000, tr("random-baseline neurons per layer (0: none)"));
    randomSeed_ = spin(this, 0, 2147483647, tr("seed of the random baseline"));
    minTokenChars_ = spin(this, 0, 100, tr("the decoded token must have at least this many code points"));
    topDocuments_ = spin(this, 1, 100000, tr("N: documents kept per neuron by the scan"));
    maxDocuments_ = spin(this, 0, 2147483647, tr("corpus documents scanned (0: all)"));
    maxContext_ = spin(this, 2, 1000000, tr("drop contexts of this many tokens or more"));
    prompts_ = spin(this, 1, 100000, tr("P: contexts kept per neuron"));
    batchTokens_ = spin(this, 64, 1 << 24, tr("padded tokens per forward batch"));
    ratio_ = dspin(this, 0.001, 1, 0.05, tr("keep the shortest suffix with activation > ratio × max"));
    stdMultiplier_ = dspin(this, 0, 100, 0.5, tr("a head is active if s > mean + k · std"));
    relevantMin_ = dspin(this, 0, 1, 0.05, tr("relevant: active in at least this fraction of contexts"));
    relevantMax_ = dspin(this, 0, 1, 0.05, tr("... and at most this fraction"));
    wordBoundary_ = new QCheckBox(tr("Token must start a word"), this);
    sameLayer_ = new QCheckBox(tr("Candidate heads include the neuron's own layer"), this);
    attributionScore_ = new QComboBox(this);
    attributionScore_->setObjectName(QStringLiteral("attributionScore"));
    attributionScore_->addItem(tr("Up projection: r · W_in (the paper's)"), int(AttributionScore::UpProjection));
    attributionScore_->addItem(tr("Gate-aware (gated MLPs: through gate and up)"), int(AttributionScore::GateAware));
    attributionScore_->setToolTip(tr("How a head's output r is scored against the neuron. Gated MLPs (Llama-style) "
                                     "can be switched on through the gate, which the paper's up-projection score "
                                     "does not see; for other MLPs both are the paper's score."));
    mimicNewlines_ = new QCheckBox(tr("Mimic the paper's newline round trip"), this);
    raw_ = new QCheckBox(tr("Raw weights (no TransformerLens processing)"), this);
    bf16_ = new QCheckBox(tr("Compute in bfloat16"), this);

    auto* data = new QGroupBox(tr("Model and data"), this);
    auto* dataForm = new QFormLayout(data);
    {
        // The model: a folder (…) or a hub id; "Download…" fetches a hub id into the cache with progress.
        QWidget* row = withBrowse(model_, true, data);
        auto* fetch = new QToolButton(row);
        fetch->setText(tr("Download…"));
        fetch->setObjectName(QStringLiteral("downloadModel"));
        fetch->setToolTip(tr("Download a Hugging Face hub model into the hub cache"));
        row->layout()->addWidget(fetch);
        connect(fetch, &QToolButton::clicked, this, &RunDialog::showDownloadDialog);
        dataForm->addRow(tr("&Model:"), row);
    }
    dataForm->addRow(tr("&Corpus:"), withBrowse(corpus_, false, data));
    dataForm->addRow(tr("&Held-out corpus:"), withBrowse(heldOut_, false, data));
    dataForm->addRow(tr("JSON text &field:"), textField_);
    dataForm->addRow(tr("&Layers:"), layers_);
    dataForm->addRow(QString(), raw_);
    dataForm->addRow(QString(), bf16_);
    dataForm->addRow(tr("Batch tokens:"), batchTokens_);

    auto* method = new QGroupBox(tr("Method (METHOD.md; defaults are the paper's)"), this);
    auto* methodForm = new QFormLayout(method);
    methodForm->addRow(tr("Study these neurons:"), neurons_);
    methodForm->addRow(tr("Neurons per layer (K):"), topK_);
    methodForm->addRow(tr("Random baseline per layer:"), randomPerLayer_);
    methodForm->addRow(tr("Random seed:"), randomSeed_);
    methodForm->addRow(tr("Min. token length:"), minTokenChars_);
    methodForm->addRow(QString(), wordBoundary_);
    methodForm->addRow(tr("Reject tokens:"), rejectTokens_);
    methodForm->addRow(tr("Reject neurons:"), rejectNeurons_);
    methodForm->addRow(tr("Documents per neuron (N):"), topDocuments_);
    methodForm->addRow(tr("Documents scanned:"), maxDocuments_);
    methodForm->addRow(tr("Truncation ratio:"), ratio_);
    methodForm->addRow(tr("Max. context tokens:"), maxContext_);
    methodForm->addRow(tr("Prompts per neuron (P):"), prompts_);
    methodForm->addRow(QString(), sameLayer_);
    methodForm->addRow(tr("Head score:"), attributionScore_);
    methodForm->addRow(tr("Active: std multiplier:"), stdMultiplier_);
    methodForm->addRow(tr("Relevant: min. fraction:"), relevantMin_);
    methodForm->addRow(tr("Relevant: max. fraction:"), relevantMax_);
    methodForm->addRow(QString(), mimicNewlines_);

    auto* llm = new QGroupBox(tr("LLM explanations"), this);
    auto* llmForm = new QFormLayout(llm);
    explain_ = new QCheckBox(tr("Explain relevant heads (step 4), score on the held-out corpus (step 5)"), llm);
    explain_->setObjectName(QStringLiteral("explainCheck"));
    explain_->setToolTip(tr("One explainer request per relevant (neuron, head) and one classifier request per test context. "
                            "Replies are cached on disk: a rerun sends only what is missing."));
    auto* note = new QLabel(tr("The offline n-gram baseline is always computed too, so every head has a score to compare with."), llm);
    note->setWordWrap(true);
    note->setObjectName(QStringLiteral("llmNote"));
    endpoint_ = new QLineEdit(llm);
    explainerModel_ = new QLineEdit(llm);
    classifierModel_ = new QLineEdit(llm);
    concurrency_ = spin(llm, 1, 256, tr("parallel requests"));
    offlineBaseline_ = new QCheckBox(tr("Offline baseline only (no LLM requests)"), llm);
    offlineBaseline_->setObjectName(QStringLiteral("offlineOnlyCheck"));
    apiKey_ = new QLineEdit(llm);
    apiKey_->setEchoMode(QLineEdit::Password);
    apiKey_->setPlaceholderText(tr("kept in memory for this session only; or set OPENAI_API_KEY"));
    llmForm->addRow(explain_);
    llmForm->addRow(note);
    llmForm->addRow(tr("Endpoint:"), endpoint_);
    llmForm->addRow(tr("Explainer model:"), explainerModel_);
    llmForm->addRow(tr("Classifier model:"), classifierModel_);
    llmForm->addRow(tr("Concurrency:"), concurrency_);
    llmForm->addRow(QString(), offlineBaseline_);
    llmForm->addRow(tr("API key:"), apiKey_);

    auto* columns = new QWidget(this);
    auto* columnsLayout = new QHBoxLayout(columns);
    auto* left = new QVBoxLayout;
    left->addWidget(data);
    left->addWidget(llm);
    left->addStretch(1);
    columnsLayout->addLayout(left);
    columnsLayout->addWidget(method);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(columns);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);

    progress_ = new QProgressBar(this);
    progress_->setObjectName(QStringLiteral("runProgress"));
    progress_->setRange(0, 1);
    progress_->setValue(0);
    status_ = new QLabel(tr("Ready."), this);
    status_->setTextFormat(Qt::PlainText);
    status_->setObjectName(QStringLiteral("runStatus"));
    status_->setWordWrap(true);
    run_ = new QPushButton(tr("&Run"), this);
    run_->setObjectName(QStringLiteral("runButton"));
    run_->setDefault(true);
    cancel_ = new QPushButton(tr("&Cancel run"), this);
    cancel_->setObjectName(QStringLiteral("cancelButton"));
    cancel_->setEnabled(false);
    saveDefaults_ = new QPushButton(tr("Save as &defaults"), this);
    auto* close = new QPushButton(tr("Close"), this);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(saveDefaults_);
    buttons->addStretch(1);
    buttons->addWidget(run_);
    buttons->addWidget(cancel_);
    buttons->addWidget(close);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(scroll, 1);
    layout->addWidget(progress_);
    layout->addWidget(status_);
    layout->addLayout(buttons);
    // Wide enough for both columns (no horizontal scrolling); the rows scroll vertically on small screens.
    // As big as the form wants, but within the screen (1280x720 less the panel and title bar): the
    // form scrolls, nothing is clipped.
    QSize size(std::max(980, columns->sizeHint().width() + 2 * layout->contentsMargins().left() + 24), 740);
    if (const QScreen* s = screen()) size = size.boundedTo(s->availableGeometry().size() - QSize(16, 48));
    resize(size);

    setOptions(loadDefaultPipelineOptions());
    setLlmSettings(loadLlmSettings());
    QSettings settings;
    model_->setText(settings.value(QStringLiteral("run/model")).toString());
    corpus_->setText(settings.value(QStringLiteral("run/corpus")).toString());
    heldOut_->setText(settings.value(QStringLiteral("run/heldOut")).toString());

    connect(run_, &QPushButton::clicked, this, &RunDialog::startRun);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        runner_->cancel();
        status_->setText(tr("Cancelling…"));
        cancel_->setEnabled(false);
    });
    connect(close, &QPushButton::clicked, this, &RunDialog::reject);
    connect(saveDefaults_, &QPushButton::clicked, this, [this] {
        saveDefaultPipelineOptions(options());
        status_->setText(tr("Saved as defaults."));
    });
    connect(runner_, &StudyRunner::progress, this, [this](qint64 done, qint64 total, const QString& message, const QString& eta) {
        if (total > 0) {
            progress_->setRange(0, 1000);
            progress_->setValue(static_cast<int>(1000.0 * done / total));
        } else {
            progress_->setRange(0, 0);
        }
        status_->setText(eta.isEmpty() ? message : tr("%1 — about %2 left in this step").arg(message, eta));
    });
    connect(runner_, &StudyRunner::finished, this, [this](const QString& path) {
        setRunning(false);
        progress_->setRange(0, 1);
        progress_->setValue(1);
        status_->setText(warning_.isEmpty() ? tr("Done: %1").arg(path) : tr("Done with warnings: %1 — %2").arg(path, warning_));
        Q_EMIT studyReady(path);
    });
    connect(runner_, &StudyRunner::warning, this, [this](const QString& message) { warning_ = message; });
    connect(runner_, &StudyRunner::failed, this, [this](const QString& message) {
        setRunning(false);
        progress_->setRange(0, 1);   // a failed run is not 100 % done
        progress_->setValue(0);
        status_->setText(tr("Failed: %1").arg(message));
    });
    connect(runner_, &StudyRunner::cancelled, this, [this] {
        setRunning(false);
        progress_->setRange(0, 1);
        progress_->setValue(0);
        status_->setText(tr("Cancelled."));
    });
}

PipelineOptions RunDialog::options() const {
    PipelineOptions o;
    o.model = model_->text().trimmed();
    o.corpus = corpus_->text().trimmed();
    o.textField = textField_->text().trimmed().isEmpty() ? QStringLiteral("text") : textField_->text().trimmed();
    o.rawWeights = raw_->isChecked();
    o.bf16 = bf16_->isChecked();
    o.batchTokens = batchTokens_->value();
    StudyParameters& p = o.parameters;
    for (const QString& part : layers_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int l = part.trimmed().toInt(&ok);
        if (ok) p.layers.push_back(l);
    }
    p.topK = topK_->value();
    p.randomPerLayer = randomPerLayer_->value();
    p.randomSeed = static_cast<uint64_t>(randomSeed_->value());
    p.minTokenChars = minTokenChars_->value();
    p.requireWordBoundary = wordBoundary_->isChecked();
    p.rejectTokens = splitList(rejectTokens_->text());
    p.rejectNeurons = splitList(rejectNeurons_->text());
    p.neurons = splitList(neurons_->text());
    p.topDocuments = topDocuments_->value();
    p.maxDocuments = maxDocuments_->value();
    p.truncationRatio = ratio_->value();
    p.maxContextTokens = maxContext_->value();
    p.promptsPerNeuron = prompts_->value();
    p.sameLayerHeads = sameLayer_->isChecked();
    p.attributionScore = static_cast<AttributionScore>(attributionScore_->currentData().toInt());
    p.activeStdMultiplier = stdMultiplier_->value();
    p.relevantMin = relevantMin_->value();
    p.relevantMax = relevantMax_->value();
    p.mimicNewlineRoundTrip = mimicNewlines_->isChecked();
    return o;
}

void RunDialog::setOptions(const PipelineOptions& o) {
    const StudyParameters& p = o.parameters;
    model_->setText(o.model);
    corpus_->setText(o.corpus);
    textField_->setText(o.textField);
    raw_->setChecked(o.rawWeights);
    bf16_->setChecked(o.bf16);
    batchTokens_->setValue(static_cast<int>(std::min<int64_t>(o.batchTokens, 1 << 24)));
    QStringList layers;
    for (int l : p.layers) layers << QString::number(l);
    layers_->setText(layers.join(QLatin1Char(',')));
    topK_->setValue(p.topK);
    randomPerLayer_->setValue(p.randomPerLayer);
    randomSeed_->setValue(static_cast<int>(std::min<uint64_t>(p.randomSeed, 2147483647)));
    minTokenChars_->setValue(p.minTokenChars);
    wordBoundary_->setChecked(p.requireWordBoundary);
    rejectTokens_->setText(joinList(p.rejectTokens));
    rejectNeurons_->setText(joinList(p.rejectNeurons));
    neurons_->setText(joinList(p.neurons));
    topDocuments_->setValue(p.topDocuments);
    maxDocuments_->setValue(p.maxDocuments);
    ratio_->setValue(p.truncationRatio);
    maxContext_->setValue(p.maxContextTokens);
    prompts_->setValue(p.promptsPerNeuron);
    sameLayer_->setChecked(p.sameLayerHeads);
    attributionScore_->setCurrentIndex(std::max(0, attributionScore_->findData(int(p.attributionScore))));
    stdMultiplier_->setValue(p.activeStdMultiplier);
    relevantMin_->setValue(p.relevantMin);
    relevantMax_->setValue(p.relevantMax);
    mimicNewlines_->setChecked(p.mimicNewlineRoundTrip);
}

QString RunDialog::heldOutCorpus() const { return heldOut_->text().trimmed(); }
void RunDialog::setHeldOutCorpus(const QString& path) { heldOut_->setText(path); }

void RunDialog::setLlmSettings(const LlmSettings& s) {
    endpoint_->setText(s.endpoint);
    explainerModel_->setText(s.explainerModel);
    classifierModel_->setText(s.classifierModel);
    concurrency_->setValue(s.concurrency);
    explain_->setChecked(s.explain);
    offlineBaseline_->setChecked(s.offlineOnly);
}

void RunDialog::setRunning(bool running) {
    run_->setEnabled(!running);
    cancel_->setEnabled(running);
    saveDefaults_->setEnabled(!running);
}

void RunDialog::startRun() {
    const PipelineOptions o = options();
    if (o.model.isEmpty() || o.corpus.isEmpty()) {
        status_->setText(tr("Give a model and a corpus."));
        return;
    }
    QSettings settings;
    settings.setValue(QStringLiteral("run/model"), o.model);
    settings.setValue(QStringLiteral("run/corpus"), o.corpus);
    settings.setValue(QStringLiteral("run/heldOut"), heldOutCorpus());
    LlmSettings s;
    s.endpoint = endpoint_->text();
    s.explainerModel = explainerModel_->text();
    s.classifierModel = classifierModel_->text();
    s.concurrency = concurrency_->value();
    s.explain = explain_->isChecked();
    s.offlineOnly = offlineBaseline_->isChecked();
    saveLlmSettings(s);
    if (!apiKey_->text().isEmpty()) setSessionApiKey(apiKey_->text());
    const LlmJob job = llmJob();
    if (job.explain && job.steps.useLlm && (s.explainerModel.isEmpty() || s.endpoint.isEmpty())) {
        status_->setText(tr("Give an endpoint and an explainer model, or tick \"Offline baseline only\"."));
        return;
    }
    if (outputPath_.isEmpty()) {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
        QDir().mkpath(dir);
        outputPath_ = QDir(dir).filePath(QStringLiteral("last-run.headlight"));
    }
    warning_.clear();
    setRunning(true);
    progress_->setRange(0, 0);
    status_->setText(tr("Starting…"));
    runner_->start(o, outputPath_, job);
}

LlmJob RunDialog::llmJob() const {
    LlmJob job;
    job.explain = explain_->isChecked();
    job.heldOutCorpus = heldOutCorpus();
    explain::LlmStepsOptions& steps = job.steps;
    steps.useLlm = !offlineBaseline_->isChecked();
    steps.explainer.baseUrl = endpoint_->text().trimmed().toStdString();
    steps.explainer.model = explainerModel_->text().trimmed().toStdString();
    steps.explainer.apiKey = sessionApiKey().toStdString();  // memory only
    steps.classifier = steps.explainer;
    if (!classifierModel_->text().trimmed().isEmpty()) steps.classifier.model = classifierModel_->text().trimmed().toStdString();
    steps.client.concurrency = concurrency_->value();
    return job;
}

void RunDialog::reject() {
    if (runner_->isRunning()) {
        runner_->cancel();
        status_->setText(tr("Cancelling…"));
        return;  // closes when the job has stopped (the user presses Close again)
    }
    QDialog::reject();
}

DownloadDialog* RunDialog::downloadDialog() {
    if (!download_) {
        download_ = new DownloadDialog(this);
        connect(download_, &DownloadDialog::downloaded, this, [this](const QString& id, const QString&) {
            model_->setText(id);  // the bundle records the hub id; the run finds it in the cache
        });
    }
    return download_;
}

void RunDialog::showDownloadDialog() {
    DownloadDialog* d = downloadDialog();
    const QString text = model_->text().trimmed();
    if (!d->isRunning() && !text.isEmpty() && !QFileInfo(text).exists() && looksLikeHubId(text)) d->setHubId(text);
    d->show();
    d->raise();
}

}  // namespace headlight::ui
