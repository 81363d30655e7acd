// Figures for papers: any QCustomPlot to PNG (at a chosen DPI), SVG and PDF (vector), at a size preset
// (single column 3.25 in, double column 6.75 in, or custom) and a font (family, size in points).
// The plot is laid out for the page: fonts set, titles wrapped to the width, the legend moved out of
// the data (below the axes), heat-map tick labels thinned so that they do not collide (measured with
// the export font). Every format is painted at the same logical DPI as Qt's font metrics, so that text
// has the same physical size in PNG, SVG and PDF and margins measured from the text fit.
// Plain functions, testable without a window. Output is reproducible: the same plot gives the same
// bytes (PDF creation date and document id are fixed). Files are written atomically.
#pragma once

#include <QByteArray>
#include <QString>

class QCustomPlot;

namespace headlight::ui {

struct FigureOptions {
    double widthInches = 3.25;   // single column; 6.75 for double column
    double heightInches = 2.4;
    int dpi = 300;               // PNG only
    double fontPoints = 8;       // tick labels, axis labels, legend; titles 1.1x
    QString fontFamily = QStringLiteral("DejaVu Sans");
    static FigureOptions singleColumn() { return {}; }
    static FigureOptions doubleColumn() { return {6.75, 3.0, 300, 8}; }
    // "single", "double" or a width in inches ("4.5"); throws headlight::Error naming `option` otherwise.
    static FigureOptions forWidth(const QString& width, const QString& option = QStringLiteral("--width"));
};

enum class FigureFormat { Png, Svg, Pdf };
// From the file suffix (.png, .svg, .pdf); throws headlight::Error for any other.
FigureFormat figureFormatFor(const QString& path);

// Lays the plot out for the page (see above; fonts are restored afterwards, the legend's placement and
// the heat map's tick labels stay as laid out) and paints it.
QByteArray renderPlot(QCustomPlot& plot, FigureFormat format, const FigureOptions& options);
// The DPI that Qt's font metrics use (QFontMetrics without a device): every export paints at it.
int layoutDpi();
// Renders and writes atomically; throws headlight::Error naming the file on failure.
void exportPlot(QCustomPlot& plot, const QString& path, const FigureOptions& options);

// Makes a PDF written by Qt reproducible: replaces creation dates and document ids with fixed values of
// the same length (cross-reference offsets stay valid).
QByteArray normalizePdf(QByteArray pdf);

// While alive, new QHash tables use a fixed seed: Qt's PDF engine orders its embedded fonts by a
// QHash, so without this the same figure's bytes differ between processes (GUI vs CLI).
class DeterministicHashes {
public:
    DeterministicHashes();
    ~DeterministicHashes();
    DeterministicHashes(const DeterministicHashes&) = delete;
    DeterministicHashes& operator=(const DeterministicHashes&) = delete;
};

}  // namespace headlight::ui
