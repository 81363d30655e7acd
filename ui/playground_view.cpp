#include "ui/playground_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTimer>
#include <QToolTip>
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
                              const analysis::PlaygroundResult& result) {
    const int L = document.nLayers(), H = document.nHeads();
    std::vector<float> values(std::size_t(L) * H, std::nanf(""));
    for (std::size_t k = 0; k < values.size() && k < result.headScores.size(); ++k) values[k] = result.headScores[k];
    QStringList rows, cols;
    for (int l = 0; l < L; ++l) rows << QStringLiteral("L%1").arg(l);
    for (int c = 0; c < H; ++c) cols << QStringLiteral("H%1").arg(c);
    const int position = std::clamp(result.position, 0, static_cast<int>(result.tokenTexts.size()) - 1);
    map.setMatrix(L, H, std::move(values), {}, rows, cols, QObject::tr("layer"), QObject::tr("head"),
                  QObject::tr("%1: head scores at token %2 (\"%3\")")
                      .arg(neuron >= 0 ? document.neuronLabel(neuron) : QString())
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
    controls->addWidget(new QLabel(tr("Head scores at position:"), this));
    controls->addWidget(position_);
    controls->addStretch(1);
    auto* top = new QWidget(this);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(controls);
    topLayout->addWidget(editor_, 1);
    topLayout->addWidget(strip_);
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
    connect(selection_, &StudySelection::neuronChanged, this, [this] { debounce_->start(); });
    connect(strip_, &TokenStrip::pieceClicked, this, [this](int piece) {
        position_->setValue(piece < static_cast<int>(piecePositions_.size()) ? piecePositions_[piece] : piece);
    });
    connect(loader_, &QFutureWatcher<std::optional<analysis::Playground>>::finished, this, [this] {
        playground_ = loader_->result();
        load_->setEnabled(!playground_);
        status_->setText(playground_ ? tr("Model loaded.") : tr("Could not load the model: %1").arg(loaderError_));
        if (playground_) recompute();
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
    const int neuron = selection_->neuron();
    if (neuron < 0) {
        status_->setText(tr("Select a neuron."));
        return;
    }
    const NeuronRef ref{document_->layer(neuron), document_->neuronIndex(neuron)};
    const std::string text = editor_->toPlainText().toStdString();
    const int position = position_->value();
    const bool sameLayer = document_->bundle().parameters().sameLayerHeads;
    const analysis::Playground model = *playground_;
    worker_->setFuture(QtConcurrent::run([model, text, ref, position, sameLayer]() {
        try {
            return model.run(text, ref, position, sameLayer);
        } catch (const std::exception&) {
            return analysis::PlaygroundResult{};
        }
    }));
}

void PlaygroundView::showResult() {
    const int neuron = selection_->neuron();
    HighlightedContext h;
    float range = 1e-6f;
    for (float v : result_.activations)
        if (!std::isnan(v)) range = std::max(range, std::abs(v));
    if (document_ && neuron >= 0) range = std::max(range, std::abs(document_->maxActivation(neuron)));
    h.range = range;
    for (std::size_t i = 0; i < result_.tokens.size(); ++i) {
        TokenPiece p;
        p.text = QString::fromStdString(result_.tokenTexts[i]);
        p.tokenId = result_.tokens[i];
        p.value = i < result_.activations.size() ? result_.activations[i] : std::nanf("");
        p.kind = static_cast<int>(i) <= result_.position ? TokenPiece::Prompt : TokenPiece::Before;
        h.pieces.push_back(p);
    }
    // Byte tokens of one character read as that character; a click on it picks its last token.
    if (document_) mergeSplitCharacters(h.pieces, [this](const std::vector<int>& ids) { return document_->decodeTokens(ids); });
    piecePositions_.clear();
    int token = 0;
    for (const TokenPiece& p : h.pieces) {
        token += 1 + static_cast<int>(p.mergedIds.size());
        piecePositions_.push_back(token - 1);
    }
    if (document_ && neuron >= 0) {
        h.header = tr("%1 → \"%2\"; colour range ±%3").arg(document_->neuronLabel(neuron), document_->tokenText(neuron)).arg(range, 0, 'f', 3);
    }
    strip_->setContext(h);
    if (result_.tokens.empty() || !document_) {
        headMap_->clearMatrix(tr("Type some text"));
        status_->setText(tr("No tokens."));
    } else {
        showPlaygroundHeadScores(*headMap_, *document_, neuron, result_);
        status_->setText(tr("%n token(s). ", nullptr, static_cast<int>(result_.tokens.size())) +
                         playgroundReadout(*document_, neuron, result_));
    }
    Q_EMIT resultReady();
}

}  // namespace headlight::ui
