#include "ui/overview_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include "ui/qcp.h"

#include "core/analysis/statistics.h"
#include "core/explain/scorer.h"
#include "core/study/study_export.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {
const QColor kReal(0xd6, 0x60, 0x4d);      // RdBu red
const QColor kBaseline(0x43, 0x93, 0xc3);  // RdBu blue
}

void stylePlot(QCustomPlot* plot, const QPalette& pal) {
    plot->setBackground(pal.color(QPalette::Base));
    const QColor text = pal.color(QPalette::Text);
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(pal.color(QPalette::Base));
        for (QCPAxis* a : rect->axes()) {
            a->setBasePen(QPen(text));
            a->setTickPen(QPen(text));
            a->setSubTickPen(QPen(text));
            a->setTickLabelColor(text);
            a->setLabelColor(text);
            a->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
        }
    }
    if (plot->legend) {
        plot->legend->setBrush(pal.color(QPalette::Base));
        plot->legend->setTextColor(text);
        plot->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
    }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) t->setTextColor(text);
}

namespace {
void setAxesVisible(QCustomPlot* plot, bool visible) {
    plot->xAxis->setVisible(visible);
    plot->yAxis->setVisible(visible);
    plot->xAxis->grid()->setVisible(visible);
    plot->yAxis->grid()->setVisible(visible);
    if (plot->legend) plot->legend->setVisible(false);
}
}  // namespace

void showNoData(QCustomPlot* plot, const QString& message) {
    setAxesVisible(plot, false);
    plot->clearPlottables();
    plot->clearItems();
    auto* text = new QCPItemText(plot);
    text->position->setType(QCPItemPosition::ptAxisRectRatio);
    text->position->setCoords(0.5, 0.5);
    text->setText(message);
    QFont f = plot->font();
    f.setPointSizeF(f.pointSizeF() * 1.2);
    text->setFont(f);
    text->setColor(plot->palette().color(QPalette::PlaceholderText));
    text->setObjectName(QStringLiteral("noData"));
    plot->setProperty("noData", message);
    plot->replot();
}

namespace {

QCustomPlot* makePlot(QWidget* parent, const QString& name, const QString& title) {
    auto* plot = new QCustomPlot(parent);
    plot->setObjectName(name);
    plot->setMinimumHeight(200);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title, QFont(plot->font().family(), plot->font().pointSize(), QFont::Bold)));
    return plot;
}

}  // namespace

OverviewView::OverviewView(QWidget* parent) : QWidget(parent) {
    scorePlot_ = makePlot(this, QStringLiteral("scoreHistogram"), tr("Head explanation score E"));
    ablationPlot_ = makePlot(this, QStringLiteral("ablationPlot"), tr("Head ablation: drop in p(token)"));
    congruencePlot_ = makePlot(this, QStringLiteral("congruencePlot"), tr("Congruence of the selected neurons"));
    scoreStats_ = new QLabel(this);
    scoreStats_->setTextFormat(Qt::PlainText);
    scoreStats_->setObjectName(QStringLiteral("scoreStats"));
    scoreStats_->setWordWrap(true);  // the summary line of `study info` is long: wrap, never widen the column
    ablationStats_ = new QLabel(this);
    ablationStats_->setTextFormat(Qt::PlainText);
    ablationStats_->setObjectName(QStringLiteral("ablationStats"));
    ablationStats_->setWordWrap(true);  // mode, heads and effects make a long line
    ablationChoice_ = new QComboBox(this);   // created first: figure export finds it as the view's first combo box
    ablationChoice_->setAccessibleName(tr("Ablation experiment"));
    ablationMeasure_ = new QComboBox(this);
    ablationMeasure_->setObjectName(QStringLiteral("ablationMeasure"));
    ablationMeasure_->setAccessibleName(tr("Ablation measure"));
    ablationMeasure_->addItem(tr("drop in p(token)"));
    ablationMeasure_->addItem(tr("drop in activation"));
    auto* grid = new QGridLayout(this);
    grid->addWidget(scorePlot_, 0, 0);
    grid->addWidget(scoreStats_, 1, 0);
    auto* ablation = new QWidget(this);
    auto* ablationLayout = new QVBoxLayout(ablation);
    ablationLayout->setContentsMargins(0, 0, 0, 0);
    auto* choices = new QHBoxLayout;
    choices->addWidget(ablationChoice_, 1);
    choices->addWidget(ablationMeasure_);
    ablationLayout->addLayout(choices);
    ablationLayout->addWidget(ablationPlot_, 1);
    grid->addWidget(ablation, 0, 1);
    grid->addWidget(ablationStats_, 1, 1);
    grid->addWidget(congruencePlot_, 2, 0, 1, 2);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(2, 1);
    connect(ablationChoice_, qOverload<int>(&QComboBox::currentIndexChanged), this, &OverviewView::rebuildAblation);
    connect(ablationMeasure_, qOverload<int>(&QComboBox::currentIndexChanged), this,
            [this] { rebuildAblation(ablationChoice_->count() > 0 ? ablationChoice_->currentIndex() : -1); });
    setDocument(nullptr);
}

