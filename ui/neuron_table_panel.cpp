#include "ui/neuron_table_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/neuron_table_model.h"
#include "ui/study_document.h"

namespace headlight::ui {

NeuronTablePanel::NeuronTablePanel(StudySelection* selection, QWidget* parent)
    : QWidget(parent), selection_(selection), model_(new NeuronTableModel(this)), proxy_(new NeuronFilterProxy(this)) {
    proxy_->setSourceModel(model_);
    search_ = new QLineEdit(this);
    search_->setObjectName(QStringLiteral("neuronSearch"));
    search_->setPlaceholderText(tr("Search token text or L3N12 (Ctrl+F)"));
    search_->setClearButtonEnabled(true);
    layer_ = new QComboBox(this);
    layer_->setObjectName(QStringLiteral("layerFilter"));
    layer_->setAccessibleName(tr("Layer filter"));
    kind_ = new QComboBox(this);
    kind_->setObjectName(QStringLiteral("kindFilter"));
    kind_->setAccessibleName(tr("Real or baseline neurons"));
    kind_->addItem(tr("All neurons"));
    kind_->addItem(tr("Real only"));
    kind_->addItem(tr("Baseline only"));
    table_ = new QTableView(this);
    table_->setObjectName(QStringLiteral("neuronTable"));
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setWordWrap(false);
    count_ = new QLabel(this);
    count_->setObjectName(QStringLiteral("neuronCount"));

    auto* filters = new QHBoxLayout;
    filters->addWidget(search_, 1);
    filters->addWidget(layer_);
    filters->addWidget(kind_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(filters);
    layout->addWidget(table_, 1);
    layout->addWidget(count_);

    // Typing filters after a short pause, so 300,000 rows do not refilter on every key.
    auto* debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(200);
    connect(search_, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    connect(debounce, &QTimer::timeout, this, [this] {
        proxy_->setSearchText(search_->text());
        updateCount();
    });
    connect(search_, &QLineEdit::returnPressed, this, [this, debounce] {
        debounce->stop();
        proxy_->setSearchText(search_->text());
        updateCount();
        if (proxy_->rowCount() > 0) table_->setCurrentIndex(proxy_->index(0, 0));
        table_->setFocus();
    });
    connect(layer_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int) {
        proxy_->setLayerFilter(layer_->currentData().isValid() ? layer_->currentData().toInt() : -1);
        updateCount();
    });
    connect(kind_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        proxy_->setKindFilter(static_cast<NeuronFilterProxy::KindFilter>(i));
        updateCount();
    });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (!current.isValid()) return;
        const int neuron = proxy_->mapToSource(current).row();
        if (neuron != selection_->neuron()) selection_->setNeuron(neuron);
    });
    connect(selection_, &StudySelection::neuronChanged, this, [this](int neuron) {
        if (neuron >= 0) selectNeuron(neuron);
    });
    updateCount();
}

void NeuronTablePanel::setDocument(std::shared_ptr<const StudyDocument> document) {
    layer_->blockSignals(true);
    layer_->clear();
    layer_->addItem(tr("All layers"));
    if (document)
        for (int l : document->layers()) layer_->addItem(tr("Layer %1").arg(l), l);
    layer_->blockSignals(false);
    proxy_->setLayerFilter(-1);
    model_->setDocument(std::move(document));
    if (model_->rowCount() > 0 && model_->rowCount() <= 20000) {
        for (int c = 0; c < NeuronTableModel::ColumnCount - 1; ++c) table_->resizeColumnToContents(c);
    }
    updateCount();
}

void NeuronTablePanel::selectNeuron(int neuron) {
    QModelIndex index = proxy_->mapFromSource(model_->index(neuron, 0));
    if (!index.isValid()) {
        search_->clear();
        proxy_->setSearchText(QString());
        layer_->setCurrentIndex(0);
        kind_->setCurrentIndex(0);
        index = proxy_->mapFromSource(model_->index(neuron, 0));
    }
    if (!index.isValid()) return;
    if (table_->currentIndex().row() != index.row()) table_->setCurrentIndex(index);
    table_->scrollTo(index);
}

void NeuronTablePanel::updateCount() {
    const int total = model_->rowCount(), shown = proxy_->rowCount();
    count_->setText(shown == total ? tr("%n neuron(s)", nullptr, total) : tr("%1 of %2 neurons").arg(shown).arg(total));
}

}  // namespace headlight::ui
