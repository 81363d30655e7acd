#include "ui/head_heatmap.h"

#include <cmath>

#include <QHelpEvent>
#include <QToolTip>

#include "ui/color_scale.h"

namespace headlight::ui {

HeadHeatMap::HeadHeatMap(QWidget* parent) : QCustomPlot(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setMinimumHeight(160);
    map_ = new QCPColorMap(xAxis, yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(this);
    // The map and its colour bar side by side in one cell, so that the title row above spans both.
    auto* body = new QCPLayoutGrid;
    QCPAxisRect* rect = axisRect();
    plotLayout()->take(rect);
    plotLayout()->simplify();
    plotLayout()->addElement(0, 0, body);
    body->addElement(0, 0, rect);
    body->addElement(0, 1, scale_);
    body->setColumnSpacing(8);
    scale_->setType(QCPAxis::atRight);
    scale_->axis()->setLabel(tr("score"));
    map_->setColorScale(scale_);
    map_->setGradient(divergingGradient());
    auto* group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    activeDots_ = addGraph();
    activeDots_->setLineStyle(QCPGraph::lsNone);
    activeDots_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(Qt::black, 1.2), QBrush(Qt::white), 5));
    activeDots_->setName(tr("active"));
    selected_ = new QCPItemRect(this);
    selected_->setPen(QPen(QColor(0x1b, 0x9e, 0x77), 2.5));
    selected_->setBrush(Qt::NoBrush);
    selected_->setVisible(false);
    message_ = new QCPItemText(this);
    message_->position->setType(QCPItemPosition::ptAxisRectRatio);
    message_->position->setCoords(0.5, 0.5);
    message_->setVisible(false);
    yAxis->setRangeReversed(true);
    xAxis->setTickLabelRotation(60);
    xAxis->grid()->setVisible(false);
    yAxis->grid()->setVisible(false);
    applyPalette();
    clearMatrix(tr("No neuron selected"));
}

void HeadHeatMap::applyPalette() {
    const QPalette pal = palette();
    setBackground(pal.color(QPalette::Base));
    axisRect()->setBackground(pal.color(QPalette::Base));
    const QColor text = pal.color(QPalette::Text);
    for (QCPAxis* a : {xAxis, yAxis, scale_->axis()}) {
        a->setBasePen(QPen(text));
        a->setTickPen(QPen(text));
        a->setSubTickPen(QPen(text));
        a->setTickLabelColor(text);
        a->setLabelColor(text);
    }
    message_->setColor(pal.color(QPalette::PlaceholderText));
    if (plotLayout()->rowCount() > 1)
        if (auto* t = qobject_cast<QCPTextElement*>(plotLayout()->element(0, 0))) t->setTextColor(text);
}

void HeadHeatMap::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyPalette();
        replot();
    }
}

void HeadHeatMap::setLabels(QCPAxis* axis, const QStringList& labels, int length) {
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    const QFontMetricsF fm(axis->tickLabelFont());
    qreal spacing = fm.height() * 1.1;   // stacked labels: one line each
    if (axis->orientation() == Qt::Horizontal) {
        const double angle = std::abs(axis->tickLabelRotation()) * M_PI / 180;
        qreal widest = 0;
        for (const QString& l : labels) widest = std::max(widest, fm.horizontalAdvance(l));
        spacing = angle < 0.2 ? widest + fm.averageCharWidth() : std::min(widest + fm.averageCharWidth(), spacing / std::sin(angle));
    }
    const int step = std::max(1, static_cast<int>(std::ceil(labels.size() * spacing / std::max(1, length))));
    for (int i = 0; i < labels.size(); i += step) ticker->addTick(i, labels[i]);
    axis->setTicker(ticker);
    axis->setSubTicks(false);
}

void HeadHeatMap::fitLabels() {
    if (rows_ == 0) return;
    setLabels(xAxis, columnLabels_, axisRect()->width());
    setLabels(yAxis, rowLabels_, axisRect()->height());
}

QString HeadHeatMap::title() const {
    if (plotLayout()->rowCount() > 1)
        if (auto* t = qobject_cast<QCPTextElement*>(plotLayout()->element(0, 0))) return t->text();
    return {};
}

QString HeadHeatMap::cellDescription(int row, int column) const {
    if (row < 0 || row >= rows_ || column < 0 || column >= columns_) return {};
    const float v = value(row, column);
    const QString score = std::isnan(v) ? tr("no score") : tr("score %1").arg(v, 0, 'f', 4);
    return tr("%1 %2 · %3 %4: %5 (%6)")
        .arg(rowTitle_, row < rowLabels_.size() ? rowLabels_[row] : QString::number(row))
        .arg(columnTitle_, column < columnLabels_.size() ? columnLabels_[column] : QString::number(column))
        .arg(score, isActive(row, column) ? tr("active") : tr("not active"));
}

void HeadHeatMap::resizeEvent(QResizeEvent* event) {
    QCustomPlot::resizeEvent(event);
    if (rows_ == 0) return;
    replot();   // lays out at the new size
    fitLabels();
    replot(QCustomPlot::rpQueuedReplot);
}

bool HeadHeatMap::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(e);
        int r = 0, c = 0;
        if (cellAt(help->pos(), &r, &c)) QToolTip::showText(help->globalPos(), cellDescription(r, c), this);
        else QToolTip::hideText();
        return true;
    }
    return QCustomPlot::event(e);
}

