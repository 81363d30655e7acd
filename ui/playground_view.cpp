#include "ui/playground_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTimer>
#include <QToolTip>
#include <QRegularExpression>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "ui/head_heatmap.h"
#include "ui/study_document.h"

namespace headlight::ui {

TokenStrip::TokenStrip(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
}

void TokenStrip::setContext(const HighlightedContext& context) {
    context_ = context;
    updateGeometry();
    update();
}

QSize TokenStrip::sizeHint() const { return QSize(400, heightForWidth(width() > 0 ? width() : 400)); }

int TokenStrip::heightForWidth(int width) const {
    return static_cast<int>(std::ceil(layoutContext(context_, font(), std::max(80, width - 8)).height)) + 8;
}

void TokenStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    const ContextLayout layout = layoutContext(context_, font(), std::max(80, width() - 8));
    paintContext(p, context_, layout, QPointF(4, 4), font(), palette().color(QPalette::Text),
                 palette().color(QPalette::PlaceholderText), palette().color(QPalette::Base));
}

void TokenStrip::mousePressEvent(QMouseEvent* event) {
    const ContextLayout layout = layoutContext(context_, font(), std::max(80, width() - 8));
    const int piece = pieceAt(layout, event->position() - QPointF(4, 4));
    if (piece >= 0) Q_EMIT pieceClicked(piece);
}

bool TokenStrip::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(e);
        const ContextLayout layout = layoutContext(context_, font(), std::max(80, width() - 8));
        const int piece = pieceAt(layout, QPointF(help->pos()) - QPointF(4, 4));
        if (piece >= 0) QToolTip::showText(help->globalPos(), pieceToolTip(context_.pieces[piece]), this);
        else QToolTip::hideText();
        return true;
    }
    return QWidget::event(e);
}

// ---------------------------------------------------------------------------------------------------

void showPlaygroundHeadScores(HeadHeatMap& map, const StudyDocument& document, int neuron,
                              const analysis::PlaygroundResult& result, const QString& label) {
    const int L = document.nLayers(), H = document.nHeads();
    std::vector<float> values(std::size_t(L) * H, std::nanf(""));
    for (std::size_t k = 0; k < values.size() && k < result.headScores.size(); ++k) values[k] = result.headScores[k];
    QStringList rows, cols;
    for (int l = 0; l < L; ++l) rows << QStringLiteral("L%1").arg(l);
    for (int c = 0; c < H; ++c) cols << QStringLiteral("H%1").arg(c);
    const int position = std::clamp(result.position, 0, static_cast<int>(result.tokenTexts.size()) - 1);
    map.setMatrix(L, H, std::move(values), {}, rows, cols, QObject::tr("layer"), QObject::tr("head"),
                  QObject::tr("%1: head scores at token %2 (\"%3\")")
                      .arg(!label.isEmpty() ? label : neuron >= 0 ? document.neuronLabel(neuron) : QString())
                      .arg(position)
                      .arg(visibleText(QString::fromStdString(result.tokenTexts[position]))));
}

QString playgroundReadout(const StudyDocument& document, int neuron, const analysis::PlaygroundResult& result) {
    if (result.tokens.empty() || neuron < 0) return {};
    const int position = std::clamp(result.position, 0, static_cast<int>(result.tokens.size()) - 1);
    const float v = position < static_cast<int>(result.activations.size()) ? result.activations[position] : std::nanf("");
    return QObject::tr("%1 at token %2 (\"%3\"): activation %4 (top in the study %5)")
        .arg(document.neuronLabel(neuron))
        .arg(position)
        .arg(visibleText(QString::fromStdString(result.tokenTexts[position])))
        .arg(v, 0, 'f', 4)
        .arg(document.maxActivation(neuron), 0, 'f', 4);
}

