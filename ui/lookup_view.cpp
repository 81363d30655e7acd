#include "ui/lookup_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QLabel>
#include <QPushButton>
#include <QShortcut>
#include <QTableWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/study/head_view.h"
#include "core/study/pipeline.h"
#include "core/study/study.h"
#include "ui/study_document.h"
#include "ui/worker_progress.h"

namespace headlight::ui {

namespace {
constexpr int kTopSources = 8;
constexpr qreal kStripMargin = 4;

QString contextName(const NeuronResult& r, int context) {
    if (!r.contexts[std::size_t(context)].kept) return QObject::tr("dropped %1").arg(context + 1);
    int rank = 0;
    for (int k = 0; k <= context; ++k) rank += r.contexts[std::size_t(k)].kept ? 1 : 0;
    return QStringLiteral("#%1").arg(rank);
}
}  // namespace

LookupRow makeLookupRow(const StudyDocument& document, int neuron, const NeuronResult& r, int context, const HeadLookup& look) {
    LookupRow row;
    row.neuron = document.neuronLabel(neuron);
    row.head = document.headLabel(look.head);
    row.context = contextName(r, context);
    row.score = look.score;
    row.tokenIds = lookupTokenIds(r.contexts[std::size_t(context)], look);
    for (int id : row.tokenIds) row.tokens.push_back(id < 0 ? QObject::tr("BOS") : document.vocabText(id));
    row.contributions = look.contributions;
    row.attention = look.attention;
    row.predictedId = r.neuron.tokenId;
    row.predicted = QString::fromStdString(r.neuron.token);
    return row;
}

const std::vector<float>& lookupValues(const LookupRow& row, LookupMode mode) {
    return mode == LookupMode::Attention ? row.attention : row.contributions;
}

std::vector<int> topLookupPositions(const LookupRow& row, LookupMode mode, int count) {
    const std::vector<float>& v = lookupValues(row, mode);
    std::vector<int> order(v.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int>(j);
    std::stable_sort(order.begin(), order.end(), [&v](int a, int b) { return std::abs(v[std::size_t(a)]) > std::abs(v[std::size_t(b)]); });
    if (order.size() > std::size_t(std::max(0, count))) order.resize(std::size_t(std::max(0, count)));
    return order;
}

HighlightedContext lookupHighlight(const LookupRow& row, LookupMode mode, std::vector<int>* positions, const TokenRunDecoder& decode) {
    const std::vector<float>& values = lookupValues(row, mode);
    HighlightedContext h;
    float range = 0.f;
    for (float x : values) range = std::max(range, std::abs(x));
    h.range = std::max(range, 1e-6f);
    h.header = QObject::tr("%1 → %2 · context %3 · score %4 · %5")
                   .arg(row.head, row.neuron, row.context)
                   .arg(row.score, 0, 'f', 4)
                   .arg(mode == LookupMode::Attention ? QObject::tr("attention") : QObject::tr("contribution"));
    for (std::size_t j = 0; j < row.tokens.size(); ++j) {
        TokenPiece p;
        p.tokenId = row.tokenIds[j];
        p.text = row.tokenIds[j] < 0 ? QStringLiteral("⟨BOS⟩") : row.tokens[j];
        p.value = values[j];
        h.pieces.push_back(p);
    }
    if (decode) mergeSplitCharacters(h.pieces, decode);
    std::vector<int> first;   // a merged piece covers 1 + mergedIds positions: its value is their sum
    int j = 0;
    for (TokenPiece& p : h.pieces) {
        first.push_back(j);
        float sum = 0.f;
        for (std::size_t k = 0; k <= p.mergedIds.size(); ++k) sum += values[std::size_t(j++)];
        p.value = sum;
        p.mergedValues.clear();
    }
    TokenPiece predicted;
    predicted.kind = TokenPiece::Predicted;
    predicted.tokenId = row.predictedId;
    predicted.text = row.predicted;
    predicted.value = std::nanf("");
    h.pieces.push_back(predicted);
    if (positions) *positions = std::move(first);
    return h;
}

QString lookupPositionText(const LookupRow& row, int j) {
    const std::size_t k = std::size_t(j);
    const QString token = row.tokenIds[k] < 0 ? QObject::tr("BOS") : QStringLiteral("\"%1\"").arg(visibleText(row.tokens[k]));
    const double share = row.score != 0.f ? 100.0 * row.contributions[k] / row.score : std::nan("");
    return QObject::tr("%1: %2  contribution %3%4  attention %5")
        .arg(j)
        .arg(token)
        .arg(row.contributions[k], 0, 'f', 4)
        .arg(std::isnan(share) ? QString() : QObject::tr(" (%1 % of the score)").arg(share, 0, 'f', 0))
        .arg(row.attention[k], 0, 'f', 3);
}

QString lookupRowText(const LookupRow& row) {
    double sum = 0;
    for (float x : row.contributions) sum += x;
    QString text = QObject::tr("%1 → %2, context %3: score %4 = sum of the contributions (%5)\n")
                       .arg(row.head, row.neuron, row.context)
                       .arg(row.score, 0, 'f', 4)
                       .arg(sum, 0, 'f', 4);
    for (int j = 0; j < static_cast<int>(row.tokens.size()); ++j) text += lookupPositionText(row, j) + QLatin1Char('\n');
    return text.trimmed();
}

// ---------------------------------------------------------------------------------------------------

void LookupStrip::setRow(const LookupRow& row, LookupMode mode, const TokenRunDecoder& decode) {
    row_ = row;
    setContext(lookupHighlight(row, mode, &positions_, decode));
}

QString LookupStrip::toolTipAt(const QPoint& point) const {
    if (!row_) return {};
    const ContextLayout layout = layoutContext(context(), font(), std::max(80, width() - 8));
    const int piece = pieceAt(layout, QPointF(point) - QPointF(kStripMargin, kStripMargin));
    if (piece < 0) return {};
    if (piece >= static_cast<int>(positions_.size())) return tr("the neuron's token: \"%1\"").arg(visibleText(row_->predicted));
    const TokenPiece& p = context().pieces[std::size_t(piece)];
    QString text;
    for (std::size_t k = 0; k <= p.mergedIds.size(); ++k)
        text += (k ? QStringLiteral("\n") : QString()) + lookupPositionText(*row_, positions_[std::size_t(piece)] + int(k));
    return text;
}

QPoint LookupStrip::positionCenter(int position) const {
    const ContextLayout layout = layoutContext(context(), font(), std::max(80, width() - 8));
    for (const TokenBox& b : layout.boxes) {
        if (b.piece >= static_cast<int>(positions_.size())) continue;
        const int first = positions_[std::size_t(b.piece)];
        const int count = 1 + static_cast<int>(context().pieces[std::size_t(b.piece)].mergedIds.size());
        if (position >= first && position < first + count)
            return (b.rect.center() + QPointF(kStripMargin, kStripMargin)).toPoint();
    }
    return {-1, -1};
}

bool LookupStrip::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(e);
        const QString text = toolTipAt(help->pos());
        if (text.isEmpty()) QToolTip::hideText();
        else QToolTip::showText(help->globalPos(), Qt::convertFromPlainText(text, Qt::WhiteSpacePre), this);
        return true;
    }
    return TokenStrip::event(e);
}

