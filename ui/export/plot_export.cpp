#include "ui/export/plot_export.h"

#include <QBuffer>
#include <QPageSize>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSvgGenerator>

#include "ui/qcp.h"

#include "core/base/error.h"
#include "core/io/atomic_file.h"

namespace headlight::ui {

namespace {

// Sets every font of the plot to sizes derived from `points` and restores them on destruction.
class FontOverride {
public:
    FontOverride(QCustomPlot& plot, double points) : plot_(plot) {
        for (QCPAxisRect* rect : plot.axisRects())
            for (QCPAxis* a : rect->axes()) {
                axes_.push_back({a, a->tickLabelFont(), a->labelFont()});
                a->setTickLabelFont(sized(a->tickLabelFont(), points));
                a->setLabelFont(sized(a->labelFont(), points));
            }
        for (int i = 0; i < plot.plotLayout()->elementCount(); ++i) {
            QCPLayoutElement* e = plot.plotLayout()->elementAt(i);
            if (auto* t = qobject_cast<QCPTextElement*>(e)) {
                texts_.push_back({t, t->font()});
                t->setFont(sized(t->font(), points * 1.1));
            } else if (auto* s = qobject_cast<QCPColorScale*>(e)) {
                QCPAxis* a = s->axis();
                axes_.push_back({a, a->tickLabelFont(), a->labelFont()});
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
        }
        for (auto& t : texts_) t.element->setFont(t.font);
        if (plot_.legend) plot_.legend->setFont(legendFont_);
        for (auto& i : items_) i.item->setFont(i.font);
        for (auto& t : itemTexts_) t.item->setFont(t.font);
    }

private:
    static QFont sized(QFont f, double points) {
        f.setPointSizeF(points);
        return f;
    }
    struct AxisFonts {
        QCPAxis* axis;
        QFont tick, label;
    };
    struct TextFont {
        QCPTextElement* element;
        QFont font;
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
    std::vector<AxisFonts> axes_;
    std::vector<TextFont> texts_;
    std::vector<ItemFont> items_;
    std::vector<ItemTextFont> itemTexts_;
    QFont legendFont_;
};

}  // namespace

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
    // Logical units are points (1/72 in): fonts in points then come out at their nominal size.
    const int w = qRound(o.widthInches * 72), h = qRound(o.heightInches * 72);
    FontOverride fonts(plot, o.fontPoints);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    switch (format) {
    case FigureFormat::Png: {
        const double scale = o.dpi / 72.0;
        QImage image = plot.toPixmap(w, h, scale).toImage().convertToFormat(QImage::Format_ARGB32);
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
        svg.setResolution(72);
        svg.setTitle(QStringLiteral("Headlight figure"));
        svg.setDescription(QStringLiteral("Made with Headlight"));
        QCPPainter painter;
        painter.begin(&svg);
        plot.toPainter(&painter, w, h);
        painter.end();
        break;
    }
    case FigureFormat::Pdf: {
        QPdfWriter pdf(&buffer);
        pdf.setCreator(QStringLiteral("Headlight"));
        pdf.setTitle(QStringLiteral("Headlight figure"));
        pdf.setResolution(72);
        pdf.setPageSize(QPageSize(QSizeF(o.widthInches, o.heightInches), QPageSize::Inch, QString(), QPageSize::ExactMatch));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        QCPPainter painter;
        painter.begin(&pdf);
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNoCaching);
        plot.toPainter(&painter, w, h);
        painter.end();
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
