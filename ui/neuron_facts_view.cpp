#include "ui/neuron_facts_view.h"

#include <algorithm>
#include <cmath>

#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "core/analysis/activation_histogram.h"
#include "core/records/neuron.h"
#include "ui/overview_view.h"
#include "ui/qcp.h"

namespace headlight::ui {

DisplayHistogram displayHistogram(const NeuronResult& neuron, int bins) {
    DisplayHistogram out;
    const ActivationHistogram& h = neuron.histogram;
    if (!h.recorded() || h.total() == 0 || bins < 1) return out;
    double lo = h.min, hi = h.max;
    if (!(hi > lo)) hi = lo + 1e-6;
    const double width = (hi - lo) / bins;
    for (int b = 0; b <= bins; ++b) out.edges.push_back(lo + width * b);
    out.counts.assign(std::size_t(bins), 0.0);
    const std::vector<double>& edges = analysis::histogramEdges();
    for (std::size_t s = 0; s < h.counts.size(); ++s) {
        if (!h.counts[s]) continue;
        // The sketch bin clipped to the values seen (its open ends become min / max).
        const double a = std::max(edges[s], lo), z = std::min(edges[s + 1], hi);
        const int first = std::clamp(int((a - lo) / width), 0, bins - 1), last = std::clamp(int((z - lo) / width), 0, bins - 1);
        if (first == last || !(z > a)) {
            out.counts[std::size_t(first)] += double(h.counts[s]);
            continue;
        }
        for (int b = first; b <= last; ++b) {
            const double overlap = std::min(z, out.edges[std::size_t(b) + 1]) - std::max(a, out.edges[std::size_t(b)]);
            if (overlap > 0) out.counts[std::size_t(b)] += double(h.counts[s]) * overlap / (z - a);
        }
    }
    return out;
}

NeuronFactsView::NeuronFactsView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("neuronFacts"));
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("neuronFactsStatus"));
    status_->setTextFormat(Qt::PlainText);
    status_->setWordWrap(true);
    tokens_ = new QLabel(this);
    tokens_->setObjectName(QStringLiteral("neuronFactsTokens"));
    tokens_->setTextFormat(Qt::PlainText);
    tokens_->setWordWrap(true);
    tokens_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    plot_ = new QCustomPlot(this);
    plot_->setObjectName(QStringLiteral("activationHistogram"));
    plot_->setAccessibleName(tr("Activation histogram over the scanned corpus"));
    plot_->setMinimumHeight(140);
    complete_ = new QPushButton(tr("&Compute Missing Facts…"), this);
    complete_->setObjectName(QStringLiteral("completeFacts"));
    complete_->setToolTip(tr("Adds the promoted / suppressed tokens (from the model) and the activation histograms "
                             "(a scan of the study's corpus) to this bundle: File > Complete Study…"));
    connect(complete_, &QPushButton::clicked, this, &NeuronFactsView::completeRequested);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(status_);
    layout->addWidget(tokens_);
    layout->addWidget(complete_, 0, Qt::AlignLeft);
    layout->addWidget(plot_, 1);
    setNeuron(nullptr, false, false);
}

namespace {

QString tokenList(const std::vector<TokenValue>& list) {
    QStringList parts;
    for (const TokenValue& t : list)
        parts << QStringLiteral("\"%1\" %2")
                     .arg(QString::fromStdString(t.text).replace(QLatin1Char('\n'), QChar(0x21B5)))
                     .arg(t.value, 0, 'f', 2);
    return parts.join(QStringLiteral(",  "));
}

}  // namespace

void NeuronFactsView::setNeuron(const NeuronResult* neuron, bool hasTokens, bool hasHistogram) {
    stylePlot(plot_, palette());
    complete_->setVisible(neuron && (!hasTokens || !hasHistogram));
    if (!neuron) {
        status_->setText(tr("Select a neuron in the table."));
        tokens_->clear();
        showNoData(plot_, tr("No neuron selected"));
        return;
    }
    const float top = analysis::topActivation(*neuron);
    const ActivationHistogram& h = neuron->histogram;
    QString status = analysis::isNearDead(top)
                         ? tr("Near-dead neuron: its top activation over the scanned corpus is %1 (≤ %2); its "
                              "contexts carry no signal and are not drawn on a colour scale.")
                               .arg(top, 0, 'g', 3)
                               .arg(analysis::kNearDeadActivation)
                         : tr("Top activation over the scanned corpus: %1.").arg(top, 0, 'g', 4);
    if (h.recorded() && h.total() > 0)
        status += QLatin1Char(' ') + tr("%1 token activations, from %2 to %3.").arg(h.total()).arg(h.min, 0, 'g', 4).arg(h.max, 0, 'g', 4);
    status_->setText(status);
    if (!neuron->promoted.empty() || !neuron->suppressed.empty())
        tokens_->setText(tr("Promotes (W_out · W_U, largest):  %1\nSuppresses (smallest):  %2")
                             .arg(tokenList(neuron->promoted), tokenList(neuron->suppressed)));
    else
        tokens_->setText(hasTokens ? tr("No promoted / suppressed tokens stored for this neuron.")
                                   : tr("Promoted / suppressed tokens: not stored (this study was made before neuron "
                                        "facts). Compute Missing Facts adds them from the model."));
    if (h.recorded() && h.total() > 0) drawHistogram(*neuron);
    else showNoData(plot_, hasHistogram ? tr("No activation histogram for this neuron")
                                        : tr("Activation histogram not stored (study made before histograms)"));
}

void NeuronFactsView::drawHistogram(const NeuronResult& neuron) {
    const DisplayHistogram d = displayHistogram(neuron, 60);
    plot_->clearPlottables();
    plot_->clearItems();
    plot_->setProperty("noData", QVariant());
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) {
        a->setVisible(true);
        a->grid()->setVisible(true);
    }
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    QVector<double> keys, heights;
    for (std::size_t b = 0; b < d.counts.size(); ++b) {
        keys << (d.edges[b] + d.edges[b + 1]) / 2;
        heights << d.counts[b];
    }
    bars->setData(keys, heights);
    bars->setWidth(d.edges[1] - d.edges[0]);
    const QColor color(0xd6, 0x60, 0x4d);
    QColor fill = color;
    fill.setAlpha(200);
    bars->setBrush(fill);
    bars->setPen(QPen(color.darker(130)));
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    plot_->yAxis->setNumberFormat(QStringLiteral("eb"));
    plot_->yAxis->setNumberPrecision(0);
    const double most = *std::max_element(d.counts.begin(), d.counts.end());
    plot_->yAxis->setRange(0.5, std::max(2.0, most * 2));
    plot_->xAxis->setRange(d.edges.front(), d.edges.back());
    plot_->xAxis->setLabel(tr("activation (every token after BOS, whole scanned corpus)"));
    plot_->yAxis->setLabel(tr("tokens (log)"));
    stylePlot(plot_, palette());
    plot_->replot();
}

}  // namespace headlight::ui