// ---------------------------------------------------------------------------------------------------

struct LookupView::Job {
    int generation = 0;
    int neuron = -1, head = -1;
    std::vector<int> contexts;
    std::vector<HeadLookup> lookups;
    QString error;
};

LookupView::LookupView(StudySelection* selection, QWidget* parent)
    : QWidget(parent), selection_(selection), watcher_(new QFutureWatcher<std::shared_ptr<Job>>(this)) {
    setObjectName(QStringLiteral("lookupView"));
    setFocusPolicy(Qt::StrongFocus);
    title_ = new QLabel(this);
    title_->setTextFormat(Qt::PlainText);
    title_->setObjectName(QStringLiteral("lookupTitle"));
    QFont bold = title_->font();
    bold.setBold(true);
    title_->setFont(bold);
    modeBox_ = new QComboBox(this);
    modeBox_->setObjectName(QStringLiteral("lookupMode"));
    modeBox_->addItem(tr("Contribution"), int(LookupMode::Contribution));
    modeBox_->addItem(tr("Attention weight"), int(LookupMode::Attention));
    modeBox_->setToolTip(tr("Colour the tokens by the head's contribution from each (its share of the score) or by "
                            "the attention weight of the last position on each"));
    auto* modeLabel = new QLabel(tr("Colour &by:"), this);
    modeLabel->setBuddy(modeBox_);
    strip_ = new LookupStrip(this);
    strip_->setObjectName(QStringLiteral("lookupStrip"));
    strip_->setAccessibleName(tr("Look-up: the context's tokens coloured by the head's contribution"));
    sources_ = new QTableWidget(0, 4, this);
    sources_->setObjectName(QStringLiteral("lookupSources"));
    sources_->setHorizontalHeaderLabels({tr("Pos."), tr("Source token"), tr("Contribution"), tr("Attention")});
    sources_->verticalHeader()->hide();
    sources_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    sources_->setSelectionMode(QAbstractItemView::NoSelection);
    sources_->setFocusPolicy(Qt::NoFocus);   // arrows move across heads and contexts
    sources_->horizontalHeader()->setStretchLastSection(true);
    message_ = new QLabel(this);
    message_->setObjectName(QStringLiteral("lookupMessage"));
    message_->setTextFormat(Qt::PlainText);
    message_->setWordWrap(true);
    compute_ = new QPushButton(tr("&Compute Look-up"), this);
    compute_->setObjectName(QStringLiteral("lookupCompute"));
    compute_->setToolTip(tr("Run the attribution pass for this head with the study's model (all kept contexts)"));

    auto* header = new QHBoxLayout;
    header->addWidget(title_, 1);
    header->addWidget(modeLabel);
    header->addWidget(modeBox_);
    auto* left = new QVBoxLayout;
    left->addLayout(header);
    left->addWidget(strip_);
    auto* missing = new QHBoxLayout;
    missing->addWidget(message_, 1);
    missing->addWidget(compute_);
    left->addLayout(missing);
    left->addStretch(1);
    sources_->setMinimumHeight(sources_->horizontalHeader()->sizeHint().height() + 4 * sources_->verticalHeader()->defaultSectionSize());
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(left, 3);
    layout->addWidget(sources_, 2);

    connect(selection_, &StudySelection::neuronChanged, this, [this] { refresh(); });
    connect(selection_, &StudySelection::contextChanged, this, [this] { refresh(); });
    connect(selection_, &StudySelection::headChanged, this, [this] { refresh(); });
    connect(modeBox_, &QComboBox::currentIndexChanged, this, [this] { showRow(); });
    connect(compute_, &QPushButton::clicked, this, &LookupView::computeMissing);
    connect(watcher_, &QFutureWatcher<std::shared_ptr<Job>>::finished, this, [this] {
        const std::shared_ptr<Job> job = watcher_->result();
        if (job->generation != generation_) return;   // computed for a study no longer open
        for (std::size_t k = 0; k < job->lookups.size(); ++k) computed_[{job->neuron, job->contexts[k], job->head}] = job->lookups[k];
        refresh();
        if (!job->error.isEmpty()) showMissing(tr("Could not compute the look-up: %1").arg(job->error), true);
        Q_EMIT computed();
    });
    for (const auto& [keys, step] : {std::pair{QStringLiteral("["), -1}, std::pair{QStringLiteral("]"), 1}}) {
        auto* shortcut = new QShortcut(QKeySequence(keys), this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
        connect(shortcut, &QShortcut::activated, this, [this, step = step] { moveHead(step); });
    }
    refresh();
}

LookupView::~LookupView() { watcher_->waitForFinished(); }

void LookupView::setDocument(std::shared_ptr<const StudyDocument> document) {
    watcher_->waitForFinished();
    ++generation_;
    document_ = std::move(document);
    computed_.clear();
    neuronIndex_ = -1;
    refresh();
}

LookupMode LookupView::mode() const { return static_cast<LookupMode>(modeBox_->currentData().toInt()); }
void LookupView::setMode(LookupMode mode) { modeBox_->setCurrentIndex(modeBox_->findData(int(mode))); }
bool LookupView::computing() const { return watcher_->isRunning(); }

const HeadLookup* LookupView::findLookup(int context, int head) const {
    for (const HeadLookup& l : neuron_->contexts[std::size_t(context)].lookups)
        if (l.head == head) return &l;
    const auto it = computed_.find({neuronIndex_, context, head});
    return it != computed_.end() ? &it->second : nullptr;
}

void LookupView::refresh() {
    const int neuron = document_ ? selection_->neuron() : -1;
    if (neuron != neuronIndex_) {
        neuron_.reset();
        neuronIndex_ = neuron;
        try {
            if (neuron >= 0 && neuron < document_->neuronCount()) neuron_ = document_->neuronResult(neuron);
        } catch (const Error&) {   // a damaged bundle: the Neuron view says why
        }
    }
    row_.reset();
    const int context = selection_->context(), head = selection_->head();
    if (!neuron_ || context < 0 || context >= static_cast<int>(neuron_->contexts.size()) || head < 0) {
        showMissing(tr("Select a context and a head (click a heat-map cell) to see what the head reads."), false);
        return;
    }
    if (const HeadLookup* look = findLookup(context, head)) {
        row_ = makeLookupRow(*document_, neuron, *neuron_, context, *look);
        showRow();
        return;
    }
    const QString pair = tr("%1 in context %2").arg(document_->headLabel(head), contextName(*neuron_, context));
    if (!std::binary_search(neuron_->candidateHeads.begin(), neuron_->candidateHeads.end(), head)) {
        showMissing(tr("%1: not a candidate head of this neuron (only heads of earlier layers are scored).").arg(document_->headLabel(head)), false);
        return;
    }
    const bool model = !document_->modelPath().isEmpty();
    QString why = document_->bundle().hasLookups()
                      ? tr("No look-up stored for %1: look-ups are stored for the heads active in kept contexts.").arg(pair)
                      : tr("No look-up stored for %1: this study was made before look-ups were kept (File > Complete "
                           "Study… adds them all).").arg(pair);
    why += model ? tr(" Compute it with the study's model?") : tr(" The study's model was not found (File > Locate Model…), so it cannot be computed.");
    showMissing(why, model);
}

void LookupView::showMissing(const QString& why, bool canCompute) {
    title_->setText(neuron_ && selection_->head() >= 0 ? tr("Look-up of %1").arg(document_->headLabel(selection_->head())) : tr("Look-up"));
    title_->setToolTip(QString());
    strip_->setRow(LookupRow{}, mode());
    strip_->setVisible(false);
    sources_->setRowCount(0);
    message_->setText(computing() ? tr("Computing the look-up with the study's model…") : why);
    message_->setVisible(true);
    compute_->setVisible(canCompute);
    compute_->setEnabled(canCompute && !computing());
}

void LookupView::showRow() {
    if (!row_) return;
    const LookupRow& r = *row_;
    title_->setText(tr("%1 reads in context %2 of %3: score %4").arg(r.head, r.context, r.neuron).arg(r.score, 0, 'f', 4));
    const QString whole = Qt::convertFromPlainText(lookupRowText(r), Qt::WhiteSpacePre);   // the whole row, as plain text
    title_->setToolTip(whole);
    sources_->setToolTip(whole);
    message_->setVisible(false);
    compute_->setVisible(false);
    strip_->setVisible(true);
    strip_->setRow(r, mode(), [doc = document_](const std::vector<int>& ids) { return doc->decodeTokens(ids); });
    const std::vector<int> top = topLookupPositions(r, mode(), kTopSources);
    sources_->setRowCount(static_cast<int>(top.size()));
    for (int k = 0; k < static_cast<int>(top.size()); ++k) {
        const std::size_t j = std::size_t(top[std::size_t(k)]);
        const QString token = r.tokenIds[j] < 0 ? tr("BOS") : QStringLiteral("\"%1\"").arg(visibleText(r.tokens[j]));
        const QStringList cells = {QString::number(j), token, QString::number(r.contributions[j], 'f', 4), QString::number(r.attention[j], 'f', 3)};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c != 1) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            item->setToolTip(Qt::convertFromPlainText(lookupPositionText(r, int(j)), Qt::WhiteSpacePre));
            sources_->setItem(k, c, item);
        }
    }
    sources_->resizeColumnsToContents();
}