PlaygroundView::PlaygroundView(StudySelection* selection, QWidget* parent)
    : QWidget(parent),
      selection_(selection),
      loader_(new QFutureWatcher<std::optional<analysis::Playground>>(this)),
      worker_(new QFutureWatcher<analysis::PlaygroundResult>(this)) {
    editor_ = new QPlainTextEdit(this);
    editor_->setObjectName(QStringLiteral("playgroundEditor"));
    editor_->setPlaceholderText(tr("Type or paste text; the selected neuron's activation is shown per token."));
    editor_->setTabChangesFocus(true);
    strip_ = new TokenStrip(this);
    strip_->setObjectName(QStringLiteral("playgroundTokens"));
    position_ = new QSpinBox(this);
    position_->setRange(-1, 100000);
    position_->setSpecialValueText(tr("last token"));
    position_->setValue(-1);
    position_->setAccessibleName(tr("Position for head scores"));
    layer_ = new QSpinBox(this);
    layer_->setObjectName(QStringLiteral("playgroundLayer"));
    layer_->setAccessibleName(tr("Neuron layer"));
    layer_->setPrefix(QStringLiteral("L"));
    neuronIndex_ = new QSpinBox(this);
    neuronIndex_->setObjectName(QStringLiteral("playgroundNeuron"));
    neuronIndex_->setAccessibleName(tr("Neuron index"));
    neuronIndex_->setPrefix(QStringLiteral("N"));
    follow_ = new QCheckBox(tr("&Follow table"), this);
    follow_->setChecked(true);
    follow_->setToolTip(tr("Show the neuron selected in the table; untick to pick any neuron of the model"));
    lookupHead_ = new QLineEdit(this);
    lookupHead_->setObjectName(QStringLiteral("playgroundLookupHead"));
    lookupHead_->setPlaceholderText(tr("e.g. L1H3, or click a head"));
    lookupHead_->setAccessibleName(tr("Look-up head"));
    offHeads_ = new QLineEdit(this);
    offHeads_->setObjectName(QStringLiteral("playgroundOffHeads"));
    offHeads_->setPlaceholderText(tr("e.g. L1H3,L2H0"));
    offHeads_->setAccessibleName(tr("Heads switched off"));
    mode_ = new QComboBox(this);
    mode_->setObjectName(QStringLiteral("playgroundMode"));
    mode_->addItem(tr("zero"), int(analysis::HeadSwitchOff::Zero));
    mode_->addItem(tr("mean over the text"), int(analysis::HeadSwitchOff::Mean));
    mode_->setToolTip(tr("Zero: the head's values are zeroed (the paper's ablation). Mean: the head writes the mean "
                         "of its value vectors over the text's tokens (BOS excluded) at every position."));
    effect_ = new QLabel(this);
    effect_->setObjectName(QStringLiteral("playgroundEffect"));
    effect_->setTextFormat(Qt::PlainText);
    effect_->setWordWrap(true);
    ablatedStrip_ = new TokenStrip(this);
    ablatedStrip_->setObjectName(QStringLiteral("playgroundAblatedTokens"));
    ablatedStrip_->hide();
    lookupStrip_ = new TokenStrip(this);
    lookupStrip_->setObjectName(QStringLiteral("playgroundLookupTokens"));
    lookupStrip_->hide();
    headMap_ = new HeadHeatMap(this);
    headMap_->setObjectName(QStringLiteral("playgroundHeadMap"));
    headMap_->clearMatrix(tr("Type some text"));
    status_ = new QLabel(tr("No study open."), this);
    status_->setTextFormat(Qt::PlainText);
    status_->setObjectName(QStringLiteral("playgroundStatus"));
    status_->setWordWrap(true);
    load_ = new QPushButton(tr("&Load model"), this);
    debounce_ = new QTimer(this);
    debounce_->setSingleShot(true);
    debounce_->setInterval(300);

    auto* controls = new QHBoxLayout;
    controls->addWidget(load_);
    controls->addWidget(new QLabel(tr("Neuron:"), this));
    controls->addWidget(layer_);
    controls->addWidget(neuronIndex_);
    controls->addWidget(follow_);
    controls->addWidget(new QLabel(tr("Head scores at position:"), this));
    controls->addWidget(position_);
    controls->addStretch(1);
    auto* heads = new QHBoxLayout;
    auto* lookupLabel = new QLabel(tr("Loo&k-up of head:"), this);
    lookupLabel->setBuddy(lookupHead_);
    auto* offLabel = new QLabel(tr("S&witch off:"), this);
    offLabel->setBuddy(offHeads_);
    heads->addWidget(lookupLabel);
    heads->addWidget(lookupHead_, 1);
    heads->addWidget(offLabel);
    heads->addWidget(offHeads_, 1);
    heads->addWidget(mode_);
    auto* top = new QWidget(this);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(controls);
    topLayout->addLayout(heads);
    topLayout->addWidget(editor_, 1);
    topLayout->addWidget(strip_);
    topLayout->addWidget(ablatedStrip_);
    topLayout->addWidget(lookupStrip_);
    topLayout->addWidget(effect_);
    topLayout->addWidget(status_);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(top);
    split->addWidget(headMap_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);

    connect(load_, &QPushButton::clicked, this, &PlaygroundView::loadModel);
    connect(editor_, &QPlainTextEdit::textChanged, debounce_, qOverload<>(&QTimer::start));
    connect(position_, qOverload<int>(&QSpinBox::valueChanged), debounce_, qOverload<>(&QTimer::start));
    connect(debounce_, &QTimer::timeout, this, &PlaygroundView::recompute);
    connect(selection_, &StudySelection::neuronChanged, this, [this] {
        followSelection();
        debounce_->start();
    });
    for (QSpinBox* box : {layer_, neuronIndex_})
        connect(box, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
            if (!updatingPickers_) follow_->setChecked(false);
            debounce_->start();
        });
    connect(follow_, &QCheckBox::toggled, this, [this](bool on) {
        if (on) followSelection();
        debounce_->start();
    });
    connect(lookupHead_, &QLineEdit::textChanged, debounce_, qOverload<>(&QTimer::start));
    connect(offHeads_, &QLineEdit::textChanged, debounce_, qOverload<>(&QTimer::start));
    connect(mode_, qOverload<int>(&QComboBox::currentIndexChanged), debounce_, qOverload<>(&QTimer::start));
    connect(headMap_, &HeadHeatMap::cellClicked, this, [this](int row, int column) {
        if (document_) lookupHead_->setText(QString::fromStdString(headName(row, column)));
    });
    connect(strip_, &TokenStrip::pieceClicked, this, [this](int piece) {
        position_->setValue(piece < static_cast<int>(piecePositions_.size()) ? piecePositions_[piece] : piece);
    });
    connect(loader_, &QFutureWatcher<std::optional<analysis::Playground>>::finished, this, [this] {
        playground_ = loader_->result();
        load_->setEnabled(!playground_);
        status_->setText(playground_ ? tr("Model loaded.") : tr("Could not load the model: %1").arg(loaderError_));
        if (playground_) {
            updatingPickers_ = true;
            layer_->setRange(0, playground_->nLayers() - 1);
            neuronIndex_->setRange(0, playground_->dMlp() - 1);
            updatingPickers_ = false;
            followSelection();
            Q_EMIT modelAvailable();
            recompute();
        }
    });
    connect(worker_, &QFutureWatcher<analysis::PlaygroundResult>::finished, this, [this] {
        result_ = worker_->result();
        showResult();
        if (pending_) {
            pending_ = false;
            recompute();
        }
    });
}

