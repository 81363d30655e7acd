#include "ui/export/plot_export.h"

#include <QBuffer>
#include <QFileInfo>
#include <QFontInfo>
#include <QHashFunctions>
#include <QPageSize>
#include <QPicture>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSvgGenerator>

#include "ui/qcp.h"

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "ui/head_heatmap.h"

namespace headlight::ui {

namespace {

// Sets every font of the plot to sizes derived from `points` and restores them on destruction.
class FontOverride {
public:
    FontOverride(QCustomPlot& plot, double points, const QString& family, qreal pageWidth, qreal pageHeight)
        : plot_(plot), family_(family) {
        for (QCPAxisRect* rect : plot.axisRects())
            for (QCPAxis* a : rect->axes()) {
                axes_.push_back({a, a->tickLabelFont(), a->labelFont(), a->label()});
                a->setTickLabelFont(sized(a->tickLabelFont(), points));
                a->setLabelFont(sized(a->labelFont(), points));
                // An axis title longer than most of the page breaks into lines instead of running off it.
                const qreal room = 0.8 * (a->orientation() == Qt::Horizontal ? pageWidth : pageHeight);
                a->setLabel(wrapped(a->label(), a->labelFont(), room));
            }
        for (int i = 0; i < plot.plotLayout()->elementCount(); ++i) {
            QCPLayoutElement* e = plot.plotLayout()->elementAt(i);
            if (auto* t = qobject_cast<QCPTextElement*>(e)) {
                texts_.push_back({t, t->font(), t->text()});
                t->setFont(sized(t->font(), points * 1.1));
                t->setText(wrapped(t->text(), t->font(), pageWidth - 8));
            } else if (auto* s = qobject_cast<QCPColorScale*>(e)) {
                QCPAxis* a = s->axis();
                axes_.push_back({a, a->tickLabelFont(), a->labelFont(), a->label()});
                a->setTickLabelFont(sized(a->tickLabelFont(), points));
                a->setLabelFont(sized(a->labelFont(), points));
            }
        }
        if (plot.legend) {
            legendFont_ = plot.legend->font();
            plot.legend->setFont(sized(legendFont_, points));
            for (int i = 0; i < plot.legend->itemCount(); ++i) {
                QCPAbstractLegendItem* item = plot.legend->item(i);
                items_.push_back({item, item->font()});
                item->setFont(sized(item->font(), points));
            }
        }
        for (int i = 0; i < plot.itemCount(); ++i)
            if (auto* t = qobject_cast<QCPItemText*>(plot.item(i))) {
                itemTexts_.push_back({t, t->font()});
                t->setFont(sized(t->font(), points));
            }
    }
    ~FontOverride() {
        for (auto& a : axes_) {
            a.axis->setTickLabelFont(a.tick);
            a.axis->setLabelFont(a.label);
            a.axis->setLabel(a.text);
        }
        for (auto& t : texts_) {
            t.element->setFont(t.font);
            t.element->setText(t.text);
        }
        if (plot_.legend) plot_.legend->setFont(legendFont_);
        for (auto& i : items_) i.item->setFont(i.font);
        for (auto& t : itemTexts_) t.item->setFont(t.font);
    }

private:
    QFont sized(QFont f, double points) const {
        if (!family_.isEmpty()) f.setFamily(family_);
        f.setPointSizeF(points);
        // Unhinted: the advances QFontMetrics measures are the ones drawn at every scale (PNG at 300
        // DPI, vector PDF/SVG), so text laid out to fit does fit.
        f.setHintingPreference(QFont::PreferNoHinting);
        return f;
    }
    // Breaks `text` at spaces so that each line fits `width` (measured with `font`).
    static QString wrapped(const QString& text, const QFont& font, qreal width) {
        const QFontMetricsF fm(font);
        QStringList lines;
        for (const QString& paragraph : text.split(QLatin1Char('\n'))) {
            QString line;
            for (const QString& word : paragraph.split(QLatin1Char(' '))) {
                const QString candidate = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
                if (!line.isEmpty() && fm.horizontalAdvance(candidate) > width) {
                    lines << line;
                    line = word;
                } else {
                    line = candidate;
                }
            }
            lines << line;
        }
        return lines.join(QLatin1Char('\n'));
    }
    struct AxisFonts {
        QCPAxis* axis;
        QFont tick, label;
        QString text;
    };
    struct TextFont {
        QCPTextElement* element;
        QFont font;
        QString text;
    };
    struct ItemFont {
        QCPAbstractLegendItem* item;
        QFont font;
    };
    struct ItemTextFont {
        QCPItemText* item;
        QFont font;
    };
    QCustomPlot& plot_;
    QString family_;
    std::vector<AxisFonts> axes_;
    std::vector<TextFont> texts_;
    std::vector<ItemFont> items_;
    std::vector<ItemTextFont> itemTexts_;
    QFont legendFont_;
};

// Puts the legend's items side by side, as many per row as fit `width`.
void wrapLegend(QCPLegend* legend, int width) {
    std::vector<int> widths;
    for (int i = 0; i < legend->itemCount(); ++i)
        widths.push_back(static_cast<QCPLayoutElement*>(legend->item(i))->minimumOuterSizeHint().width());
    const int spacing = legend->columnSpacing(), margins = legend->margins().left() + legend->margins().right();
    int perRow = std::max<int>(1, static_cast<int>(widths.size()));
    for (; perRow > 1; --perRow) {
        bool fits = true;
        for (std::size_t start = 0; start < widths.size(); start += perRow) {
            int row = margins;
            for (std::size_t i = start; i < std::min(widths.size(), start + perRow); ++i) row += widths[i] + (i > start ? spacing : 0);
            fits &= row <= width;
        }
        if (fits) break;
    }
    legend->setWrap(perRow);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
}

// Moves a legend that sits inside the axis rect (over the data) into its own row below the plot, its
// items side by side.
void moveLegendOutside(QCustomPlot& plot) {
    QCPLegend* legend = plot.legend;
    if (!legend || !legend->visible() || !plot.axisRect()) return;
    QCPLayoutInset* inset = plot.axisRect()->insetLayout();
    bool inside = false;
    for (int i = 0; i < inset->elementCount(); ++i) inside |= inset->elementAt(i) == legend;
    if (!inside) return;
    inset->take(legend);
    inset->simplify();
    QCPLayoutGrid* grid = plot.plotLayout();
    const int row = grid->rowCount();
    grid->addElement(row, 0, legend);
    grid->setRowStretchFactor(row, 0.001);
    legend->setBorderPen(Qt::NoPen);
    legend->setMargins(QMargins(2, 0, 2, 2));
    legend->setRowSpacing(0);
    legend->setColumnSpacing(12);
}

// Paints the plot at `w` x `h` layout pixels onto `device` (whose logical DPI is layoutDpi()).
void paintPlot(QCustomPlot& plot, QPaintDevice* device, int w, int h, qreal scale) {
    QCPPainter painter;
    painter.begin(device);
    painter.setMode(QCPPainter::pmNoCaching);
    if (scale != 1) {
        painter.setMode(QCPPainter::pmNonCosmetic);
        painter.scale(scale, scale);
    }
    plot.toPainter(&painter, w, h);
    painter.end();
}

}  // namespace

DeterministicHashes::DeterministicHashes() { QHashSeed::setDeterministicGlobalSeed(); }
DeterministicHashes::~DeterministicHashes() { QHashSeed::resetRandomGlobalSeed(); }

int layoutDpi() {
    QFont f;
    f.setPointSizeF(720);
    const int pixels = QFontInfo(f).pixelSize();   // 720 pt = 10 in at the metrics' DPI
    return pixels > 0 ? qRound(pixels / 10.0) : 96;
}

FigureOptions FigureOptions::forWidth(const QString& width, const QString& option) {
    if (width == QLatin1String("single")) return singleColumn();
    if (width == QLatin1String("double")) return doubleColumn();
    bool ok = false;
    const double inches = width.toDouble(&ok);
    if (!ok || !(inches >= 1 && inches <= 40))
        throw Error(option.toStdString() + ": expected single, double or a width in inches (1-40), got '" + width.toStdString() + "'");
    FigureOptions o;
    o.widthInches = inches;
    o.heightInches = inches > 5 ? 3.0 : 2.4;
    return o;
}

FigureFormat figureFormatFor(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("png")) return FigureFormat::Png;
    if (suffix == QLatin1String("svg")) return FigureFormat::Svg;
    if (suffix == QLatin1String("pdf")) return FigureFormat::Pdf;
    throw Error("cannot export " + path.toStdString() + ": unknown figure format (use .png, .svg or .pdf)");
}

