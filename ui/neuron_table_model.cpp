#include "ui/neuron_table_model.h"

#include <cmath>

#include <QFont>
#include <QTextDocument>

#include "core/analysis/activation_histogram.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {

QString number(float v, int decimals) { return std::isnan(v) ? QStringLiteral("—") : QString::number(v, 'f', decimals); }

// Token text for a table cell: whitespace made visible, nothing interpreted.
QString visibleToken(const QString& token) {
    QString t = token;
    t.replace(QLatin1Char('\n'), QStringLiteral("\u21B5"));
    t.replace(QLatin1Char('\t'), QStringLiteral("\u21E5"));
    return QLatin1Char('"') + t + QLatin1Char('"');
}

// NaN sorts last in both directions of a column's natural order.
int compareFloat(float a, float b) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

void NeuronTableModel::setDocument(std::shared_ptr<const StudyDocument> document) {
    beginResetModel();
    document_ = std::move(document);
    endResetModel();
}

int NeuronTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !document_ ? 0 : document_->neuronCount();
}

int NeuronTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant NeuronTableModel::data(const QModelIndex& index, int role) const {
    if (!document_ || !index.isValid()) return {};
    const StudyDocument& d = *document_;
    const int i = index.row();
    if (role == IndexRole) return i;
    if (role == Qt::TextAlignmentRole)
        return index.column() == Token || index.column() == Kind ? QVariant(Qt::AlignLeft | Qt::AlignVCenter)
                                                                 : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::FontRole && d.baseline(i)) {  // random-baseline neurons read differently everywhere
        QFont f;
        f.setItalic(true);
        return f;
    }
    if (role == Qt::ToolTipRole) {
        // Token text comes from the model's vocabulary: never let the tooltip interpret it as HTML.
        return Qt::convertFromPlainText(tr("%1, token %2 (%3)").arg(d.neuronLabel(i), visibleToken(d.tokenText(i)),
                                                                    d.baseline(i) ? tr("random baseline") : tr("next-token neuron")));
    }
    if (role == SortRole) {
        switch (index.column()) {
        case Layer: return d.layer(i);
        case Neuron: return d.neuronIndex(i);
        case Token: return d.tokenText(i);
        case Congruence: return d.congruence(i);
        case TopActivation: return d.maxActivation(i);
        case Kept: return d.keptContexts(i);
        case Relevant: return d.relevantHeads(i);
        case BestScore: return d.bestScore(i);
        case Kind: return d.baseline(i) ? 1 : 0;
        default: return {};
        }
    }
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
    case Layer: return d.layer(i);
    case Neuron: return d.neuronIndex(i);
    case Token: return visibleToken(d.tokenText(i));
    case Congruence: return number(d.congruence(i), 3);
    case TopActivation:  // near-dead neurons say so instead of showing a bare tiny maximum
        return !std::isnan(d.maxActivation(i)) && analysis::isNearDead(d.maxActivation(i)) ? tr("%1 near-dead").arg(number(d.maxActivation(i), 3))
                                                         : number(d.maxActivation(i), 3);
    case Kept: return d.keptContexts(i);
    case Relevant: return d.relevantHeads(i);
    case BestScore: return number(d.bestScore(i), 3);
    case Kind: return d.baseline(i) ? tr("baseline") : tr("real");
    default: return {};
    }
}

QVariant NeuronTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Layer: return tr("Layer");
        case Neuron: return tr("Neuron");
        case Token: return tr("Token");
        case Congruence: return tr("Congruence");
        case TopActivation: return tr("Top act.");
        case Kept: return tr("Contexts");
        case Relevant: return tr("Relevant heads");
        case BestScore: return tr("Best E");
        case Kind: return tr("Kind");
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case Congruence: return tr("max over tokens of W_out[n] · W_U[:, t]");
        case TopActivation: return tr("largest activation over the neuron's max-activating contexts");
        case Kept: return tr("contexts kept as the method's prompts (P)");
        case Relevant: return tr("heads active in 25-75 % of the kept contexts");
        case BestScore: return tr("best head explanation score E (balanced accuracy)");
        case Kind: return tr("real next-token neuron or random baseline");
        default: return {};
        }
    }
    return {};
}

bool NeuronTableModel::rowLess(int a, int b, int column) const {
    const StudyDocument& d = *document_;
    int c = 0;
    switch (column) {
    case Layer: c = d.layer(a) - d.layer(b); if (c == 0) c = d.neuronIndex(a) - d.neuronIndex(b); break;
    case Neuron: c = d.neuronIndex(a) - d.neuronIndex(b); break;
    case Token: c = d.tokenText(a).compare(d.tokenText(b), Qt::CaseInsensitive); break;
    case Congruence: c = compareFloat(d.congruence(a), d.congruence(b)); break;
    case TopActivation: c = compareFloat(d.maxActivation(a), d.maxActivation(b)); break;
    case Kept: c = d.keptContexts(a) - d.keptContexts(b); break;
    case Relevant: c = d.relevantHeads(a) - d.relevantHeads(b); break;
    case BestScore: c = compareFloat(d.bestScore(a), d.bestScore(b)); break;
    case Kind: c = int(d.baseline(a)) - int(d.baseline(b)); break;
    default: break;
    }
    return c != 0 ? c < 0 : a < b;
}

// ---------------------------------------------------------------------------------------------------

NeuronFilterProxy::NeuronFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(NeuronTableModel::SortRole);
}

void NeuronFilterProxy::setLayerFilter(int layer) {
    if (layer == layer_) return;
    layer_ = layer;
    invalidateFilter();
}

void NeuronFilterProxy::setKindFilter(KindFilter kind) {
    if (kind == kind_) return;
    kind_ = kind;
    invalidateFilter();
}

void NeuronFilterProxy::setSearchText(const QString& text) {
    if (text == search_) return;
    search_ = text;
    invalidateFilter();
}

bool NeuronFilterProxy::filterAcceptsRow(int row, const QModelIndex&) const {
    const auto* model = static_cast<const NeuronTableModel*>(sourceModel());
    const StudyDocument* d = model ? model->document() : nullptr;
    if (!d) return false;
    if (layer_ >= 0 && d->layer(row) != layer_) return false;
    if (kind_ == KindFilter::Real && d->baseline(row)) return false;
    if (kind_ == KindFilter::Baseline && !d->baseline(row)) return false;
    if (search_.isEmpty()) return true;
    if (d->tokenText(row).contains(search_, Qt::CaseInsensitive)) return true;
    return d->neuronLabel(row).compare(search_.trimmed(), Qt::CaseInsensitive) == 0;
}

bool NeuronFilterProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const auto* model = static_cast<const NeuronTableModel*>(sourceModel());
    return model->rowLess(left.row(), right.row(), left.column());
}

}  // namespace headlight::ui
