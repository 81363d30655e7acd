#include "ui/head_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/base/error.h"
#include "core/study/bundle.h"
#include "ui/study_document.h"
#include "ui/token_layout.h"

namespace headlight::ui {

namespace {

QTableWidget* makeTable(QWidget* parent, const QString& name, const QStringList& headers) {
    auto* t = new QTableWidget(0, static_cast<int>(headers.size()), parent);
    t->setObjectName(name);
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->hide();
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->horizontalHeader()->setStretchLastSection(true);
    return t;
}

QTableWidgetItem* cell(const QString& text, bool number) {
    auto* item = new QTableWidgetItem(text);   // plain text: token and corpus text are never HTML
    if (number) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

QString scoreText(const std::optional<double>& e) { return e ? QString::number(*e, 'f', 3) : QStringLiteral("—"); }

}  // namespace

HeadsView::HeadsView(StudySelection* selection, QWidget* parent)
    : QWidget(parent), selection_(selection), watcher_(new QFutureWatcher<std::pair<int, HeadView>>(this)) {
    headBox_ = new QComboBox(this);
    headBox_->setObjectName(QStringLiteral("headPicker"));
    auto* pick = new QLabel(tr("&Head:"), this);
    pick->setBuddy(headBox_);
    summary_ = new QLabel(this);
    summary_->setObjectName(QStringLiteral("headSummary"));
    summary_->setTextFormat(Qt::PlainText);
    summary_->setWordWrap(true);
    neurons_ = makeTable(this, QStringLiteral("headNeurons"),
                         {tr("Neuron"), tr("Token"), tr("Active"), tr("Active fraction"), tr("Relevant"), tr("E"), tr("Baseline E")});
    neurons_->setToolTip(tr("Every studied neuron this head is active (in a kept context) or relevant for. "
                            "Click a row (or press Enter) to show the neuron with this head selected."));
    sources_ = makeTable(this, QStringLiteral("headSources"), {tr("Source token"), tr("Contribution"), tr("Look-ups")});
    sources_->setToolTip(tr("What the head typically reads: the three largest positive contributions of each of its "
                            "look-ups, summed by token"));
    auto* top = new QHBoxLayout;
    top->addWidget(pick);
    top->addWidget(headBox_);
    top->addWidget(summary_, 1);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(neurons_);
    split->addWidget(sources_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(headBox_, &QComboBox::activated, this, [this](int index) { setHead(headBox_->itemData(index).toInt()); });
    connect(neurons_, &QTableWidget::cellClicked, this, [this](int row, int) { jumpToRow(row); });
    connect(neurons_, &QTableWidget::cellActivated, this, [this](int row, int) { jumpToRow(row); });
    connect(selection_, &StudySelection::headChanged, this, [this](int head) {
        if (isVisible() && head >= 0 && head != head_) setHead(head);
    });
    connect(watcher_, &QFutureWatcher<std::pair<int, HeadView>>::finished, this, [this] {
        const auto [generation, view] = watcher_->result();
        if (generation == generation_) show(view);
        if (pending_ >= 0) {
            const int next = std::exchange(pending_, -1);
            setHead(next);
        }
    });
}

void HeadsView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (selection_->head() >= 0 && selection_->head() != head_) setHead(selection_->head());
}

HeadsView::~HeadsView() { watcher_->waitForFinished(); }

bool HeadsView::busy() const { return watcher_->isRunning() || pending_ >= 0; }

void HeadsView::setDocument(std::shared_ptr<const StudyDocument> document) {
    watcher_->waitForFinished();
    pending_ = -1;
    ++generation_;
    document_ = std::move(document);
    headBox_->clear();
    head_ = -1;
    view_ = {};
    neurons_->setRowCount(0);
    sources_->setRowCount(0);
    summary_->setText(document_ ? tr("Pick a head.") : tr("No study open."));
    if (!document_) return;
    for (int h = 0; h < document_->nLayers() * document_->nHeads(); ++h) headBox_->addItem(document_->headLabel(h), h);
}

void HeadsView::setHead(int head) {
    if (!document_ || head < 0 || head >= document_->nLayers() * document_->nHeads()) return;
    if (watcher_->isRunning()) {
        pending_ = head;
        return;
    }
    head_ = head;
    headBox_->setCurrentIndex(head);
    summary_->setText(tr("Reading the study's neurons…"));
    HeadViewInput in;
    in.nLayers = document_->nLayers();
    in.nHeads = document_->nHeads();
    in.neuronCount = document_->neuronCount();
    const std::shared_ptr<const StudyDocument> document = document_;   // keeps the bundle mapped
    const Bundle bundle = document_->bundle();   // read directly: the document's neuron cache is the GUI thread's
    in.neuronAt = [bundle](int i) { return std::make_shared<const NeuronResult>(bundle.neuronResult(i)); };
    in.explanations = &document_->bundle().explanations();
    watcher_->setFuture(QtConcurrent::run([in, head, document, generation = generation_]() {
        try {
            return std::pair{generation, headView(in, head)};
        } catch (const Error&) {   // a damaged bundle: the Neuron view names the fault
            HeadView none;
            none.head = head;
            return std::pair{generation, none};
        }
    }));
}

void HeadsView::show(const HeadView& v) {
    view_ = v;
    int relevant = 0;
    for (const HeadNeuronEntry& e : v.neurons) relevant += e.relevant ? 1 : 0;
    QString text = tr("%1: active or relevant for %2 studied neurons (relevant for %3); %4 look-ups.")
                       .arg(document_->headLabel(v.head))
                       .arg(v.neurons.size())
                       .arg(relevant)
                       .arg(v.lookups);
    if (v.lookups == 0 && !v.neurons.empty())
        text += tr(" No look-ups stored for this head (a study made before look-ups were kept): no source tokens.");
    summary_->setText(text);
    neurons_->setRowCount(static_cast<int>(v.neurons.size()));
    for (int r = 0; r < static_cast<int>(v.neurons.size()); ++r) {
        const HeadNeuronEntry& e = v.neurons[std::size_t(r)];
        auto* name = cell(document_->neuronLabel(e.neuron) + (e.baseline ? tr(" (baseline)") : QString()), false);
        name->setData(Qt::UserRole, e.neuron);
        neurons_->setItem(r, 0, name);
        neurons_->setItem(r, 1, cell(QStringLiteral("\"%1\"").arg(visibleText(document_->tokenText(e.neuron))), false));
        neurons_->setItem(r, 2, cell(QStringLiteral("%1/%2").arg(e.activeContexts).arg(e.keptContexts), true));
        neurons_->setItem(r, 3, cell(QString::number(e.activeFraction * 100, 'f', 0) + QStringLiteral(" %"), true));
        neurons_->setItem(r, 4, cell(e.relevant ? tr("yes") : tr("no"), false));
        neurons_->setItem(r, 5, cell(scoreText(e.score), true));
        neurons_->setItem(r, 6, cell(scoreText(e.baselineScore), true));
    }
    sources_->setRowCount(static_cast<int>(v.sources.size()));
    for (int r = 0; r < static_cast<int>(v.sources.size()); ++r) {
        const HeadSourceToken& t = v.sources[std::size_t(r)];
        sources_->setItem(r, 0, cell(t.tokenId < 0 ? tr("BOS") : QStringLiteral("\"%1\"").arg(visibleText(document_->vocabText(t.tokenId))), false));
        sources_->setItem(r, 1, cell(QString::number(t.contribution, 'f', 4), true));
        sources_->setItem(r, 2, cell(QString::number(t.lookups), true));
    }
    neurons_->resizeColumnsToContents();
    sources_->resizeColumnsToContents();
    Q_EMIT ready();
}

void HeadsView::jumpToRow(int row) {
    if (!document_ || row < 0 || row >= static_cast<int>(view_.neurons.size())) return;
    const int neuron = view_.neurons[std::size_t(row)].neuron;
    const int head = view_.head;
    selection_->setNeuron(neuron);
    int context = -1;   // the first kept context where the head is active: its look-up shows at once
    if (const std::shared_ptr<const NeuronResult> r = document_->neuronResult(neuron))
        for (int c = 0; c < static_cast<int>(r->contexts.size()) && context < 0; ++c) {
            const NeuronContext& x = r->contexts[std::size_t(c)];
            if (x.kept && head < static_cast<int>(x.active.size()) && x.active[std::size_t(head)]) context = c;
        }
    selection_->setContextAndHead(context, head);
    Q_EMIT showNeuronRequested();
}

}  // namespace headlight::ui