QByteArray normalizePdf(QByteArray pdf) {
    // PDF dates "D:20261124071800+00'00'" and XMP dates "2026-11-24T07:18:00+00:00".
    static const QRegularExpression pdfDate(QStringLiteral("D:\\d{14}"));
    static const QRegularExpression xmpDate(QStringLiteral("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d"));
    static const QRegularExpression uuid(QStringLiteral("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"));
    static const QRegularExpression hexId(QStringLiteral("<[0-9a-fA-F]{32}>"));
    QString text = QString::fromLatin1(pdf);
    auto replaceAll = [&text](const QRegularExpression& re, const auto& make) {
        QString out;
        qsizetype last = 0;
        auto it = re.globalMatch(text);
        while (it.hasNext()) {
            const auto m = it.next();
            out += text.mid(last, m.capturedStart() - last);
            out += make(m.captured());
            last = m.capturedEnd();
        }
        out += text.mid(last);
        text = out;
    };
    replaceAll(pdfDate, [](const QString&) { return QStringLiteral("D:20000101000000"); });
    replaceAll(xmpDate, [](const QString&) { return QStringLiteral("2000-01-01T00:00:00"); });
    replaceAll(uuid, [](const QString&) { return QStringLiteral("00000000-0000-4000-8000-000000000000"); });
    replaceAll(hexId, [](const QString&) { return QStringLiteral("<00000000000000000000000000000000>"); });
    return text.toLatin1();
}

