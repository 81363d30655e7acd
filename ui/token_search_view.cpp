#include "ui/token_search_view.h"

#include <map>

#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/analysis/playground.h"
#include "core/study/study.h"
#include "ui/study_document.h"
#include "ui/token_layout.h"

namespace headlight::ui {

TokenSearchView::TokenSearchView(QWidget* parent)
    : QWidget(parent), worker_(new QFutureWatcher<std::vector<analysis::TokenNeuronRow>>(this)) {
    setObjectName(QStringLiteral("tokenSearch"));
    token_ = new QLineEdit(this);
    token_->setObjectName(QStringLiteral("tokenSearchToken"));
    token_->setPlaceholderText(tr("a token, e.g. \" only\" (leading space included)"));
    token_->setAccessibleName(tr("Token"));
    layers_ = new QLineEdit(this);
    layers_->setObjectName(QStringLiteral("tokenSearchLayers"));
    layers_->setPlaceholderText(tr("e.g. 3,4 — empty: the study's layers"));
    layers_->setAccessibleName(tr("Layers"));
    rows_ = new QSpinBox(this);
    rows_->setRange(0, 1000000);
    rows_->setValue(100);
    rows_->setSpecialValueText(tr("all"));
    rows_->setAccessibleName(tr("Rows shown"));
    search_ = new QPushButton(tr("&Search"), this);
    newStudy_ = new QPushButton(tr("&New study from these neurons…"), this);
    newStudy_->setObjectName(QStringLiteral("newStudyFromNeurons"));
    newStudy_->setEnabled(false);
    newStudy_->setToolTip(tr("Open the Run dialog with the selected neurons (all listed ones when none is selected)"));
    tableModel_ = new QStandardItemModel(this);
    table_ = new QTableView(this);
    table_->setObjectName(QStringLiteral("tokenSearchResults"));
    table_->setModel(tableModel_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    status_ = new QLabel(tr("Type a token and press Enter. The model loads on the first search."), this);
    status_->setObjectName(QStringLiteral("tokenSearchStatus"));
    status_->setTextFormat(Qt::PlainText);
    status_->setWordWrap(true);

    auto* form = new QHBoxLayout;
    auto* tokenLabel = new QLabel(tr("&Token:"), this);
    tokenLabel->setBuddy(token_);
    auto* layersLabel = new QLabel(tr("&Layers:"), this);
    layersLabel->setBuddy(layers_);
    form->addWidget(tokenLabel);
    form->addWidget(token_, 2);
    form->addWidget(layersLabel);
    form->addWidget(layers_, 1);
    form->addWidget(new QLabel(tr("Rows:"), this));
    form->addWidget(rows_);
    form->addWidget(search_);
    auto* bottom = new QHBoxLayout;
    bottom->addStretch(1);
    bottom->addWidget(newStudy_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(form);
    layout->addWidget(table_, 1);
    layout->addWidget(status_);
    layout->addLayout(bottom);
    showResults();

    connect(search_, &QPushButton::clicked, this, &TokenSearchView::search);
    connect(token_, &QLineEdit::returnPressed, this, &TokenSearchView::search);
    connect(layers_, &QLineEdit::returnPressed, this, &TokenSearchView::search);
    connect(newStudy_, &QPushButton::clicked, this, [this] { Q_EMIT newStudyRequested(chosenNeurons()); });
    connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        if (index.row() < 0 || index.row() >= static_cast<int>(results_.size())) return;
        const NeuronRef r = results_[std::size_t(index.row())].neuron.ref;
        Q_EMIT neuronActivated(r.layer, r.neuron);
    });
    connect(worker_, &QFutureWatcher<std::vector<analysis::TokenNeuronRow>>::finished, this, [this] {
        results_ = worker_->result();
        showResults();
        Q_EMIT resultsReady();
    });
}

TokenSearchView::~TokenSearchView() { worker_->waitForFinished(); }

void TokenSearchView::setDocument(std::shared_ptr<const StudyDocument> document) {
    worker_->waitForFinished();
    document_ = std::move(document);
    results_.clear();
    error_.clear();
    waitingForModel_ = false;
    showResults();
}

void TokenSearchView::setModelSource(std::function<const analysis::Playground*()> model, std::function<void()> load) {
    model_ = std::move(model);
    load_ = std::move(load);
}

void TokenSearchView::modelReady() {
    if (waitingForModel_) search();
}

std::vector<int> TokenSearchView::chosenLayers() const {
    std::vector<int> layers;
    for (const QString& part : layers_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int l = part.trimmed().toInt(&ok);
        if (ok) layers.push_back(l);
    }
    if (layers.empty() && document_) layers = document_->bundle().parameters().layers;
    return layers;
}

void TokenSearchView::search() {
    const analysis::Playground* model = model_ ? model_() : nullptr;
    if (!document_ || token_->text().isEmpty()) return;
    if (!model) {
        waitingForModel_ = true;
        status_->setText(tr("Loading the study's model …"));
        if (load_) load_();
        return;
    }
    waitingForModel_ = false;
    if (worker_->isRunning()) return;
    const std::vector<int> layers = chosenLayers();
    for (int l : layers)
        if (l < 0 || l >= model->nLayers()) {
            status_->setText(tr("Layer %1 does not exist (the model has %2 layers).").arg(l).arg(model->nLayers()));
            return;
        }
    const std::string token = token_->text().toStdString();
    const int top = rows_->value() == 0 ? -1 : rows_->value();
    const analysis::Playground copy = *model;
    status_->setText(tr("Ranking the neurons of layers %1 …").arg(layers_->text().isEmpty() ? tr("of the study") : layers_->text()));
    worker_->setFuture(QtConcurrent::run([this, copy, token, layers, top]() {
        try {
            return copy.neuronsForToken(token, layers, top);
        } catch (const std::exception& e) {
            error_ = QString::fromUtf8(e.what());  // read on the GUI thread after finished()
            return std::vector<analysis::TokenNeuronRow>{};
        }
    }));
}

void TokenSearchView::showResults() {
    tableModel_->clear();
    tableModel_->setHorizontalHeaderLabels({tr("Neuron"), tr("Congruence with token"), tr("Its own token"),
                                            tr("Own congruence"), tr("In study")});
    std::map<NeuronRef, int> inStudy;
    if (document_)
        for (int i = 0; i < document_->neuronCount(); ++i) inStudy.emplace(NeuronRef{document_->layer(i), document_->neuronIndex(i)}, i);
    for (const analysis::TokenNeuronRow& r : results_) {
        QList<QStandardItem*> row;
        row << new QStandardItem(QString::fromStdString(neuronName(r.neuron.ref)))
            << new QStandardItem(QString::number(r.tokenCongruence, 'f', 4))
            << new QStandardItem(QStringLiteral("\"%1\"").arg(visibleText(QString::fromStdString(r.neuron.token))))
            << new QStandardItem(QString::number(r.neuron.congruence, 'f', 4))
            << new QStandardItem(inStudy.count(r.neuron.ref) ? tr("yes") : QString());
        for (QStandardItem* item : row) item->setEditable(false);
        row[1]->setData(int(Qt::AlignRight | Qt::AlignVCenter), Qt::TextAlignmentRole);
        row[3]->setData(int(Qt::AlignRight | Qt::AlignVCenter), Qt::TextAlignmentRole);
        tableModel_->appendRow(row);
    }
    table_->resizeColumnsToContents();
    newStudy_->setEnabled(!results_.empty());
    if (!error_.isEmpty()) {
        status_->setText(error_);
        error_.clear();
    } else if (!results_.empty()) {
        status_->setText(tr("%1 neuron(s) by congruence with \"%2\", best first. Double-click: select the neuron (or "
                            "open it in the playground when it is not in the study).")
                             .arg(results_.size())
                             .arg(visibleText(token_->text())));
    } else if (!document_) {
        status_->setText(tr("Open a study: the search uses its model."));
    }
}

QStringList TokenSearchView::chosenNeurons() const {
    QStringList out;
    const QModelIndexList selected = table_->selectionModel()->selectedRows();
    std::vector<int> rows;
    for (const QModelIndex& i : selected) rows.push_back(i.row());
    std::sort(rows.begin(), rows.end());
    if (rows.empty())
        for (int r = 0; r < static_cast<int>(results_.size()); ++r) rows.push_back(r);
    for (int r : rows)
        if (r < static_cast<int>(results_.size())) out << QString::fromStdString(neuronName(results_[std::size_t(r)].neuron.ref));
    return out;
}

}  // namespace headlight::ui
