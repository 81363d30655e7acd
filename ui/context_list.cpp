#include "ui/context_list.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include "core/study/study.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {
constexpr int kMargin = 6;
}

void ContextListModel::setNeuron(std::shared_ptr<const StudyDocument> document, std::shared_ptr<const NeuronResult> neuron) {
    beginResetModel();
    document_ = std::move(document);
    neuron_ = std::move(neuron);
    range_ = neuron_ ? activationRange(*neuron_) : 1.f;
    rebuild();
    endResetModel();
}

void ContextListModel::setShowDropped(bool show) {
    if (show == showDropped_) return;
    beginResetModel();
    showDropped_ = show;
    rebuild();
    endResetModel();
}

void ContextListModel::rebuild() {
    rows_.clear();
    cache_.clear();
    if (!neuron_) return;
    for (int i = 0; i < static_cast<int>(neuron_->contexts.size()); ++i)
        if (showDropped_ || neuron_->contexts[i].kept) rows_.push_back(i);
    cache_.resize(rows_.size());
}

int ContextListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

const HighlightedContext& ContextListModel::highlighted(int row) const {
    auto& slot = cache_.at(row);
    if (!slot) slot = std::make_unique<HighlightedContext>(makeHighlightedContext(*neuron_, rows_[row], *document_, range_));
    return *slot;
}

int ContextListModel::rowOfContext(int contextIndex) const {
    for (int r = 0; r < static_cast<int>(rows_.size()); ++r)
        if (rows_[r] == contextIndex) return r;
    return -1;
}

QVariant ContextListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || !neuron_) return {};
    const NeuronContext& c = neuron_->contexts[rows_[index.row()]];
    switch (role) {
    case Qt::DisplayRole: return QString::fromStdString(c.text);   // plain text, for accessibility / copy
    case Qt::AccessibleTextRole: return QString::fromStdString(c.text);
    case ContextIndexRole: return rows_[index.row()];
    case KeptRole: return c.kept;
    default: return {};
    }
}

// ---------------------------------------------------------------------------------------------------

TokenContextDelegate::TokenContextDelegate(QListView* view) : QStyledItemDelegate(view), view_(view) {}

qreal TokenContextDelegate::contentWidth() const { return std::max(80, view_->viewport()->width() - 2 * kMargin); }

QSize TokenContextDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const {
    const auto* model = qobject_cast<const ContextListModel*>(index.model());
    if (!model) return QStyledItemDelegate::sizeHint(option, index);
    const ContextLayout layout = layoutContext(model->highlighted(index.row()), option.font, contentWidth());
    return QSize(static_cast<int>(contentWidth()), static_cast<int>(std::ceil(layout.height)) + 2 * kMargin);
}

void TokenContextDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
    const auto* model = qobject_cast<const ContextListModel*>(index.model());
    if (!model) return;
    painter->save();
    const QPalette& pal = option.palette;
    if (option.state & QStyle::State_Selected) {
        painter->fillRect(option.rect, pal.color(QPalette::Highlight).lighter(pal.color(QPalette::Base).lightness() > 128 ? 170 : 60));
        painter->setPen(QPen(pal.color(QPalette::Highlight), 2));
        painter->drawRect(QRectF(option.rect).adjusted(1, 1, -1, -1));
    }
    if (option.state & QStyle::State_HasFocus) {
        painter->setPen(QPen(pal.color(QPalette::Highlight), 1, Qt::DotLine));
        painter->drawRect(QRectF(option.rect).adjusted(2, 2, -3, -3));
    }
    const HighlightedContext& h = model->highlighted(index.row());
    const ContextLayout layout = layoutContext(h, option.font, contentWidth());
    ContextPaintOptions paintOptions;
    if (auto* list = qobject_cast<const ContextListView*>(view_)) {
        paintOptions.boundaries = list->showBoundaries();
        if (list->hoveredRow() == index.row()) paintOptions.hoveredPiece = list->hoveredPiece();
    }
    paintContext(*painter, h, layout, QPointF(option.rect.left() + kMargin, option.rect.top() + kMargin), option.font,
                 pal.color(QPalette::Text), pal.color(QPalette::PlaceholderText), pal.color(QPalette::Base), paintOptions);
    painter->setPen(pal.color(QPalette::Mid));
    painter->drawLine(option.rect.bottomLeft(), option.rect.bottomRight());
    painter->restore();
}

