#include "ui/neuron_view.h"

#include <algorithm>
#include <cmath>

#include <QCheckBox>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QTabWidget>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include "core/base/error.h"
#include "core/study/study.h"
#include "ui/context_list.h"
#include "ui/head_heatmap.h"
#include "ui/lookup_view.h"
#include "ui/neuron_facts_view.h"
#include "ui/study_document.h"

namespace headlight::ui {

NeuronView::NeuronView(StudySelection* selection, QWidget* parent) : QWidget(parent), selection_(selection) {
    title_ = new QLabel(tr("Select a neuron in the table."), this);
    title_->setTextFormat(Qt::PlainText);
    title_->setObjectName(QStringLiteral("neuronTitle"));
    QFont f = title_->font();
    f.setBold(true);
    f.setPointSizeF(f.pointSizeF() * 1.15);
    title_->setFont(f);
    showDropped_ = new QCheckBox(tr("Show &dropped contexts"), this);
    showDropped_->setToolTip(tr("Also show the scan's contexts that the method did not keep (too long, duplicate "
                                "text, or past the first P), greyed"));
    boundaries_ = new QCheckBox(tr("Token &boundaries"), this);
    boundaries_->setToolTip(tr("Mark where each token begins (otherwise only the token under the mouse is outlined)"));
    contexts_ = new ContextListView(this);
    contexts_->bind(selection_);
    contextMap_ = new HeadHeatMap(this);
    contextMap_->setObjectName(QStringLiteral("contextHeadMap"));
    contextMap_->setAccessibleName(tr("Head attribution per context"));
    layerMap_ = new HeadHeatMap(this);
    layerMap_->setObjectName(QStringLiteral("layerHeadMap"));
    layerMap_->setAccessibleName(tr("Head attribution of the selected context, layers by heads"));
    relevantModel_ = new QStandardItemModel(this);
    relevant_ = new QTableView(this);
    relevant_->setObjectName(QStringLiteral("relevantHeads"));
    relevant_->setModel(relevantModel_);
    relevant_->setSelectionBehavior(QAbstractItemView::SelectRows);
    relevant_->setSelectionMode(QAbstractItemView::SingleSelection);
    relevant_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    relevant_->verticalHeader()->hide();
    relevant_->horizontalHeader()->setStretchLastSection(true);
    details_ = new QPlainTextEdit(this);   // plain text: explanations are shown literally
    details_->setReadOnly(true);
    details_->setObjectName(QStringLiteral("headDetails"));

    auto* top = new QWidget(this);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    auto* header = new QHBoxLayout;
    header->addWidget(title_, 1);
    header->addWidget(boundaries_);
    header->addWidget(showDropped_);
    topLayout->addLayout(header);
    topLayout->addWidget(contexts_, 1);

    auto* headsPanel = new QWidget(this);
    auto* headsLayout = new QVBoxLayout(headsPanel);
    headsLayout->setContentsMargins(0, 0, 0, 0);
    auto* relevantLabel = new QLabel(tr("Relevant heads"), headsPanel);
    relevantLabel->setBuddy(relevant_);
    headsLayout->addWidget(relevantLabel);
    headsLayout->addWidget(relevant_, 1);
    facts_ = new NeuronFactsView(headsPanel);
    detailTabs_ = new QTabWidget(headsPanel);
    detailTabs_->setObjectName(QStringLiteral("detailTabs"));
    detailTabs_->addTab(details_, tr("&Head"));
    detailTabs_->addTab(facts_, tr("Neuron &facts"));
    headsLayout->addWidget(detailTabs_, 1);

    auto* right = new QSplitter(Qt::Vertical, this);
    right->addWidget(layerMap_);
    right->addWidget(headsPanel);
    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(contextMap_);
    bottom->addWidget(right);
    bottom->setStretchFactor(0, 3);
    bottom->setStretchFactor(1, 2);
    lookup_ = new LookupView(selection_, this);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(top);
    split->addWidget(lookup_);
    split->addWidget(bottom);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setStretchFactor(2, 4);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);