PlaygroundView::~PlaygroundView() {
    loader_->waitForFinished();
    worker_->waitForFinished();
}

void PlaygroundView::setDocument(std::shared_ptr<const StudyDocument> document) {
    document_ = std::move(document);
    loader_->waitForFinished();
    worker_->waitForFinished();
    playground_.reset();
    result_ = {};   // nothing of the previous study stays on screen
    strip_->setContext({});
    headMap_->clearMatrix(document_ ? tr("Type some text") : tr("No study open"));
    load_->setEnabled(document_ != nullptr);
    status_->setText(document_ ? tr("The model loads when you press Load model (or start typing).") : tr("No study open."));
    updatingPickers_ = true;
    layer_->setRange(0, document_ ? std::max(0, document_->nLayers() - 1) : 0);
    neuronIndex_->setRange(0, document_ ? std::max(0, document_->bundle().dMlp() - 1) : 0);
    updatingPickers_ = false;
    follow_->setChecked(true);
    followSelection();
}

void PlaygroundView::followSelection() {
    const int neuron = selection_->neuron();
    if (!follow_->isChecked() || !document_ || neuron < 0 || neuron >= document_->neuronCount()) return;
    updatingPickers_ = true;
    layer_->setValue(document_->layer(neuron));
    neuronIndex_->setValue(document_->neuronIndex(neuron));
    updatingPickers_ = false;
}

void PlaygroundView::showNeuron(int layer, int neuron) {
    follow_->setChecked(false);
    updatingPickers_ = true;
    layer_->setValue(layer);
    neuronIndex_->setValue(neuron);
    updatingPickers_ = false;
    debounce_->start();
}

namespace {

// Flat indices of the head names in `text` ("L1H3, L2H0"); unknown names are skipped.
std::vector<int> parseHeads(const QString& text, int nLayers, int nHeads) {
    std::vector<int> out;
    for (const QString& part : text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
        const auto h = parseHeadName(part.trimmed().toUpper().toStdString());
        if (h && h->layer < nLayers && h->head < nHeads) out.push_back(h->layer * nHeads + h->head);
    }
    return out;
}

}  // namespace