int TokenContextDelegate::pieceAt(const QModelIndex& index, const QRect& rect, const QPoint& pos) const {
    const auto* model = qobject_cast<const ContextListModel*>(index.model());
    if (!model) return -1;
    const HighlightedContext& h = model->highlighted(index.row());
    const ContextLayout layout = layoutContext(h, view_->font(), contentWidth());
    return ui::pieceAt(layout, QPointF(pos) - QPointF(rect.left() + kMargin, rect.top() + kMargin));
}

bool TokenContextDelegate::helpEvent(QHelpEvent* event, QAbstractItemView* view, const QStyleOptionViewItem& option,
                                     const QModelIndex& index) {
    if (event->type() != QEvent::ToolTip || !index.isValid()) return QStyledItemDelegate::helpEvent(event, view, option, index);
    const int piece = pieceAt(index, option.rect, event->pos());
    const auto* model = qobject_cast<const ContextListModel*>(index.model());
    if (piece < 0 || !model) {
        QToolTip::hideText();
        return true;
    }
    QToolTip::showText(event->globalPos(), pieceToolTip(model->highlighted(index.row()).pieces[piece]), view);
    return true;
}

// ---------------------------------------------------------------------------------------------------

ContextListView::ContextListView(QWidget* parent) : QListView(parent), model_(new ContextListModel(this)) {
    setModel(model_);
    setItemDelegate(new TokenContextDelegate(this));
    setResizeMode(QListView::Adjust);
    setUniformItemSizes(false);
    setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setSelectionMode(QAbstractItemView::SingleSelection);
    setMouseTracking(true);
    setObjectName(QStringLiteral("contextList"));
    setAccessibleName(tr("Contexts of the selected neuron"));
}

void ContextListView::bind(StudySelection* selection) {
    selection_ = selection;
    connect(selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (selection_ && current.isValid()) selection_->setContext(model_->contextOfRow(current.row()));
    });
    connect(selection, &StudySelection::contextChanged, this, &ContextListView::selectContext);
}

void ContextListView::selectContext(int contextIndex) {
    const int row = contextIndex >= 0 ? model_->rowOfContext(contextIndex) : -1;
    if (row < 0) {
        clearSelection();
        return;
    }
    const QModelIndex index = model_->index(row);
    if (currentIndex() != index) setCurrentIndex(index);
    scrollTo(index);
}

void ContextListView::setShowBoundaries(bool show) {
    showBoundaries_ = show;
    viewport()->update();
}

void ContextListView::setHovered(int row, int piece) {
    if (row == hoveredRow_ && piece == hoveredPiece_) return;
    hoveredRow_ = row;
    hoveredPiece_ = piece;
    viewport()->update();
}

void ContextListView::mouseMoveEvent(QMouseEvent* event) {
    QListView::mouseMoveEvent(event);
    const QModelIndex index = indexAt(event->position().toPoint());
    auto* delegate = qobject_cast<TokenContextDelegate*>(itemDelegate());
    if (!index.isValid() || !delegate) return setHovered(-1, -1);
    setHovered(index.row(), delegate->pieceAt(index, visualRect(index), event->position().toPoint()));
}

void ContextListView::leaveEvent(QEvent* event) {
    QListView::leaveEvent(event);
    setHovered(-1, -1);
}

void ContextListView::resizeEvent(QResizeEvent* event) {
    QListView::resizeEvent(event);
    scheduleDelayedItemsLayout();
}

}  // namespace headlight::ui
