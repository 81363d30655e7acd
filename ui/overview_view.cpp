#include "ui/overview_view.h"

#include <algorithm>
#include <cmath>

#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QLabel>
#include <QVBoxLayout>

#include "ui/qcp.h"

#include "ui/study_document.h"

namespace headlight::ui {

namespace {
const QColor kReal(0xd6, 0x60, 0x4d);      // RdBu red
const QColor kBaseline(0x43, 0x93, 0xc3);  // RdBu blue
}

ScoreSummary summarizeScores(const std::vector<double>& v) {
    ScoreSummary s;
    s.count = static_cast<int>(v.size());
    if (v.empty()) return s;
    for (double x : v) s.mean += x;
    s.mean /= v.size();
    double m2 = 0, m3 = 0;
    for (double x : v) {
        m2 += (x - s.mean) * (x - s.mean);
        m3 += (x - s.mean) * (x - s.mean) * (x - s.mean);
    }
    s.std = v.size() > 1 ? std::sqrt(m2 / (v.size() - 1)) : 0;
    const double biased = m2 / v.size();
    s.skew = biased > 0 ? (m3 / v.size()) / std::pow(biased, 1.5) : 0;
    return s;
}

std::vector<int> histogram(const std::vector<double>& values, int bins, double lo, double hi) {
    std::vector<int> counts(bins, 0);
    for (double x : values) {
        if (std::isnan(x) || x < lo || x > hi) continue;
        const int b = std::min(bins - 1, static_cast<int>((x - lo) / (hi - lo) * bins));
        ++counts[b];
    }
    return counts;
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
    ablationStats_ = new QLabel(this);
    ablationStats_->setTextFormat(Qt::PlainText);
    ablationStats_->setObjectName(QStringLiteral("ablationStats"));
    ablationChoice_ = new QComboBox(this);
    ablationChoice_->setAccessibleName(tr("Ablation experiment"));
    auto* grid = new QGridLayout(this);
    grid->addWidget(scorePlot_, 0, 0);
    grid->addWidget(scoreStats_, 1, 0);
    auto* ablation = new QWidget(this);
    auto* ablationLayout = new QVBoxLayout(ablation);
    ablationLayout->setContentsMargins(0, 0, 0, 0);
    ablationLayout->addWidget(ablationChoice_);
    ablationLayout->addWidget(ablationPlot_, 1);
    grid->addWidget(ablation, 0, 1);
    grid->addWidget(ablationStats_, 1, 1);
    grid->addWidget(congruencePlot_, 2, 0, 1, 2);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(2, 1);
    connect(ablationChoice_, qOverload<int>(&QComboBox::currentIndexChanged), this, &OverviewView::rebuildAblation);
    setDocument(nullptr);
}

void OverviewView::setDocument(std::shared_ptr<const StudyDocument> document) {
    document_ = std::move(document);
    rebuildScores();
    ablationChoice_->blockSignals(true);
    ablationChoice_->clear();
    if (document_)
        for (const AblationResult& a : document_->bundle().ablations())
            ablationChoice_->addItem(QStringLiteral("%1 · %2").arg(QString::fromStdString(neuronName(a.neuron)),
                                                                  document_->headLabel(a.head)));
    ablationChoice_->setEnabled(ablationChoice_->count() > 0);
    ablationChoice_->blockSignals(false);
    rebuildAblation(ablationChoice_->count() > 0 ? 0 : -1);
    rebuildCongruence();
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
    std::vector<double> real, baseline;
    if (!source.empty()) {
        real = document_->scores(source, false);
        baseline = document_->scores(source, true);
    }
    stylePlot(scorePlot_, palette());
    if (real.empty() && baseline.empty()) {
        showNoData(scorePlot_, document_ ? tr("No explanation scores in this study") : tr("No study open"));
        scoreStats_->setText(tr("E: no data"));
        return;
    }
    scorePlot_->clearPlottables();
    scorePlot_->clearItems();
    scorePlot_->setProperty("noData", QVariant());
    setAxesVisible(scorePlot_, true);
    auto addBars = [this](const std::vector<double>& values, const QColor& color, const QString& name, double offset) {
        const std::vector<int> counts = histogram(values, 10, 0, 1);
        auto* bars = new QCPBars(scorePlot_->xAxis, scorePlot_->yAxis);
        QVector<double> keys, heights;
        for (int b = 0; b < 10; ++b) {
            keys << 0.05 + b * 0.1 + offset;
            heights << counts[b];
        }
        bars->setData(keys, heights);
        bars->setWidth(0.045);
        QColor fill = color;
        fill.setAlpha(200);
        bars->setBrush(fill);
        bars->setPen(QPen(color.darker(130)));
        bars->setName(name);
    };
    addBars(real, kReal, tr("next-token neurons"), -0.0225);
    if (!baseline.empty()) addBars(baseline, kBaseline, tr("random baseline"), 0.0225);
    scorePlot_->xAxis->setRange(0, 1);
    scorePlot_->xAxis->setLabel(source == "llm" ? tr("E (balanced accuracy), LLM explanations")
                                                : tr("E (balanced accuracy), offline baseline explanations"));
    scorePlot_->yAxis->setLabel(tr("heads"));
    scorePlot_->rescaleAxes(true);
    scorePlot_->xAxis->setRange(0, 1);
    scorePlot_->legend->setVisible(true);
    stylePlot(scorePlot_, palette());
    const ScoreSummary s = summarizeScores(real), b = summarizeScores(baseline);
    scoreStats_->setText(tr("E over %1 heads: mean %2, std %3, skew %4   |   baseline over %5 heads: mean %6, std %7, skew %8")
                             .arg(s.count).arg(s.mean, 0, 'f', 3).arg(s.std, 0, 'f', 3).arg(s.skew, 0, 'f', 3)
                             .arg(b.count).arg(b.mean, 0, 'f', 3).arg(b.std, 0, 'f', 3).arg(b.skew, 0, 'f', 3));
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
    ablationPlot_->clearPlottables();
    ablationPlot_->clearItems();
    ablationPlot_->setProperty("noData", QVariant());
    setAxesVisible(ablationPlot_, true);
    auto addBox = [this](const std::vector<float>& values, double key, const QColor& color) {
        if (values.empty()) return;
        std::vector<double> v(values.begin(), values.end());
        std::sort(v.begin(), v.end());
        auto q = [&v](double p) {
            const double x = p * (v.size() - 1);
            const std::size_t i = static_cast<std::size_t>(x);
            return i + 1 < v.size() ? v[i] + (x - i) * (v[i + 1] - v[i]) : v.back();
        };
        auto* box = new QCPStatisticalBox(ablationPlot_->xAxis, ablationPlot_->yAxis);
        const double q1 = q(0.25), q3 = q(0.75), iqr = q3 - q1;
        double lo = v.front(), hi = v.back();
        QVector<double> outliers;
        for (double x : v) {
            if (x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr) outliers << x;
        }
        for (double x : v) if (x >= q1 - 1.5 * iqr) { lo = x; break; }
        for (auto it = v.rbegin(); it != v.rend(); ++it) if (*it <= q3 + 1.5 * iqr) { hi = *it; break; }
        box->addData(key, lo, q1, q(0.5), q3, hi, outliers);
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
    addBox(a.dropActive, 1, kReal);
    addBox(a.dropInactive, 2, kBaseline);
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->addTick(1, tr("head active\n(n = %1)").arg(a.dropActive.size()));
    ticker->addTick(2, tr("head inactive\n(n = %1)").arg(a.dropInactive.size()));
    ablationPlot_->xAxis->setTicker(ticker);
    ablationPlot_->xAxis->setRange(0.4, 2.6);
    ablationPlot_->yAxis->setLabel(tr("drop in p(%1)").arg(QString::fromStdString(neuronName(a.neuron))));
    ablationPlot_->rescaleAxes(true);
    ablationPlot_->xAxis->setRange(0.4, 2.6);
    ablationPlot_->yAxis->scaleRange(1.15, ablationPlot_->yAxis->range().center());
    stylePlot(ablationPlot_, palette());
    ablationStats_->setText(tr("%1, head %2: KS D = %3, p = %4")
                                .arg(QString::fromStdString(neuronName(a.neuron)), document_->headLabel(a.head))
                                .arg(a.ksStatistic, 0, 'f', 3)
                                .arg(a.ksPValue, 0, 'g', 3));
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
        const std::vector<int> counts = histogram(values, bins, lo, hi);
        auto* bars = new QCPBars(congruencePlot_->xAxis, congruencePlot_->yAxis);
        QVector<double> keys, heights;
        for (int b = 0; b < bins; ++b) {
            keys << lo + (b + 0.5) * width;
            heights << counts[b];
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