QByteArray renderPlot(QCustomPlot& plot, FigureFormat format, const FigureOptions& o) {
    // Logical units are the pixels of Qt's font metrics (layoutDpi), so that what QCustomPlot measures
    // to lay out text is what each device paints.
    const int dpi = layoutDpi();
    const int w = qRound(o.widthInches * dpi), h = qRound(o.heightInches * dpi);
    FontOverride fonts(plot, o.fontPoints, o.fontFamily, w, h);
    moveLegendOutside(plot);
    if (plot.legend && plot.legend->visible()) wrapLegend(plot.legend, w - 8);
    auto* map = qobject_cast<HeadHeatMap*>(&plot);
    const double rotation = map ? map->xAxis->tickLabelRotation() : 0;
    if (map) {
        map->xAxis->setTickLabelRotation(90);   // upright columns of head names, as papers set them
        QPicture probe;   // a first layout at the page size, then tick labels thinned for it
        paintPlot(plot, &probe, w, h, 1);
        map->fitLabels();
    }
    const auto restoreRotation = qScopeGuard([map, rotation] {
        if (map) map->xAxis->setTickLabelRotation(rotation);
    });
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    switch (format) {
    case FigureFormat::Png: {
        QImage image(qRound(o.widthInches * o.dpi), qRound(o.heightInches * o.dpi), QImage::Format_ARGB32);
        image.fill(Qt::white);
        const int layoutDpm = qRound(dpi / 0.0254);
        image.setDotsPerMeterX(layoutDpm);   // fonts in points become layout pixels, then scaled
        image.setDotsPerMeterY(layoutDpm);
        paintPlot(plot, &image, w, h, double(o.dpi) / dpi);
        const int dotsPerMeter = qRound(o.dpi / 0.0254);
        image.setDotsPerMeterX(dotsPerMeter);
        image.setDotsPerMeterY(dotsPerMeter);
        if (!image.save(&buffer, "PNG")) throw Error("cannot render PNG figure");
        break;
    }
    case FigureFormat::Svg: {
        QSvgGenerator svg;
        svg.setOutputDevice(&buffer);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        svg.setResolution(dpi);
        svg.setTitle(QStringLiteral("Headlight figure"));
        svg.setDescription(QStringLiteral("Made with Headlight"));
        paintPlot(plot, &svg, w, h, 1);
        break;
    }
    case FigureFormat::Pdf: {
        {
            const DeterministicHashes sameFontOrder;
            QPdfWriter pdf(&buffer);
            pdf.setCreator(QStringLiteral("Headlight"));
            pdf.setTitle(QStringLiteral("Headlight figure"));
            pdf.setResolution(dpi);
            pdf.setPageSize(QPageSize(QSizeF(o.widthInches, o.heightInches), QPageSize::Inch, QString(), QPageSize::ExactMatch));
            pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
            QCPPainter painter;
            painter.begin(&pdf);
            painter.setMode(QCPPainter::pmVectorized);
            painter.setMode(QCPPainter::pmNoCaching);
            plot.toPainter(&painter, w, h);
            painter.end();
        }
        buffer.close();
        return normalizePdf(bytes);
    }
    }
    buffer.close();
    return bytes;
}

void exportPlot(QCustomPlot& plot, const QString& path, const FigureOptions& options) {
    io::writeFileAtomically(path, renderPlot(plot, figureFormatFor(path), options));
}

}  // namespace headlight::ui
