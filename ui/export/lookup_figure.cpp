#include "ui/export/lookup_figure.h"

#include <algorithm>
#include <cmath>

#include <QBuffer>
#include <QFileInfo>
#include <QImage>
#include <QLinearGradient>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/study/study.h"
#include "ui/color_scale.h"
#include "ui/export/context_export.h"
#include "ui/export/figure.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {

constexpr int kFigureSources = 5;
constexpr qreal kMargin = 6;

QString headNames(const StudyDocument& d, const NeuronContext& c) {
    QStringList names;
    for (const HeadLookup& l : c.lookups) names << d.headLabel(l.head);
    return names.join(QLatin1Char(' '));
}

const HeadLookup* lookupOf(const NeuronContext& c, int head) {
    const HeadLookup* best = nullptr;
    for (const HeadLookup& l : c.lookups)
        if (l.head == head || (head < 0 && (!best || l.score > best->score))) best = &l;
    return best;
}

}  // namespace

LookupRow findLookupRow(const StudyDocument& d, int neuron, int context, int head) {
    if (neuron < 0 || neuron >= d.neuronCount()) throw Error("figure lookup: give a neuron of this study (--neuron LxNy)");
    if (!d.bundle().hasLookups())
        throw Error("figure lookup: " + d.path().toStdString() + " stores no look-ups (made before they were kept; run the study again)");
    const std::shared_ptr<const NeuronResult> r = d.neuronResult(neuron);
    const std::string name = d.neuronLabel(neuron).toStdString();
    if (context >= static_cast<int>(r->contexts.size()))
        throw Error("--context: " + std::to_string(context) + " is not a context of " + name + " (0-" + std::to_string(r->contexts.size() - 1) + ")");
    for (int c = 0; c < static_cast<int>(r->contexts.size()) && context < 0; ++c)
        if (r->contexts[std::size_t(c)].kept && lookupOf(r->contexts[std::size_t(c)], head)) context = c;
    if (context < 0)
        throw Error("--head: " + d.headLabel(head).toStdString() + " has no look-up in any kept context of " + name + " (it is never active there)");
    const NeuronContext& c = r->contexts[std::size_t(context)];
    const HeadLookup* look = lookupOf(c, head);
    if (!look)
        throw Error("--head: no look-up of " + (head < 0 ? std::string("any head") : d.headLabel(head).toStdString()) + " in context " +
                    std::to_string(context) + " of " + name + " (stored for the heads active there: " +
                    (c.lookups.empty() ? std::string("none") : headNames(d, c).toStdString()) + ")");
    return makeLookupRow(d, neuron, *r, context, *look);
}