analysis::PlaygroundRequest PlaygroundView::request() const {
    analysis::PlaygroundRequest q;
    q.neuron = {layer_->value(), neuronIndex_->value()};
    q.position = position_->value();
    if (!document_) return q;
    const int L = document_->nLayers(), H = document_->nHeads();
    q.sameLayerHeads = document_->bundle().parameters().sameLayerHeads;
    const std::vector<int> lookup = parseHeads(lookupHead_->text(), L, H);
    q.lookupHead = lookup.empty() ? -1 : lookup.front();
    q.offHeads = parseHeads(offHeads_->text(), L, H);
    q.mode = static_cast<analysis::HeadSwitchOff>(mode_->currentData().toInt());
    // p(token): the study's token for a study neuron, else the neuron's own argmax token.
    const int index = studyIndex(q.neuron);
    if (index >= 0) q.tokenId = document_->bundle().neuron(index).tokenId;
    return q;
}

int PlaygroundView::studyIndex(const NeuronRef& ref) const {
    if (!document_) return -1;
    for (int i = 0; i < document_->neuronCount(); ++i)
        if (document_->layer(i) == ref.layer && document_->neuronIndex(i) == ref.neuron && !document_->baseline(i)) return i;
    for (int i = 0; i < document_->neuronCount(); ++i)
        if (document_->layer(i) == ref.layer && document_->neuronIndex(i) == ref.neuron) return i;
    return -1;
}

void PlaygroundView::loadModel() {
    if (!document_ || loader_->isRunning() || playground_) return;
    // The model where the study found it (its stored paths, or the folder the user located).
    const QString modelId = document_->modelPath().isEmpty() ? QString::fromStdString(document_->bundle().provenance().modelId)
                                                             : document_->modelPath();
    const std::string processing = document_->bundle().provenance().processing;
    load_->setEnabled(false);
    status_->setText(tr("Loading %1 …").arg(modelId));
    loader_->setFuture(QtConcurrent::run([this, modelId, processing]() -> std::optional<analysis::Playground> {
        try {
            return analysis::Playground::load(modelId, processing);
        } catch (const std::exception& e) {
            loaderError_ = QString::fromUtf8(e.what());  // read on the GUI thread after finished()
            return std::nullopt;
        }
    }));
}

void PlaygroundView::recompute() {
    if (!document_) return;
    if (!playground_) {
        if (!editor_->toPlainText().isEmpty()) loadModel();
        return;
    }
    if (worker_->isRunning()) {
        pending_ = true;
        return;
    }
    const analysis::PlaygroundRequest q = request();
    const std::string text = editor_->toPlainText().toStdString();
    const analysis::Playground model = *playground_;
    worker_->setFuture(QtConcurrent::run([model, text, q]() {
        try {
            return model.run(text, q);
        } catch (const std::exception&) {
            return analysis::PlaygroundResult{};
        }
    }));
}

// The look-up head's contributions over the text (BOS, where the model has one, is not drawn).
HighlightedContext PlaygroundView::lookupContext() const {
    HighlightedContext h;
    const HeadLookup& look = result_.lookup;
    if (look.contributions.empty() || !document_) return h;
    const int offset = static_cast<int>(look.contributions.size()) - (result_.position + 1);  // 1 with BOS
    float range = 1e-6f;
    for (float x : look.contributions) range = std::max(range, std::abs(x));
    h.range = range;
    for (int t = 0; t <= result_.position && t < static_cast<int>(result_.tokens.size()); ++t) {
        TokenPiece p;
        p.text = QString::fromStdString(result_.tokenTexts[std::size_t(t)]);
        p.tokenId = result_.tokens[std::size_t(t)];
        p.value = look.contributions[std::size_t(t + offset)];
        h.pieces.push_back(p);
    }
    double bos = offset > 0 ? look.contributions[0] : 0.0;
    h.header = tr("Look-up of %1 at token %2: score %3 = sum of the sources' contributions%4; colour: contribution (±%5)")
                   .arg(document_->headLabel(look.head))
                   .arg(result_.position)
                   .arg(look.score, 0, 'f', 4)
                   .arg(offset > 0 ? tr(" (BOS %1)").arg(bos, 0, 'f', 4) : QString())
                   .arg(range, 0, 'f', 3);
    return h;
}

