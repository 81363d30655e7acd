// The contexts of the selected neuron: a list model (one row per context; dropped contexts only when
// asked for) and a delegate that paints each row as token boxes coloured by the neuron's activation
// (token_layout.h), with the hovered token's text, id and value as a tooltip. No rich text anywhere.
#pragma once

#include <memory>
#include <vector>

#include <QAbstractListModel>
#include <QListView>
#include <QStyledItemDelegate>

#include "ui/token_layout.h"

namespace headlight {
struct NeuronResult;
}

namespace headlight::ui {

class StudyDocument;
class StudySelection;

class ContextListModel : public QAbstractListModel {
    Q_OBJECT
public:
    static constexpr int ContextIndexRole = Qt::UserRole + 1;  // index into the neuron's contexts
    static constexpr int KeptRole = Qt::UserRole + 2;

    using QAbstractListModel::QAbstractListModel;
    void setNeuron(std::shared_ptr<const StudyDocument> document, std::shared_ptr<const NeuronResult> neuron);
    void setShowDropped(bool show);
    bool showDropped() const { return showDropped_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

    const HighlightedContext& highlighted(int row) const;
    int rowOfContext(int contextIndex) const;   // -1 if hidden
    int contextOfRow(int row) const { return rows_.at(row); }
    const NeuronResult* neuron() const { return neuron_.get(); }

private:
    void rebuild();
    std::shared_ptr<const StudyDocument> document_;
    std::shared_ptr<const NeuronResult> neuron_;
    bool showDropped_ = false;
    std::vector<int> rows_;
    float range_ = 1.f;
    mutable std::vector<std::unique_ptr<HighlightedContext>> cache_;
};

class TokenContextDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit TokenContextDelegate(QListView* view);
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    bool helpEvent(QHelpEvent* event, QAbstractItemView* view, const QStyleOptionViewItem& option,
                   const QModelIndex& index) override;
    // The piece under `pos` (viewport coordinates) of the row at `rect`, or -1.
    int pieceAt(const QModelIndex& index, const QRect& rect, const QPoint& pos) const;

private:
    qreal contentWidth() const;
    QListView* view_;
};

// The list view with the delegate installed; keeps the selected context in sync with the selection.
class ContextListView : public QListView {
    Q_OBJECT
public:
    explicit ContextListView(QWidget* parent = nullptr);
    ContextListModel* contextModel() const { return model_; }
    void bind(StudySelection* selection);
    void selectContext(int contextIndex);
    // Hairlines between all tokens (otherwise only the hovered token is outlined).
    void setShowBoundaries(bool show);
    bool showBoundaries() const { return showBoundaries_; }
    // The token under the mouse: its row and piece (-1 when none).
    int hoveredRow() const { return hoveredRow_; }
    int hoveredPiece() const { return hoveredPiece_; }

protected:
    void resizeEvent(QResizeEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    void setHovered(int row, int piece);
    bool showBoundaries_ = false;
    int hoveredRow_ = -1, hoveredPiece_ = -1;
    ContextListModel* model_;
    StudySelection* selection_ = nullptr;
};

}  // namespace headlight::ui