void LookupView::computeMissing() {
    if (!document_ || !neuron_ || computing() || selection_->head() < 0 || selection_->context() < 0) return;
    auto job = std::make_shared<Job>();
    job->generation = generation_;
    job->neuron = neuronIndex_;
    job->head = selection_->head();
    for (int c = 0; c < static_cast<int>(neuron_->contexts.size()); ++c)
        if ((neuron_->contexts[std::size_t(c)].kept || c == selection_->context()) && !findLookup(c, job->head)) job->contexts.push_back(c);
    const Progress progress = queuedProgress(this, &LookupView::onProgress, nullptr);
    const Provenance provenance = document_->bundle().provenance();
    const StudyParameters parameters = document_->bundle().parameters();
    const QString model = document_->modelPath();
    const std::shared_ptr<const NeuronResult> neuron = neuron_;
    watcher_->setFuture(QtConcurrent::run([job, progress, provenance, parameters, model, neuron] {
        try {
            job->lookups = computeLookups(provenance, parameters, *neuron, job->contexts, job->head, model, progress);
        } catch (const std::exception& e) {
            job->error = QString::fromUtf8(e.what());
        }
        return job;
    }));
    showMissing(QString(), true);
}

void LookupView::onProgress(qint64, qint64, const QString& message) {
    if (computing()) message_->setText(tr("Computing the look-up: %1").arg(message));
}