// "with L1H3 off (zero): activation 1.234 -> 0.456 (-0.778); p(" only") 0.120 -> 0.030".
QString PlaygroundView::effectText() const {
    if (result_.tokens.empty()) return {};
    const int pos = std::clamp(result_.position, 0, static_cast<int>(result_.tokens.size()) - 1);
    const float a = pos < static_cast<int>(result_.activations.size()) ? result_.activations[std::size_t(pos)] : std::nanf("");
    QString text = tr("At token %1: activation %2, p(\"%3\") %4")
                       .arg(pos)
                       .arg(a, 0, 'f', 4)
                       .arg(visibleText(QString::fromStdString(result_.tokenText)))
                       .arg(result_.probability, 0, 'g', 4);
    if (result_.offHeads.empty() || result_.ablatedActivations.size() <= std::size_t(pos)) return text;
    QStringList names;
    for (int h : result_.offHeads) names << document_->headLabel(h);
    const float b = result_.ablatedActivations[std::size_t(pos)];
    return text + QLatin1Char('\n') +
           tr("With %1 off (%2): activation %3 → %4 (%5), p(\"%6\") %7 → %8 (%9)")
               .arg(names.join(QStringLiteral(", ")), mode_->currentText())
               .arg(a, 0, 'f', 4)
               .arg(b, 0, 'f', 4)
               .arg(signedNumber(b - a, 'f', 4, true))
               .arg(visibleText(QString::fromStdString(result_.tokenText)))
               .arg(result_.probability, 0, 'g', 4)
               .arg(result_.ablatedProbability, 0, 'g', 4)
               .arg(signedNumber(result_.ablatedProbability - result_.probability, 'g', 3, true));
}

void PlaygroundView::showResult() {
    const NeuronRef ref{layer_->value(), neuronIndex_->value()};
    const int neuron = studyIndex(ref);
    const QString label = QString::fromStdString(neuronName(ref));
    auto context = [&](const std::vector<float>& values) {
        HighlightedContext h;
        float range = 1e-6f;
        for (float v : values)
            if (!std::isnan(v)) range = std::max(range, std::abs(v));
        if (document_ && neuron >= 0) range = std::max(range, std::abs(document_->maxActivation(neuron)));
        h.range = range;
        for (std::size_t i = 0; i < result_.tokens.size(); ++i) {
            TokenPiece p;
            p.text = QString::fromStdString(result_.tokenTexts[i]);
            p.tokenId = result_.tokens[i];
            p.value = i < values.size() ? values[i] : std::nanf("");
            p.kind = static_cast<int>(i) <= result_.position ? TokenPiece::Prompt : TokenPiece::Before;
            h.pieces.push_back(p);
        }
        // Byte tokens of one character read as that character; a click on it picks its last token.
        if (document_) mergeSplitCharacters(h.pieces, [this](const std::vector<int>& ids) { return document_->decodeTokens(ids); });
        return h;
    };
    HighlightedContext h = context(result_.activations);
    piecePositions_.clear();
    int token = 0;
    for (const TokenPiece& p : h.pieces) {
        token += 1 + static_cast<int>(p.mergedIds.size());
        piecePositions_.push_back(token - 1);
    }
    if (document_)
        h.header = tr("%1 → \"%2\"%3; colour range ±%4")
                       .arg(label, visibleText(QString::fromStdString(result_.tokenText)))
                       .arg(neuron >= 0 ? QString() : tr(" (not in the study)"))
                       .arg(h.range, 0, 'f', 3);
    strip_->setContext(h);
    ablatedStrip_->setVisible(!result_.offHeads.empty());
    if (!result_.offHeads.empty()) {
        HighlightedContext off = context(result_.ablatedActivations);
        off.range = h.range;  // the same scale as the clean strip
        off.header = tr("with the heads switched off (%1)").arg(mode_->currentText());
        ablatedStrip_->setContext(off);
    }
    const HighlightedContext look = lookupContext();
    lookupStrip_->setVisible(!look.pieces.empty());
    lookupStrip_->setContext(look);
    effect_->setText(effectText());
    if (result_.tokens.empty() || !document_) {
        headMap_->clearMatrix(tr("Type some text"));
        status_->setText(tr("No tokens."));
    } else {
        showPlaygroundHeadScores(*headMap_, *document_, neuron, result_, label);
        const int H = document_->nHeads();
        if (!result_.lookup.contributions.empty()) headMap_->setSelectedCell(result_.lookup.head / H, result_.lookup.head % H);
        status_->setText(tr("%n token(s). ", nullptr, static_cast<int>(result_.tokens.size())) +
                         (neuron >= 0 ? playgroundReadout(*document_, neuron, result_)
                                      : tr("%1 is not in the study: any neuron of the model can be shown.").arg(label)));
    }
    Q_EMIT resultReady();
}

}  // namespace headlight::ui
