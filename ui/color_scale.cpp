#include "ui/color_scale.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "ui/qcp.h"

namespace headlight::ui {

namespace {

using Stops = std::array<QRgb, 11>;

// ColorBrewer RdBu (11 classes), from -1 (dark blue) through white to +1 (dark red).
constexpr Stops kRdBu = {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7,
                         0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
// ColorBrewer PuOr (11 classes), from -1 (purple) through white to +1 (orange).
constexpr Stops kPuOr = {0x2d004b, 0x542788, 0x8073ac, 0xb2abd2, 0xd8daeb, 0xf7f7f7,
                         0xfee0b6, 0xfdb863, 0xe08214, 0xb35806, 0x7f3b08};

QString& activeName() {
    static QString name = QStringLiteral("RdBu");
    return name;
}

const Stops& activeStops() { return activeName() == QLatin1String("PuOr") ? kPuOr : kRdBu; }

}  // namespace

QStringList divergingScaleNames() { return {QStringLiteral("RdBu"), QStringLiteral("PuOr")}; }
QString currentDivergingScale() { return activeName(); }
void setCurrentDivergingScale(const QString& name) {
    activeName() = divergingScaleNames().contains(name) ? name : QStringLiteral("RdBu");
}

QColor divergingColor(double t) {
    if (std::isnan(t)) return QColor(0xbd, 0xbd, 0xbd);
    t = std::clamp(t, -1.0, 1.0);
    const Stops& s = activeStops();
    const double x = (t + 1.0) / 2.0 * (s.size() - 1);
    const int i = std::min(static_cast<int>(x), static_cast<int>(s.size()) - 2);
    const double f = x - i;
    const QColor a(s[i]), b(s[i + 1]);
    auto mix = [f](int u, int v) { return static_cast<int>(std::lround(u + (v - u) * f)); };
    return QColor(mix(a.red(), b.red()), mix(a.green(), b.green()), mix(a.blue(), b.blue()));
}

double normalizedValue(double value, double range) {
    if (!(range > 0) || std::isnan(value)) return 0.0;
    return std::clamp(value / range, -1.0, 1.0);
}

QColor textColorOn(const QColor& background) {
    const double luminance = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF();
    return luminance > 0.5 ? QColor(Qt::black) : QColor(Qt::white);
}

QCPColorGradient divergingGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    const Stops& s = activeStops();
    for (std::size_t i = 0; i < s.size(); ++i) g.setColorStopAt(double(i) / (s.size() - 1), QColor(s[i]));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    g.setLevelCount(256);
    return g;
}

}  // namespace headlight::ui