    connect(selection_, &StudySelection::neuronChanged, this, &NeuronView::onNeuronChanged);
    connect(selection_, &StudySelection::contextChanged, this, &NeuronView::onContextChanged);
    connect(selection_, &StudySelection::headChanged, this, &NeuronView::onHeadChanged);
    connect(boundaries_, &QCheckBox::toggled, contexts_, &ContextListView::setShowBoundaries);
    connect(showDropped_, &QCheckBox::toggled, this, [this](bool on) {
        const int context = selection_->context();
        contexts_->contextModel()->setShowDropped(on);
        rebuildContextMap();
        contexts_->selectContext(context);
        onContextChanged(context);
    });
    connect(contextMap_, &HeadHeatMap::cellClicked, this, [this](int row, int column) {
        if (row < 0 || row >= contexts_->contextModel()->rowCount() || column < 0 ||
            column >= static_cast<int>(columnHeads_.size()))
            return;
        selection_->setContextAndHead(contexts_->contextModel()->contextOfRow(row), columnHeads_[column]);
    });
    connect(layerMap_, &HeadHeatMap::cellClicked, this, [this](int row, int column) {
        if (document_) selection_->setHead(row * document_->nHeads() + column);
    });
    connect(relevant_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (!current.isValid()) return;
        const QVariant head = relevantModel_->item(current.row(), 0)->data(Qt::UserRole);
        if (head.isValid()) selection_->setHead(head.toInt());
    });
}

void NeuronView::setDocument(std::shared_ptr<const StudyDocument> document) {
    document_ = std::move(document);
    lookup_->setDocument(document_);
    onNeuronChanged(selection_->neuron());
}

void NeuronView::onNeuronChanged(int neuron) {
    neuron_.reset();
    QString failure;
    try {
        if (document_ && neuron >= 0 && neuron < document_->neuronCount()) neuron_ = document_->neuronResult(neuron);
    } catch (const Error& e) {  // a damaged bundle: its per-head values are checked when a neuron is shown
        failure = QString::fromStdString(e.what());
    }
    if (!failure.isEmpty()) {
        title_->setText(tr("Cannot show this neuron: %1").arg(failure));
    } else if (neuron_) {
        const NextTokenNeuron& n = neuron_->neuron;
        title_->setText(tr("%1  →  \"%2\"   congruence %3%4")
                            .arg(QString::fromStdString(neuronName(n.ref)), QString::fromStdString(n.token))
                            .arg(n.congruence, 0, 'f', 3)
                            .arg(n.baseline ? tr("   (random baseline)") : QString()) +
                        (isDeadNeuron(*neuron_) ? tr("   —  near-dead neuron: top activation ≈ 0, contexts carry no signal") : QString()));
    } else {
        title_->setText(tr("Select a neuron in the table."));
    }
    facts_->setNeuron(neuron_.get(), document_ && document_->bundle().hasTokenFacts(),
                      document_ && document_->bundle().hasHistograms());
    columnHeads_ = neuron_ ? neuron_->candidateHeads : std::vector<int>{};
    contexts_->contextModel()->setNeuron(document_, neuron_);
    rebuildContextMap();
    rebuildRelevant();
    rebuildLayerMap();
    updateDetails();
}

void NeuronView::rebuildContextMap() {
    const ContextListModel* m = contexts_->contextModel();
    if (!neuron_ || m->rowCount() == 0 || columnHeads_.empty()) {
        contextMap_->clearMatrix(neuron_ ? tr("No contexts or candidate heads") : tr("No neuron selected"));
        return;
    }
    const int rows = m->rowCount(), cols = static_cast<int>(columnHeads_.size());
    std::vector<float> values(std::size_t(rows) * cols);
    std::vector<uint8_t> active(values.size());
    QStringList rowLabels, colLabels;
    for (int r = 0; r < rows; ++r) {
        const NeuronContext& c = neuron_->contexts[m->contextOfRow(r)];
        rowLabels << (c.kept ? QStringLiteral("#%1").arg(r + 1) : QStringLiteral("(%1)").arg(r + 1));
        for (int k = 0; k < cols; ++k) {
            const int h = columnHeads_[k];
            values[std::size_t(r) * cols + k] = h < static_cast<int>(c.headScores.size()) ? c.headScores[h] : std::nanf("");
            active[std::size_t(r) * cols + k] = h < static_cast<int>(c.active.size()) ? c.active[h] : 0;
        }
    }
    for (int h : columnHeads_) colLabels << document_->headLabel(h);
    contextMap_->setMatrix(rows, cols, std::move(values), std::move(active), rowLabels, colLabels, tr("context"),
                           tr("candidate head"),
                           tr("%1: head scores per context (dots: active)").arg(QString::fromStdString(neuronName(neuron_->neuron.ref))));
    onHeadChanged(selection_->head());
}