namespace {

QFont figureFont(const FigureOptions& o) {
    QFont f(o.fontFamily);
    f.setPointSizeF(o.fontPoints);
    f.setStyleStrategy(QFont::PreferAntialias);
    f.setHintingPreference(QFont::PreferNoHinting);
    return f;
}

// The `count` top sources that matter: those below 1 % of the top |value| are left out (they print as 0).
std::vector<int> shownSources(const LookupRow& row, LookupMode mode, int count) {
    const std::vector<float>& values = lookupValues(row, mode);
    std::vector<int> top = topLookupPositions(row, mode, count);
    if (top.empty()) return top;
    const float cut = 0.01f * std::abs(values[std::size_t(top.front())]);
    const auto small = std::find_if(top.begin(), top.end(), [&](int j) { return std::abs(values[std::size_t(j)]) < cut; });
    top.erase(small == top.begin() ? small + 1 : small, top.end());
    return top;
}

QString sourcesLine(const LookupRow& row, LookupMode mode) {
    QStringList parts;
    for (int j : shownSources(row, mode, kFigureSources)) {
        const std::size_t k = std::size_t(j);
        const QString token = row.tokenIds[k] < 0 ? QObject::tr("BOS") : QStringLiteral("\"%1\"").arg(visibleText(row.tokens[k]));
        QString part = QObject::tr("%1 %2 (att. %3)").arg(token, signedNumber(row.contributions[k], 'f', 3), signedNumber(row.attention[k], 'f', 2));
        parts << part.replace(QLatin1Char(' '), QChar::Nbsp);   // an entry never breaks across lines
    }
    return QObject::tr("Top sources (contribution, attention): ") + parts.join(QStringLiteral(" · "));
}

// Everything the figure paints, laid out at `width` (layout pixels at layoutDpi()).
struct Figure {
    HighlightedContext context;
    ContextLayout layout;
    QFont font;
    QString sources;
    QRectF bar, sourcesRect;
    qreal height = 0;
};

Figure layoutFigure(const LookupRow& row, LookupMode mode, const FigureOptions& o, const TokenRunDecoder& decode, qreal width) {
    Figure f;
    f.font = figureFont(o);
    f.context = lookupHighlight(row, mode, nullptr, decode);
    f.layout = layoutContext(f.context, f.font, width - 2 * kMargin);
    const QFontMetricsF fm(f.font);
    qreal y = kMargin + f.layout.height + 2;
    f.bar = QRectF(kMargin + fm.horizontalAdvance(QStringLiteral("−0.000 ")), y, std::min<qreal>(width * 0.4, 160), fm.height() * 0.6);
    y += f.bar.height() + 2;   // tick labels under the bar
    y += fm.height() + 4;
    f.sources = sourcesLine(row, mode);
    f.sourcesRect = QFontMetricsF(f.font).boundingRect(QRectF(kMargin, y, width - 2 * kMargin, 1e6), Qt::TextWordWrap, f.sources);
    f.height = f.sourcesRect.bottom() + kMargin;
    return f;
}

void paintFigure(QPainter& p, const Figure& f, LookupMode mode, qreal width, bool dark) {
    const QPalette palette = figurePalette(dark);
    const QColor base = palette.color(QPalette::Base), ink = palette.color(QPalette::Text), dim = palette.color(QPalette::PlaceholderText);
    p.fillRect(QRectF(0, 0, width, f.height), base);
    p.setRenderHint(QPainter::Antialiasing);
    ContextPaintOptions boundaries;   // each token's share is the point: mark where each begins
    boundaries.boundaries = true;
    paintContext(p, f.context, f.layout, QPointF(kMargin, kMargin), f.font, ink, dim, base, boundaries);
    // The colour bar: the scale from -range (or 0 for attention) to +range, labelled at its ends and middle.
    const double lo = mode == LookupMode::Attention ? 0.0 : -1.0;
    QLinearGradient g(f.bar.topLeft(), f.bar.topRight());
    for (int k = 0; k <= 20; ++k) g.setColorAt(k / 20.0, divergingColor(lo + (1.0 - lo) * k / 20.0));
    p.setPen(QPen(dim, 0.5));
    p.setBrush(g);
    p.drawRect(f.bar);
    p.setFont(f.font);
    p.setPen(ink);
    const QFontMetricsF fm(f.font);
    const double range = f.context.range;
    const QString label = mode == LookupMode::Attention ? QObject::tr("attention weight") : QObject::tr("contribution");
    const double ends[3] = {lo * range, (lo + 1.0) / 2 * range, range};
    for (int k = 0; k < 3; ++k) {
        const QString t = QString::number(ends[k], 'g', 2).replace(QLatin1Char('-'), QChar(0x2212));
        const qreal x = f.bar.left() + f.bar.width() * k / 2.0 - fm.horizontalAdvance(t) / 2;
        p.drawText(QPointF(x, f.bar.bottom() + 2 + fm.ascent()), t);
    }
    p.drawText(QPointF(f.bar.right() + fm.horizontalAdvance(QStringLiteral("  0.00")), f.bar.bottom()), label);
    p.setPen(ink);
    p.drawText(f.sourcesRect, Qt::TextWordWrap, f.sources);
}

}  // namespace