void LookupView::moveHead(int step) {
    if (!neuron_ || neuron_->candidateHeads.empty()) return;
    const std::vector<int>& heads = neuron_->candidateHeads;
    const auto it = std::find(heads.begin(), heads.end(), selection_->head());
    int k = it == heads.end() ? (step > 0 ? -1 : static_cast<int>(heads.size())) : static_cast<int>(it - heads.begin());
    k = std::clamp(k + step, 0, static_cast<int>(heads.size()) - 1);
    selection_->setHead(heads[std::size_t(k)]);
}

void LookupView::moveContext(int step) {
    if (!neuron_) return;
    const int n = static_cast<int>(neuron_->contexts.size());
    for (int c = selection_->context() + step; c >= 0 && c < n; c += step)
        if (neuron_->contexts[std::size_t(c)].kept) {
            selection_->setContext(c);
            return;
        }
}

void LookupView::keyPressEvent(QKeyEvent* event) {
    switch (event->key()) {
    case Qt::Key_Left: moveHead(-1); break;
    case Qt::Key_Right: moveHead(1); break;
    case Qt::Key_Up: moveContext(-1); break;
    case Qt::Key_Down: moveContext(1); break;
    default: QWidget::keyPressEvent(event); return;
    }
    event->accept();
}

}  // namespace headlight::ui