void NeuronView::rebuildLayerMap() {
    const int context = selection_->context();
    if (!neuron_ || context < 0 || context >= static_cast<int>(neuron_->contexts.size())) {
        layerMap_->clearMatrix(tr("Select a context"));
        return;
    }
    const NeuronContext& c = neuron_->contexts[context];
    const int L = document_->nLayers(), H = document_->nHeads();
    std::vector<float> values(std::size_t(L) * H, std::nanf(""));
    std::vector<uint8_t> active(values.size(), 0);
    for (std::size_t k = 0; k < values.size() && k < c.headScores.size(); ++k) values[k] = c.headScores[k];
    for (std::size_t k = 0; k < active.size() && k < c.active.size(); ++k) active[k] = c.active[k];
    QStringList rowLabels, colLabels;
    for (int l = 0; l < L; ++l) rowLabels << QStringLiteral("L%1").arg(l);
    for (int h = 0; h < H; ++h) colLabels << QStringLiteral("H%1").arg(h);
    const int row = contexts_->contextModel()->rowOfContext(context);
    layerMap_->setMatrix(L, H, std::move(values), std::move(active), rowLabels, colLabels, tr("layer"), tr("head"),
                         tr("Context %1: layers × heads").arg(row >= 0 ? QStringLiteral("#%1").arg(row + 1) : QString::number(context)));
    const int head = selection_->head();
    layerMap_->setSelectedCell(head >= 0 ? head / H : -1, head >= 0 ? head % H : -1);
}

void NeuronView::rebuildRelevant() {
    relevantModel_->clear();
    relevantModel_->setHorizontalHeaderLabels({tr("Head"), tr("Active fraction"), tr("E"), tr("Baseline E"), tr("Explanation")});
    if (!neuron_) return;
    for (int h : neuron_->relevantHeads) {
        QList<QStandardItem*> row;
        auto* name = new QStandardItem(document_->headLabel(h));
        name->setData(h, Qt::UserRole);
        row << name;
        const float fraction = h < static_cast<int>(neuron_->activeFraction.size()) ? neuron_->activeFraction[h] : std::nanf("");
        row << new QStandardItem(QString::number(fraction * 100, 'f', 0) + QStringLiteral(" %"));
        const int index = selection_->neuron();
        const HeadExplanation* llm = document_->explanation(index, h, "llm");
        const HeadExplanation* offline = document_->explanation(index, h, "baseline");
        auto score = [](const HeadExplanation* e) {
            if (!e) return QStringLiteral("—");
            if (!e->score) return tr("no score");
            QString text = QString::number(*e->score, 'f', 3);
            if (e->ci95) text += QStringLiteral(" [%1, %2]").arg(e->ci95->low, 0, 'f', 2).arg(e->ci95->high, 0, 'f', 2);
            if (e->auc) text += tr("  AUC %1").arg(*e->auc, 0, 'f', 2);
            return text;
        };
        row << new QStandardItem(score(llm)) << new QStandardItem(score(offline));
        const HeadExplanation* shown = llm ? llm : offline;
        QString text = shown ? QString::fromStdString(shown->explanation) : tr("(no explanation in this study)");
        if (shown && shown->explanation.empty() && !shown->error.empty()) text = tr("(failed: %1)").arg(QString::fromStdString(shown->error));
        text.replace(QLatin1Char('\n'), QLatin1Char(' '));
        row << new QStandardItem(text);
        for (QStandardItem* item : row) item->setEditable(false);
        relevantModel_->appendRow(row);
    }
    relevant_->resizeColumnsToContents();
}