void OverviewView::setDocument(std::shared_ptr<const StudyDocument> document) {
    document_ = std::move(document);
    rebuildScores();
    ablationChoice_->blockSignals(true);
    ablationChoice_->clear();
    if (document_)
        for (const AblationResult& a : document_->bundle().ablations())
            ablationChoice_->addItem(QStringLiteral("%1 · %2 · %3").arg(QString::fromStdString(neuronName(a.neuron)),
                                                                       QString::fromStdString(ablationHeadsName(a, document_->nHeads())), QLatin1String(ablationModeName(a.mode))));
    ablationChoice_->setEnabled(ablationChoice_->count() > 0);
    ablationChoice_->blockSignals(false);
    rebuildAblation(ablationChoice_->count() > 0 ? 0 : -1);
    rebuildCongruence();
}

void OverviewView::showAblationRecord(int record) {
    if (record >= 0 && record < ablationChoice_->count()) ablationChoice_->setCurrentIndex(record);
}

void OverviewView::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() != QEvent::PaletteChange) return;
    rebuildScores();
    rebuildAblation(ablationChoice_->count() > 0 ? ablationChoice_->currentIndex() : -1);
    rebuildCongruence();
}

void OverviewView::rebuildScores() {
    // E per explained head: LLM explanations if the study has scored ones, else the offline baseline's;
    // next-token neurons vs the random-neuron baseline.
    const std::string source = document_ ? document_->scoreSource() : std::string();
    explain::ScoreSummary real, baseline;
    if (!source.empty()) {
        real = document_->scoreSummary(source, false);
        baseline = document_->scoreSummary(source, true);
    }
    stylePlot(scorePlot_, palette());
    if (real.scored == 0 && baseline.scored == 0) {
        showNoData(scorePlot_, document_ ? tr("No explanation scores in this study") : tr("No study open"));
        scoreStats_->setText(tr("E: no data"));
        return;
    }
    scorePlot_->clearPlottables();
    scorePlot_->clearItems();
    scorePlot_->setProperty("noData", QVariant());
    setAxesVisible(scorePlot_, true);
    auto addBars = [this](const analysis::Histogram& histogram, const QColor& color, const QString& name, double offset) {
        auto* bars = new QCPBars(scorePlot_->xAxis, scorePlot_->yAxis);
        QVector<double> keys, heights;
        for (std::size_t b = 0; b < histogram.counts.size(); ++b) {
            keys << (histogram.edges[b] + histogram.edges[b + 1]) / 2 + offset;
            heights << static_cast<double>(histogram.counts[b]);
        }
        bars->setData(keys, heights);
        bars->setWidth(0.045);
        QColor fill = color;
        fill.setAlpha(200);
        bars->setBrush(fill);
        bars->setPen(QPen(color.darker(130)));
        bars->setName(name);
    };
    addBars(real.histogram, kReal, tr("next-token neurons"), -0.0225);
    if (baseline.scored > 0) addBars(baseline.histogram, kBaseline, tr("random baseline"), 0.0225);
    scorePlot_->xAxis->setRange(0, 1);
    scorePlot_->xAxis->setLabel(source == "llm" ? tr("E (balanced accuracy), LLM explanations")
                                                : tr("E (balanced accuracy), offline baseline explanations"));
    scorePlot_->yAxis->setLabel(tr("heads"));
    scorePlot_->rescaleAxes(true);
    scorePlot_->xAxis->setRange(0, 1);
    scorePlot_->legend->setVisible(true);
    stylePlot(scorePlot_, palette());
    QString text = tr("Next-token neurons: %1").arg(QString::fromStdString(explain::describeScoreSummary(real)));
    if (baseline.scored + baseline.unscored > 0)
        text += QLatin1Char('\n') + tr("Random baseline: %1").arg(QString::fromStdString(explain::describeScoreSummary(baseline)));
    else
        text += QLatin1Char('\n') + tr("Random baseline: none in this study");
    scoreStats_->setText(text);
    scorePlot_->replot();
}