QByteArray renderLookupFigure(const LookupRow& row, LookupMode mode, FigureFormat format, const FigureOptions& o, bool dark,
                              const TokenRunDecoder& decode) {
    const int dpi = layoutDpi();
    const qreal width = o.widthInches * dpi;
    const Figure f = layoutFigure(row, mode, o, decode, width);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    switch (format) {
    case FigureFormat::Png: {
        const double scale = double(o.dpi) / dpi;
        QImage image(qCeil(width * scale), qCeil(f.height * scale), QImage::Format_ARGB32);
        image.setDotsPerMeterX(qRound(dpi / 0.0254));   // fonts in points become layout pixels, then scaled
        image.setDotsPerMeterY(qRound(dpi / 0.0254));
        {
            QPainter p(&image);
            p.scale(scale, scale);
            paintFigure(p, f, mode, width, dark);
        }
        image.setDotsPerMeterX(qRound(o.dpi / 0.0254));
        image.setDotsPerMeterY(qRound(o.dpi / 0.0254));
        if (!image.save(&buffer, "PNG")) throw Error("cannot render PNG figure");
        break;
    }
    case FigureFormat::Svg: {
        QSvgGenerator svg;
        svg.setOutputDevice(&buffer);
        svg.setSize(QSize(qCeil(width), qCeil(f.height)));
        svg.setViewBox(QRectF(0, 0, width, f.height));
        svg.setResolution(dpi);
        svg.setTitle(QStringLiteral("Headlight look-up"));
        svg.setDescription(QStringLiteral("Made with Headlight"));
        QPainter p(&svg);
        paintFigure(p, f, mode, width, dark);
        break;
    }
    case FigureFormat::Pdf: {
        {
            const DeterministicHashes sameFontOrder;
            QPdfWriter pdf(&buffer);
            pdf.setCreator(QStringLiteral("Headlight"));
            pdf.setTitle(QStringLiteral("Headlight look-up"));
            pdf.setResolution(dpi);
            pdf.setPageSize(QPageSize(QSizeF(o.widthInches, f.height / dpi), QPageSize::Inch, QString(), QPageSize::ExactMatch));
            pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
            QPainter p(&pdf);
            paintFigure(p, f, mode, width, dark);
        }
        buffer.close();
        return normalizePdf(bytes);
    }
    }
    buffer.close();
    return bytes;
}

QString lookupLatexDocument(const LookupRow& row, LookupMode mode, const TokenRunDecoder& decode) {
    const QString title = QObject::tr("%1 reads in context %2 of %3 (score %4)").arg(row.head, row.context, row.neuron).arg(row.score, 0, 'f', 4);
    QString doc = contextsToLatexDocument({lookupHighlight(row, mode, nullptr, decode)}, title);
    QString table = QStringLiteral("\n\\medskip\\noindent\\begin{tabular}{rlrr}\n%1 & %2 & %3 & %4\\\\\n\\hline\n")
                        .arg(latexEscape(QObject::tr("pos.")), latexEscape(QObject::tr("source token")),
                             latexEscape(QObject::tr("contribution")), latexEscape(QObject::tr("attention")));
    for (int j : shownSources(row, mode, 8)) {
        const std::size_t k = std::size_t(j);
        const QString token = row.tokenIds[k] < 0 ? QObject::tr("BOS") : QStringLiteral("\"%1\"").arg(row.tokens[k]);
        table += QStringLiteral("%1 & %2 & %3 & %4\\\\\n")
                     .arg(j)
                     .arg(latexEscape(token), latexEscape(signedNumber(row.contributions[k], 'f', 4)),
                          latexEscape(signedNumber(row.attention[k], 'f', 3)));
    }
    table += QStringLiteral("\\end{tabular}\n");
    const qsizetype end = doc.lastIndexOf(QStringLiteral("\\end{document}"));
    return doc.insert(end, table);
}

void exportLookupFigure(const LookupRow& row, LookupMode mode, const QString& path, const FigureOptions& options, bool dark,
                        const TokenRunDecoder& decode) {
    if (QFileInfo(path).suffix().compare(QLatin1String("tex"), Qt::CaseInsensitive) == 0) {
        io::writeFileAtomically(path, lookupLatexDocument(row, mode, decode).toUtf8());
        return;
    }
    io::writeFileAtomically(path, renderLookupFigure(row, mode, figureFormatFor(path), options, dark, decode));
}

}  // namespace headlight::ui