void NeuronView::onContextChanged(int context) {
    const int row = context >= 0 ? contexts_->contextModel()->rowOfContext(context) : -1;
    const int head = selection_->head();
    int column = -1;
    for (int k = 0; k < static_cast<int>(columnHeads_.size()); ++k)
        if (columnHeads_[k] == head) column = k;
    contextMap_->setSelectedCell(row, column);
    rebuildLayerMap();
    updateDetails();
}

void NeuronView::onHeadChanged(int head) {
    int column = -1;
    for (int k = 0; k < static_cast<int>(columnHeads_.size()); ++k)
        if (columnHeads_[k] == head) column = k;
    const int context = selection_->context();
    const int row = context >= 0 ? contexts_->contextModel()->rowOfContext(context) : -1;
    contextMap_->setSelectedCell(row, column);
    if (document_ && layerMap_->rows() > 0) {
        const int H = document_->nHeads();
        layerMap_->setSelectedCell(head >= 0 ? head / H : -1, head >= 0 ? head % H : -1);
    }
    for (int r = 0; r < relevantModel_->rowCount(); ++r) {
        if (relevantModel_->item(r, 0)->data(Qt::UserRole).toInt() == head) {
            const QModelIndex index = relevantModel_->index(r, 0);
            if (relevant_->currentIndex().row() != r) relevant_->setCurrentIndex(index);
        }
    }
    updateDetails();
}

QString NeuronView::lookupText(int context, int head) const {
    if (!neuron_ || context < 0 || context >= static_cast<int>(neuron_->contexts.size())) return {};
    const NeuronContext& c = neuron_->contexts[std::size_t(context)];
    const HeadLookup* look = nullptr;
    for (const HeadLookup& l : c.lookups)
        if (l.head == head) look = &l;
    if (!look) {
        if (!document_->bundle().hasLookups())
            return tr("Look-up: not stored (this study was made before look-ups were kept; run it again to see "
                      "what each active head reads).\n\n");
        return tr("Look-up: stored for the heads active in kept contexts; %1 is not active in context #%2.\n\n")
            .arg(document_->headLabel(head))
            .arg(context + 1);
    }
    // The attribution prompt: BOS (where the model has one) and the kept prompt, as the look-up's positions.
    std::vector<int> prompt(c.tokens.begin() + (c.start - 1), c.tokens.end());
    const int offset = static_cast<int>(look->contributions.size()) - static_cast<int>(prompt.size());  // 1 with BOS
    std::vector<int> order(look->contributions.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int>(j);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return std::abs(look->contributions[std::size_t(a)]) > std::abs(look->contributions[std::size_t(b)]);
    });
    double sum = 0;
    for (float x : look->contributions) sum += x;
    QString text = tr("Look-up of %1 in context #%2: score %3 = sum of its sources' contributions (%4)\n"
                      "  top sources (position: token  contribution  attention):\n")
                       .arg(document_->headLabel(head))
                       .arg(context + 1)
                       .arg(look->score, 0, 'f', 4)
                       .arg(sum, 0, 'f', 4);
    for (std::size_t k = 0; k < order.size() && k < 5; ++k) {
        const int j = order[k], t = j - offset;
        const QString token = t >= 0 && t < static_cast<int>(prompt.size())
                                  ? QStringLiteral("\"%1\"").arg(document_->decodeTokens({prompt[std::size_t(t)]}).replace(QLatin1Char('\n'), QChar(0x21B5)))
                                  : tr("BOS");
        text += QStringLiteral("    %1: %2  %3  %4\n")
                    .arg(j)
                    .arg(token, -16)
                    .arg(look->contributions[std::size_t(j)], 8, 'f', 4)
                    .arg(look->attention[std::size_t(j)], 6, 'f', 3);
    }
    return text + QStringLiteral("\n");
}