void OverviewView::rebuildAblation(int record) {
    stylePlot(ablationPlot_, palette());
    if (!document_ || record < 0 || record >= static_cast<int>(document_->bundle().ablations().size())) {
        showNoData(ablationPlot_, document_ ? tr("No ablation data in this study") : tr("No study open"));
        ablationStats_->setText(tr("Ablation: no data"));
        return;
    }
    const AblationResult& a = document_->bundle().ablations()[record];
    if (ablationMeasure_->currentIndex() == 1 && a.activationActive.empty() && a.activationInactive.empty()) {
        showNoData(ablationPlot_, tr("This record has no activation effects (made before they were stored)"));
        ablationStats_->setText(QString::fromStdString(ablationRecordText(a, document_->nHeads())));
        return;
    }
    ablationPlot_->clearPlottables();
    ablationPlot_->clearItems();
    ablationPlot_->setProperty("noData", QVariant());
    setAxesVisible(ablationPlot_, true);
    auto addBox = [this](const std::vector<float>& values, double key, const QColor& color) {
        if (values.empty()) return;
        const analysis::BoxStatistics b = analysis::boxStatistics(std::vector<double>(values.begin(), values.end()));
        auto* box = new QCPStatisticalBox(ablationPlot_->xAxis, ablationPlot_->yAxis);
        box->addData(key, b.lowerWhisker, b.q1, b.median, b.q3, b.upperWhisker,
                     QVector<double>(b.outliers.begin(), b.outliers.end()));
        QColor fill = color;
        fill.setAlpha(150);
        box->setBrush(fill);
        const QColor text = palette().color(QPalette::Text);  // legible on light and dark bases
        box->setPen(QPen(text, 1));
        box->setMedianPen(QPen(text, 2));
        box->setWhiskerPen(QPen(text, 1, Qt::DashLine));
        box->setWhiskerBarPen(QPen(text, 1));
        box->setOutlierStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, text, 4));
    };
    // Boxes: the record's effect (active, inactive), then beside it the total effect (path patching)
    // or the sum of the single-head effects (head sets), in the chosen measure.
    const bool activation = ablationMeasure_->currentIndex() == 1;
    auto pick = [activation](const std::vector<float>& drop, const std::vector<float>& act) { return activation ? act : drop; };
    const AblationEffects& beside = !a.total.empty() ? a.total : a.sumOfSingles;
    const QString besideName = !a.total.empty() ? tr("total, ") : tr("sum of singles, ");
    const std::vector<std::pair<QString, std::vector<float>>> boxes = {
        {tr("head active"), pick(a.dropActive, a.activationActive)},
        {tr("head inactive"), pick(a.dropInactive, a.activationInactive)},
        {beside.empty() ? QString() : besideName + tr("active"), pick(beside.dropActive, beside.activationActive)},
        {beside.empty() ? QString() : besideName + tr("inactive"), pick(beside.dropInactive, beside.activationInactive)}};
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    const int shown = beside.empty() ? 2 : 4;
    for (int k = 0; k < shown; ++k) {
        addBox(boxes[std::size_t(k)].second, k + 1, k % 2 == 0 ? kReal : kBaseline);
        ticker->addTick(k + 1, tr("%1\n(n = %2)").arg(boxes[std::size_t(k)].first).arg(boxes[std::size_t(k)].second.size()));
    }
    ablationPlot_->xAxis->setTicker(ticker);
    ablationPlot_->xAxis->setRange(0.4, shown + 0.6);
    ablationPlot_->yAxis->setLabel(activation ? tr("drop in %1's activation").arg(QString::fromStdString(neuronName(a.neuron)))
                                              : tr("drop in p(%1)").arg(QString::fromStdString(neuronName(a.neuron))));
    ablationPlot_->rescaleAxes(true);
    ablationPlot_->xAxis->setRange(0.4, shown + 0.6);
    ablationPlot_->yAxis->scaleRange(1.15, ablationPlot_->yAxis->range().center());
    stylePlot(ablationPlot_, palette());
    QString stats = tr("%1, head %2: KS D = %3, p = %4")
                        .arg(QString::fromStdString(neuronName(a.neuron)), QString::fromStdString(ablationHeadsName(a, document_->nHeads())))
                        .arg(a.ksStatistic, 0, 'f', 3)
                        .arg(a.ksPValue, 0, 'g', 3);
    if (a.mode != AblationMode::Zero || a.headSet().size() > 1 || !a.activationActive.empty())
        stats += QLatin1Char('\n') + QString::fromStdString(ablationRecordText(a, document_->nHeads()));
    ablationStats_->setText(stats);
    ablationPlot_->replot();
}

