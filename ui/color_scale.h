// Colour scales shared by every view and export: a diverging, colour-blind-safe blue-white-red scale
// (ColorBrewer RdBu, 11 classes, reversed so that positive is red) centred at 0 with a symmetric range.
// The scale does not follow the light/dark palette: the same value always has the same colour.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>

class QCPColorGradient;

namespace headlight::ui {

// Names of the available diverging scales ("RdBu", "PuOr").
QStringList divergingScaleNames();
// The active scale (Settings > Colour scale); "RdBu" unless changed.
QString currentDivergingScale();
void setCurrentDivergingScale(const QString& name);

// Colour of t in [-1, 1] (clamped; NaN gives a neutral grey) on the active scale.
QColor divergingColor(double t);
// value / range mapped to [-1, 1]; range <= 0 gives 0.
double normalizedValue(double value, double range);
// Black or white, whichever reads better on `background`.
QColor textColorOn(const QColor& background);
// The active scale as a QCustomPlot gradient (for QCPColorMap), NaN cells transparent.
QCPColorGradient divergingGradient();

}  // namespace headlight::ui