void NeuronView::updateDetails() {
    const int head = selection_->head();
    if (!neuron_ || head < 0) {
        details_->setPlainText(tr("Click a heat-map cell or a relevant head to see its details."));
        return;
    }
    QString cell;   // the selected cell's value, as its tooltip says it
    const int context = selection_->context();
    const int row = context >= 0 ? contexts_->contextModel()->rowOfContext(context) : -1;
    if (row >= 0 && row < contextMap_->rows())
        for (int k = 0; k < static_cast<int>(columnHeads_.size()); ++k)
            if (columnHeads_[k] == head) cell = contextMap_->cellDescription(row, k);
    if (cell.isEmpty() && document_ && row >= 0 && layerMap_->rows() > 0)
        cell = layerMap_->cellDescription(head / document_->nHeads(), head % document_->nHeads());
    const float fraction = head < static_cast<int>(neuron_->activeFraction.size()) ? neuron_->activeFraction[head] : std::nanf("");
    int activeKept = 0, kept = 0;
    for (const NeuronContext& c : neuron_->contexts) {
        if (!c.kept) continue;
        ++kept;
        activeKept += head < static_cast<int>(c.active.size()) && c.active[head];
    }
    bool relevant = false;
    for (int h : neuron_->relevantHeads) relevant |= h == head;
    QString text = cell.isEmpty() ? QString() : tr("Selected cell: %1\n").arg(cell);
    text += tr("%1 — active in %2 of %3 kept contexts (%4 %)%5\n\n")
                       .arg(document_->headLabel(head))
                       .arg(activeKept)
                       .arg(kept)
                       .arg(fraction * 100, 0, 'f', 0)
                       .arg(relevant ? tr(", relevant") : QString());
    text += lookupText(context, head);
    const int index = selection_->neuron();
    const HeadExplanation* llm = document_->explanation(index, head, "llm");
    const HeadExplanation* offline = document_->explanation(index, head, "baseline");
    if (!llm && !offline) {
        text += tr("No explanation of this head in this study (only relevant heads are explained, by the LLM steps).");
        details_->setPlainText(text);
        return;
    }
    auto describe = [&](const HeadExplanation* e, const QString& title) {
        if (!e) {
            text += title + tr(": none\n\n");
            return;
        }
        text += title + QStringLiteral(" (") + QString::fromStdString(e->model) + QStringLiteral(")\n");
        if (!e->error.empty()) text += tr("  request failed: %1\n").arg(QString::fromStdString(e->error));
        text += QStringLiteral("  ") + QString::fromStdString(e->explanation) + QStringLiteral("\n");
        if (e->score) {
            text += tr("  E = %1").arg(*e->score, 0, 'f', 3);
            if (e->ci95) text += tr(" (95% CI %1 to %2, bootstrap)").arg(e->ci95->low, 0, 'f', 3).arg(e->ci95->high, 0, 'f', 3);
            text += e->auc ? tr("  AUC %1 (from the classifier's log-probabilities)").arg(*e->auc, 0, 'f', 3)
                           : tr("  AUC: none (no log-probabilities)");
        } else if (!e->tests.empty()) text += tr("  E: no score (the test labels are all one class)");
        else text += tr("  E: not scored");
        if (!e->tests.empty()) {
            text += tr("\n  confusion matrix (positive = head active):\n"
                       "                 predicted active   predicted inactive\n"
                       "    active       %1%2\n"
                       "    inactive     %3%4\n"
                       "  invalid replies: %5\n")
                        .arg(e->tp, -19).arg(e->fn).arg(e->fp, -19).arg(e->tn).arg(e->invalid);
            text += tr("  test contexts (true / predicted):\n");
            for (const ExplanationTest& t : e->tests) {
                const QString predicted = t.predicted ? (*t.predicted ? tr("active") : tr("inactive")) : tr("invalid");
                text += QStringLiteral("    %1 / %2%3  act %4%5  \"%6\"\n")
                            .arg(t.label ? tr("active") : tr("inactive"), predicted,
                                 t.predicted && *t.predicted == t.label ? QStringLiteral("  ✓") : QStringLiteral("  ✗"))
                            .arg(t.activation, 0, 'f', 3)
                            .arg(t.pYes ? tr("  p(Yes) %1").arg(*t.pYes, 0, 'f', 2) : QString())
                            .arg(QString::fromStdString(t.text).replace(QLatin1Char('\n'), QChar(0x21B5)));
            }
        }
        text += QStringLiteral("\n");
    };
    describe(llm, tr("LLM explanation"));
    describe(offline, tr("Offline baseline explanation"));
    details_->setPlainText(text);
}

}  // namespace headlight::ui
