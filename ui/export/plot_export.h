// Figures for papers: any QCustomPlot to PNG (at a chosen DPI), SVG and PDF (vector), at a size preset
// (single column 3.25 in, double column 6.75 in) and a font size in points. Plain functions, testable
// without a window. Output is reproducible: the same plot gives the same bytes (PDF creation date and
// document id are fixed). Files are written atomically.
#pragma once

#include <QByteArray>
#include <QString>

class QCustomPlot;

namespace headlight::ui {

struct FigureOptions {
    double widthInches = 3.25;   // single column; 6.75 for double column
    double heightInches = 2.4;
    int dpi = 300;               // PNG only
    double fontPoints = 8;       // tick labels; axis labels and titles scale from it
    static FigureOptions singleColumn() { return {}; }
    static FigureOptions doubleColumn() { return {6.75, 3.0, 300, 8}; }
};

enum class FigureFormat { Png, Svg, Pdf };
// From the file suffix (.png, .svg, .pdf); throws headlight::Error for any other.
FigureFormat figureFormatFor(const QString& path);

QByteArray renderPlot(QCustomPlot& plot, FigureFormat format, const FigureOptions& options);
// Renders and writes atomically; throws headlight::Error naming the file on failure.
void exportPlot(QCustomPlot& plot, const QString& path, const FigureOptions& options);

// Makes a PDF written by Qt reproducible: replaces creation dates and document ids with fixed values of
// the same length (cross-reference offsets stay valid).
QByteArray normalizePdf(QByteArray pdf);

}  // namespace headlight::ui
