#include "ui/export/context_export.h"

#include <cmath>

#include <QBuffer>
#include <QFileInfo>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "ui/color_scale.h"
#include "ui/export/plot_export.h"

namespace headlight::ui {

namespace {

constexpr qreal kMargin = 6;

QFont exportFont(const ContextExportOptions& o) {
    QFont f(o.fontFamily);
    f.setPointSizeF(o.fontPoints);
    f.setStyleStrategy(QFont::PreferAntialias);
    return f;
}

// Lays out all contexts one under the other; returns the total height in points.
qreal layoutAll(const std::vector<HighlightedContext>& contexts, const QFont& font, qreal width,
                std::vector<ContextLayout>* layouts) {
    qreal y = kMargin;
    for (const HighlightedContext& c : contexts) {
        layouts->push_back(layoutContext(c, font, width - 2 * kMargin));
        y += layouts->back().height + kMargin;
    }
    return y + kMargin;
}

void paintAll(QPainter& painter, const std::vector<HighlightedContext>& contexts, const std::vector<ContextLayout>& layouts,
              const QFont& font) {
    qreal y = kMargin;
    for (std::size_t i = 0; i < contexts.size(); ++i) {
        paintContext(painter, contexts[i], layouts[i], QPointF(kMargin, y), font, Qt::black, QColor(0x55, 0x55, 0x55));
        y += layouts[i].height + kMargin;
    }
}

QString hex(const QColor& c) { return c.name(QColor::HexRgb); }

QColor dimmed(const QColor& c) {  // what the GUI shows at 40 % opacity on white
    return QColor::fromRgbF(1 - 0.4 * (1 - c.redF()), 1 - 0.4 * (1 - c.greenF()), 1 - 0.4 * (1 - c.blueF()));
}

}  // namespace

QByteArray contextsToSvg(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& o) {
    const QFont font = exportFont(o);
    const qreal width = o.widthInches * 72;
    std::vector<ContextLayout> layouts;
    const qreal height = layoutAll(contexts, font, width, &layouts);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(QSize(qCeil(width), qCeil(height)));
    svg.setViewBox(QRectF(0, 0, width, height));
    svg.setResolution(72);
    svg.setTitle(QStringLiteral("Headlight contexts"));
    svg.setDescription(QStringLiteral("Made with Headlight"));
    QPainter painter(&svg);
    paintAll(painter, contexts, layouts, font);
    painter.end();
    return bytes;
}

QByteArray contextsToPdf(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& o) {
    const QFont font = exportFont(o);
    const qreal width = o.widthInches * 72;
    std::vector<ContextLayout> layouts;
    const qreal height = layoutAll(contexts, font, width, &layouts);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    {
        QPdfWriter pdf(&buffer);
        pdf.setCreator(QStringLiteral("Headlight"));
        pdf.setTitle(QStringLiteral("Headlight contexts"));
        pdf.setResolution(72);
        pdf.setPageSize(QPageSize(QSizeF(width, height), QPageSize::Point, QString(), QPageSize::ExactMatch));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter painter(&pdf);
        paintAll(painter, contexts, layouts, font);
        painter.end();
    }
    buffer.close();
    return normalizePdf(bytes);
}

QString contextsToHtml(const std::vector<HighlightedContext>& contexts, const QString& title) {
    QString h;
    h += QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<title>");
    h += title.toHtmlEscaped();
    h += QStringLiteral("</title>\n<style>\n"
                        "body{font-family:sans-serif;font-size:14px;}\n"
                        ".ctx{margin:0 0 12px 0;line-height:1.9;}\n"
                        ".hdr{color:#555;font-size:12px;}\n"
                        ".tok{white-space:pre;padding:1px 2px;margin-right:1px;}\n"
                        ".before{opacity:0.4;}\n"
                        ".start{border-left:2px solid #000;}\n"
                        ".pred{white-space:pre;border:1px dashed #000;padding:1px 3px;margin-left:4px;font-weight:bold;}\n"
                        ".dropped{opacity:0.45;}\n"
                        "</style>\n</head>\n<body>\n<h1>");
    h += title.toHtmlEscaped();
    h += QStringLiteral("</h1>\n");
    for (const HighlightedContext& c : contexts) {
        h += c.kept ? QStringLiteral("<div class=\"ctx\">\n") : QStringLiteral("<div class=\"ctx dropped\">\n");
        h += QStringLiteral("<div class=\"hdr\">") + c.header.toHtmlEscaped() + QStringLiteral("</div>\n");
        bool started = false;
        for (const TokenPiece& p : c.pieces) {
            const QString text = visibleText(p.text).toHtmlEscaped();
            if (p.kind == TokenPiece::Elided) {
                h += QStringLiteral("<span class=\"hdr\">") + text + QStringLiteral("</span> ");
                continue;
            }
            if (p.kind == TokenPiece::Predicted) {
                h += QStringLiteral("<span class=\"pred\" title=\"predicted token, id %1\">\u2192 %2</span>\n").arg(p.tokenId).arg(text);
                continue;
            }
            const QColor bg = pieceColor(p, c.range);
            QString cls = QStringLiteral("tok");
            if (p.kind == TokenPiece::Before) cls += QStringLiteral(" before");
            if (p.kind == TokenPiece::Prompt && !started) {
                cls += QStringLiteral(" start");
                started = true;
            }
            const QString value = std::isnan(p.value) ? QStringLiteral("n/a") : QString::number(p.value, 'f', 4);
            h += QStringLiteral("<span class=\"%1\" style=\"background:%2;color:%3\" title=\"id %4, activation %5\">%6</span>")
                     .arg(cls, hex(bg), hex(textColorOn(bg)))
                     .arg(p.tokenId)
                     .arg(value, text);
        }
        h += QStringLiteral("</div>\n");
    }
    h += QStringLiteral("</body>\n</html>\n");
    return h;
}

QString latexEscape(const QString& text) {
    QString out;
    for (QChar ch : text) {
        switch (ch.unicode()) {
        case '\\': out += QStringLiteral("\\textbackslash{}"); break;
        case '{': out += QStringLiteral("\\{"); break;
        case '}': out += QStringLiteral("\\}"); break;
        case '$': out += QStringLiteral("\\$"); break;
        case '&': out += QStringLiteral("\\&"); break;
        case '#': out += QStringLiteral("\\#"); break;
        case '%': out += QStringLiteral("\\%"); break;
        case '_': out += QStringLiteral("\\_"); break;
        case '^': out += QStringLiteral("\\textasciicircum{}"); break;
        case '~': out += QStringLiteral("\\textasciitilde{}"); break;
        case '<': out += QStringLiteral("\\textless{}"); break;
        case '>': out += QStringLiteral("\\textgreater{}"); break;
        case '|': out += QStringLiteral("\\textbar{}"); break;
        case '"': out += QStringLiteral("\\textquotedbl{}"); break;
        case ' ': out += QStringLiteral("\\ "); break;
        case '\n': out += QStringLiteral("\\textbackslash{}n"); break;
        case '\t': out += QStringLiteral("\\textbackslash{}t"); break;
        case '\r': out += QStringLiteral("\\textbackslash{}r"); break;
        default:
            if (ch.unicode() < 0x20 || ch.unicode() == 0x7f) out += QLatin1Char('?');
            else if (ch.unicode() < 0x7f) out += ch;
            else if (ch.unicode() >= 0xC0 && ch.unicode() <= 0xFF && ch.unicode() != 0xD7 && ch.unicode() != 0xF7) out += ch;  // Latin-1 letters (utf8 + T1)
            else out += QLatin1Char('?');
        }
    }
    return out;
}

QString contextsToLatex(const std::vector<HighlightedContext>& contexts) {
    QString t;
    t += QStringLiteral("% Highlighted contexts made with Headlight.\n"
                        "% Needs in the preamble: \\usepackage[T1]{fontenc} \\usepackage[utf8]{inputenc} \\usepackage{xcolor}\n"
                        "\\begingroup\\setlength{\\fboxsep}{1pt}\\sffamily\\small\n");
    for (const HighlightedContext& c : contexts) {
        t += QStringLiteral("\\par\\noindent{\\footnotesize\\color[RGB]{85,85,85}") + latexEscape(c.header) + QStringLiteral("}\\par\\noindent\n");
        for (const TokenPiece& p : c.pieces) {
            const QString text = latexEscape(p.text);
            if (p.kind == TokenPiece::Elided) {
                t += QStringLiteral("{\\color[RGB]{85,85,85}\\itshape ") + text + QStringLiteral("}\\allowbreak\n");
                continue;
            }
            if (p.kind == TokenPiece::Predicted) {
                t += QStringLiteral("\\ \\fbox{\\strut\\textbf{$\\rightarrow$") + text + QStringLiteral("}}\n");
                continue;
            }
            QColor bg = pieceColor(p, c.range);
            QColor fg = textColorOn(bg);
            if (p.kind == TokenPiece::Before || !c.kept) {
                bg = dimmed(bg);
                fg = QColor(0x77, 0x77, 0x77);
            }
            t += QStringLiteral("\\colorbox[RGB]{%1,%2,%3}{\\strut\\textcolor[RGB]{%4,%5,%6}{%7}}\\allowbreak\n")
                     .arg(bg.red()).arg(bg.green()).arg(bg.blue())
                     .arg(fg.red()).arg(fg.green()).arg(fg.blue())
                     .arg(text);
        }
        t += QStringLiteral("\\par\\medskip\n");
    }
    t += QStringLiteral("\\endgroup\n");
    return t;
}

void exportContexts(const std::vector<HighlightedContext>& contexts, const QString& path, const QString& title,
                    const ContextExportOptions& options) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    QByteArray bytes;
    if (suffix == QLatin1String("svg")) bytes = contextsToSvg(contexts, options);
    else if (suffix == QLatin1String("pdf")) bytes = contextsToPdf(contexts, options);
    else if (suffix == QLatin1String("html") || suffix == QLatin1String("htm")) bytes = contextsToHtml(contexts, title).toUtf8();
    else if (suffix == QLatin1String("tex")) bytes = contextsToLatex(contexts).toUtf8();
    else throw Error("cannot export contexts to " + path.toStdString() + ": use .svg, .pdf, .html or .tex");
    io::writeFileAtomically(path, bytes);
}

}  // namespace headlight::ui