void OverviewView::rebuildCongruence() {
    stylePlot(congruencePlot_, palette());
    if (!document_ || document_->neuronCount() == 0) {
        showNoData(congruencePlot_, document_ ? tr("No neurons in this study") : tr("No study open"));
        return;
    }
    congruencePlot_->clearPlottables();
    congruencePlot_->clearItems();
    congruencePlot_->setProperty("noData", QVariant());
    setAxesVisible(congruencePlot_, true);
    std::vector<double> real, baseline;
    double lo = 1e300, hi = -1e300;
    for (int i = 0; i < document_->neuronCount(); ++i) {
        const double c = document_->congruence(i);
        if (std::isnan(c)) continue;
        (document_->baseline(i) ? baseline : real).push_back(c);
        lo = std::min(lo, c);
        hi = std::max(hi, c);
    }
    if (real.empty() && baseline.empty()) {
        showNoData(congruencePlot_, tr("No congruence values"));
        return;
    }
    if (hi <= lo) hi = lo + 1;
    const int bins = 30;
    const double width = (hi - lo) / bins;
    auto add = [&](const std::vector<double>& values, const QColor& color, const QString& name) {
        if (values.empty()) return;
        const analysis::Histogram histogram = analysis::histogram(values, bins, lo, hi);
        auto* bars = new QCPBars(congruencePlot_->xAxis, congruencePlot_->yAxis);
        QVector<double> keys, heights;
        for (int b = 0; b < bins; ++b) {
            keys << (histogram.edges[b] + histogram.edges[b + 1]) / 2;
            heights << static_cast<double>(histogram.counts[b]);
        }
        bars->setData(keys, heights);
        bars->setWidth(width * 0.9);
        QColor fill = color;
        fill.setAlpha(170);
        bars->setBrush(fill);
        bars->setPen(QPen(color.darker(130)));
        bars->setName(QStringLiteral("%1 (%2)").arg(name).arg(values.size()));
    };
    add(real, kReal, tr("next-token neurons"));
    add(baseline, kBaseline, tr("random baseline"));
    congruencePlot_->xAxis->setLabel(tr("congruence  max_t W_out[n] · W_U[:, t]"));
    congruencePlot_->yAxis->setLabel(tr("neurons"));
    congruencePlot_->rescaleAxes();
    congruencePlot_->xAxis->setRange(lo - width, hi + width);
    congruencePlot_->yAxis->setRangeLower(0);
    congruencePlot_->yAxis->setRangeUpper(congruencePlot_->yAxis->range().upper * 1.1);
    congruencePlot_->legend->setVisible(true);
    stylePlot(congruencePlot_, palette());
    congruencePlot_->replot();
}

}  // namespace headlight::ui
