// The neuron table: one row per neuron of the study, read from the flat summaries of StudyDocument
// (data() computes each cell on demand; nothing per row is allocated), and the proxy that sorts and
// filters it (layer, real / baseline, search on token text or name) without going through QVariant.
#pragma once

#include <memory>

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

namespace headlight::ui {

class StudyDocument;

class NeuronTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Layer, Neuron, Token, Congruence, TopActivation, Kept, Relevant, BestScore, Kind, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;     // raw number / text for sorting
    static constexpr int IndexRole = Qt::UserRole + 2;    // bundle neuron index

    using QAbstractTableModel::QAbstractTableModel;
    void setDocument(std::shared_ptr<const StudyDocument> document);
    const StudyDocument* document() const { return document_.get(); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Strict weak order of rows a and b by column (ties broken by row); what the proxy sorts with.
    bool rowLess(int a, int b, int column) const;

private:
    std::shared_ptr<const StudyDocument> document_;
};

class NeuronFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    enum class KindFilter { All, Real, Baseline };
    explicit NeuronFilterProxy(QObject* parent = nullptr);

    void setLayerFilter(int layer);          // -1: all layers
    void setKindFilter(KindFilter kind);
    void setSearchText(const QString& text); // substring of the token text (case-insensitive) or "L3N12"
    int layerFilter() const { return layer_; }
    KindFilter kindFilter() const { return kind_; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    int layer_ = -1;
    KindFilter kind_ = KindFilter::All;
    QString search_;
};

}  // namespace headlight::ui
