// A heat map of head attribution scores on the diverging scale centred at 0 with a symmetric range
// (QCPColorMap), active cells marked with a dot, the selected cell outlined. Two uses: contexts (rows)
// x candidate heads (columns) for one neuron, and layers x heads for one context. Clicking a cell
// emits cellClicked(row, column); the owner maps it to a context / head in the shared selection.
// Hovering a cell shows its row, column, score and whether the head is active. Tick labels are thinned
// (every k-th) so that they never collide at the current size and font (fitLabels).
#pragma once

#include <vector>

#include "ui/qcp.h"

namespace headlight::ui {

class HeadHeatMap : public QCustomPlot {
    Q_OBJECT
public:
    explicit HeadHeatMap(QWidget* parent = nullptr);

    // values: rows x columns, row-major (NaN: no value, drawn transparent); active: same shape, 1 = active.
    void setMatrix(int rows, int columns, std::vector<float> values, std::vector<uint8_t> active,
                   const QStringList& rowLabels, const QStringList& columnLabels, const QString& rowTitle,
                   const QString& columnTitle, const QString& title);
    void clearMatrix(const QString& message);  // shows a "no data" message
    void setSelectedCell(int row, int column); // -1 hides the outline
    int rows() const { return rows_; }
    int columns() const { return columns_; }
    double range() const { return range_; }
    float value(int row, int column) const { return values_.at(std::size_t(row) * columns_ + column); }
    bool isActive(int row, int column) const { return active_.at(std::size_t(row) * columns_ + column) != 0; }
    // Widget pixel at the centre of a cell (for tests and keyboard navigation).
    QPoint cellCenter(int row, int column) const;
    // The cell under a widget pixel, or false.
    bool cellAt(const QPoint& pixel, int* row, int* column) const;
    QCPColorMap* colorMap() const { return map_; }
    QCPColorScale* colorScale() const { return scale_; }
    void applyPalette();  // axes, labels and background from the widget's palette
    // Thins the tick labels for the axis rect's current size and the axes' tick label fonts.
    void fitLabels();
    // "context #3 · head L2H5: score 0.412 (active)" for a cell (the hover tooltip, as plain text).
    QString cellDescription(int row, int column) const;
    QString title() const;

Q_SIGNALS:
    void cellClicked(int row, int column);

protected:
    void mousePressEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void changeEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    bool event(QEvent* event) override;

private:
    void setLabels(QCPAxis* axis, const QStringList& labels, int length);
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPGraph* activeDots_;
    QCPItemRect* selected_;
    QCPItemText* message_;
    int rows_ = 0, columns_ = 0;
    int selRow_ = -1, selColumn_ = -1;
    double range_ = 1;
    std::vector<float> values_;
    std::vector<uint8_t> active_;
    QStringList rowLabels_, columnLabels_;
    QString rowTitle_, columnTitle_;
};

}  // namespace headlight::ui