void HeadHeatMap::setMatrix(int rows, int columns, std::vector<float> values, std::vector<uint8_t> active,
                            const QStringList& rowLabels, const QStringList& columnLabels, const QString& rowTitle,
                            const QString& columnTitle, const QString& title) {
    rows_ = rows;
    columns_ = columns;
    values_ = std::move(values);
    active_ = std::move(active);
    active_.resize(values_.size(), 0);
    rowLabels_ = rowLabels;
    columnLabels_ = columnLabels;
    message_->setVisible(false);
    map_->setVisible(true);
    range_ = 0;
    for (float v : values_)
        if (!std::isnan(v)) range_ = std::max(range_, double(std::abs(v)));
    if (range_ <= 0) range_ = 1;
    map_->data()->setSize(columns, rows);
    map_->data()->setRange(QCPRange(0, columns - 1), QCPRange(0, rows - 1));
    QVector<double> dotX, dotY;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c) {
            const float v = values_[std::size_t(r) * columns + c];
            map_->data()->setCell(c, r, std::isnan(v) ? std::nan("") : double(v));
            if (active_[std::size_t(r) * columns + c]) {
                dotX << c;
                dotY << r;
            }
        }
    activeDots_->setData(dotX, dotY, true);
    map_->setDataRange(QCPRange(-range_, range_));
    map_->setGradient(divergingGradient());
    xAxis->setRange(-0.5, columns - 0.5);
    yAxis->setRange(-0.5, rows - 0.5);
    xAxis->setLabel(columnTitle);
    yAxis->setLabel(rowTitle);
    rowTitle_ = rowTitle;
    columnTitle_ = columnTitle;
    setLabels(xAxis, columnLabels, std::max(200, axisRect()->width()));
    setLabels(yAxis, rowLabels, std::max(100, axisRect()->height()));
    if (plotLayout()->rowCount() < 2) {
        plotLayout()->insertRow(0);
        plotLayout()->addElement(0, 0, new QCPTextElement(this, title, QFont(font().family(), font().pointSize(), QFont::Bold)));
    } else if (auto* t = qobject_cast<QCPTextElement*>(plotLayout()->element(0, 0))) {
        t->setText(title);
    }
    applyPalette();
    setSelectedCell(selRow_ < rows ? selRow_ : -1, selColumn_ < columns ? selColumn_ : -1);
    replot();
}

void HeadHeatMap::clearMatrix(const QString& message) {
    rows_ = columns_ = 0;
    values_.clear();
    active_.clear();
    map_->data()->clear();
    map_->setVisible(false);
    activeDots_->data()->clear();
    selected_->setVisible(false);
    message_->setText(message);
    message_->setVisible(true);
    if (plotLayout()->rowCount() > 1)   // no stale title over the message (another study, no neuron)
        if (auto* t = qobject_cast<QCPTextElement*>(plotLayout()->element(0, 0))) t->setText(QString());
    xAxis->setLabel(QString());
    yAxis->setLabel(QString());
    xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    yAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    replot();
}

void HeadHeatMap::setSelectedCell(int row, int column) {
    selRow_ = row;
    selColumn_ = column;
    const bool visible = rows_ > 0 && (row >= 0 || column >= 0);
    selected_->setVisible(visible);
    if (visible) {
        // A whole row or column when only one of the two is known.
        const double r0 = row >= 0 ? row - 0.5 : -0.5, r1 = row >= 0 ? row + 0.5 : rows_ - 0.5;
        const double c0 = column >= 0 ? column - 0.5 : -0.5, c1 = column >= 0 ? column + 0.5 : columns_ - 0.5;
        selected_->topLeft->setCoords(c0, r0);
        selected_->bottomRight->setCoords(c1, r1);
    }
    replot(QCustomPlot::rpQueuedReplot);
}

QPoint HeadHeatMap::cellCenter(int row, int column) const {
    return QPoint(qRound(xAxis->coordToPixel(column)), qRound(yAxis->coordToPixel(row)));
}

bool HeadHeatMap::cellAt(const QPoint& pixel, int* row, int* column) const {
    if (rows_ == 0 || !axisRect()->rect().contains(pixel)) return false;
    const int c = static_cast<int>(std::lround(xAxis->pixelToCoord(pixel.x())));
    const int r = static_cast<int>(std::lround(yAxis->pixelToCoord(pixel.y())));
    if (r < 0 || r >= rows_ || c < 0 || c >= columns_) return false;
    *row = r;
    *column = c;
    return true;
}

void HeadHeatMap::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    int r = 0, c = 0;
    if (event->button() == Qt::LeftButton && cellAt(event->pos(), &r, &c)) {
        setFocus(Qt::MouseFocusReason);
        Q_EMIT cellClicked(r, c);
    }
}

void HeadHeatMap::keyPressEvent(QKeyEvent* event) {
    if (rows_ == 0) return QCustomPlot::keyPressEvent(event);
    int r = std::max(selRow_, 0), c = std::max(selColumn_, 0);
    switch (event->key()) {
    case Qt::Key_Left: c = std::max(0, c - 1); break;
    case Qt::Key_Right: c = std::min(columns_ - 1, c + 1); break;
    case Qt::Key_Up: r = std::max(0, r - 1); break;
    case Qt::Key_Down: r = std::min(rows_ - 1, r + 1); break;
    default: return QCustomPlot::keyPressEvent(event);
    }
    Q_EMIT cellClicked(r, c);
}

}  // namespace headlight::ui
