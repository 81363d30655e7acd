#include "ui/export/context_export.h"

#include <cmath>
#include <utility>

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
    f.setHintingPreference(QFont::PreferNoHinting);   // measured advances = drawn advances at any scale
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

// Both vector exports paint at layoutDpi() (plot_export.h), the DPI of the font metrics that lay the
// tokens out, so that each token's text fills exactly the box measured for it.
QByteArray contextsToSvg(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& o) {
    const QFont font = exportFont(o);
    const int dpi = layoutDpi();
    const qreal width = o.widthInches * dpi;
    std::vector<ContextLayout> layouts;
    const qreal height = layoutAll(contexts, font, width, &layouts);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(QSize(qCeil(width), qCeil(height)));
    svg.setViewBox(QRectF(0, 0, width, height));
    svg.setResolution(dpi);
    svg.setTitle(QStringLiteral("Headlight contexts"));
    svg.setDescription(QStringLiteral("Made with Headlight"));
    QPainter painter(&svg);
    paintAll(painter, contexts, layouts, font);
    painter.end();
    return bytes;
}

QByteArray contextsToPdf(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& o) {
    const QFont font = exportFont(o);
    const int dpi = layoutDpi();
    const qreal width = o.widthInches * dpi;
    std::vector<ContextLayout> layouts;
    const qreal height = layoutAll(contexts, font, width, &layouts);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    {
        const DeterministicHashes sameFontOrder;
        QPdfWriter pdf(&buffer);
        pdf.setCreator(QStringLiteral("Headlight"));
        pdf.setTitle(QStringLiteral("Headlight contexts"));
        pdf.setResolution(dpi);
        pdf.setPageSize(QPageSize(QSizeF(o.widthInches, height / dpi), QPageSize::Inch, QString(), QPageSize::ExactMatch));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter painter(&pdf);
        paintAll(painter, contexts, layouts, font);
        painter.end();
    }
    buffer.close();
    return normalizePdf(bytes);
}

namespace {

// The pieces of a context as runs of (text, piece) lines: a piece's text split at its newlines.
QStringList linesOf(const TokenPiece& p) { return p.text.split(QLatin1Char('\n')); }

QString valueText(const TokenPiece& p) {
    return std::isnan(p.value) ? QStringLiteral("n/a") : QString::number(p.value, 'f', 4);
}

}  // namespace

QString contextsToHtml(const std::vector<HighlightedContext>& contexts, const QString& title) {
    QString h;
    h += QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<title>");
    h += title.toHtmlEscaped();
    h += QStringLiteral("</title>\n<style>\n"
                        "body{font-family:sans-serif;font-size:14px;}\n"
                        ".ctx{margin:0 0 14px 0;line-height:1.5;white-space:pre-wrap;}\n"
                        ".hdr{color:#555;font-size:12px;white-space:normal;}\n"
                        ".tok{white-space:pre-wrap;}\n"
                        ".tok:hover{outline:1px solid #000;}\n"
                        "#bounds:checked ~ .ctx .tok{box-shadow:inset 1px 0 0 rgba(0,0,0,0.35);}\n"
                        ".nl{color:#888;}\n"
                        ".before{opacity:0.4;}\n"
                        ".start{border-left:2px solid #000;}\n"
                        ".pred{white-space:pre;border:1px dashed #000;padding:0 3px;margin-left:6px;font-weight:bold;}\n"
                        ".dropped{opacity:0.45;}\n"
                        "</style>\n</head>\n<body>\n<h1>");
    h += title.toHtmlEscaped();
    h += QStringLiteral("</h1>\n<input type=\"checkbox\" id=\"bounds\" /><label for=\"bounds\"> show token boundaries</label>\n");
    for (const HighlightedContext& c : contexts) {
        h += c.kept ? QStringLiteral("<div class=\"ctx\">") : QStringLiteral("<div class=\"ctx dropped\">");
        h += QStringLiteral("<div class=\"hdr\">") + c.header.toHtmlEscaped() + QStringLiteral("</div>");
        bool started = false;
        for (const TokenPiece& p : c.pieces) {
            if (p.kind == TokenPiece::Elided) {
                h += QStringLiteral("<span class=\"hdr\"><i>") + p.text.toHtmlEscaped() + QStringLiteral("</i></span> ");
                continue;
            }
            if (p.kind == TokenPiece::Predicted) {
                h += QStringLiteral("<span class=\"pred\" title=\"predicted token, id %1\">\u2192 %2</span>")
                         .arg(p.tokenId)
                         .arg(visibleText(p.text).toHtmlEscaped());
                continue;
            }
            const QColor bg = pieceColor(p, c.range);
            QString cls = QStringLiteral("tok");
            if (p.kind == TokenPiece::Before) cls += QStringLiteral(" before");
            if (p.kind == TokenPiece::Prompt && !started) {
                cls += QStringLiteral(" start");
                started = true;
            }
            QString ids = QString::number(p.tokenId);
            for (int id : p.mergedIds) ids += QStringLiteral("+%1").arg(id);
            QString text;
            const QStringList lines = linesOf(p);
            for (int k = 0; k < lines.size(); ++k) {
                if (k > 0) text += QStringLiteral("<span class=\"nl\">\u21B5</span>\n");
                QString line = lines[k];
                line.remove(QLatin1Char('\r'));
                text += visibleText(line).toHtmlEscaped();
            }
            h += QStringLiteral("<span class=\"%1\" style=\"background:%2;color:%3\" title=\"id %4, activation %5\">%6</span>")
                     .arg(cls, hex(bg), hex(textColorOn(bg)), ids, valueText(p), text);
        }
        h += QStringLiteral("</div>\n");
    }
    h += QStringLiteral("</body>\n</html>\n");
    return h;
}

namespace {

// Characters that pdflatex prints with T1 fonts, textcomp and its UTF-8 input encoding (those the
// LaTeX kernel's t1enc.dfu / ts1enc.dfu declare: Latin-1, most of Latin Extended-A, typographic
// punctuation). Others go through \hlU (the glyph with lualatex/xelatex, the code point with pdflatex).
bool pdflatexPrints(char32_t c) {
    static constexpr std::pair<char32_t, char32_t> kRanges[] = {
        {0xA1, 0xAC},     {0xAE, 0xB7},     {0xB9, 0x125},    {0x128, 0x137},   {0x139, 0x13E},   {0x141, 0x148},
        {0x14A, 0x165},   {0x168, 0x17E},   {0x2013, 0x2014}, {0x2018, 0x201A}, {0x201C, 0x201E}, {0x2020, 0x2022},
        {0x2026, 0x2026}, {0x2030, 0x2030}, {0x2039, 0x203A}, {0x20AC, 0x20AC}, {0x2122, 0x2122}};
    for (const auto& [lo, hi] : kRanges)
        if (c >= lo && c <= hi) return true;
    return false;
}

// Symbols the figures and token texts use that pdflatex's text fonts lack, as math every engine prints.
const char* mathSymbol(char32_t c) {
    switch (c) {
    case 0x2212: return "\\ensuremath{-}";
    case 0x2190: return "\\ensuremath{\\leftarrow}";
    case 0x2192: return "\\ensuremath{\\rightarrow}";
    case 0x21B5: return "\\ensuremath{\\hookleftarrow}";
    case 0x21E5: return "\\ensuremath{\\rightarrowtail}";
    case 0x2264: return "\\ensuremath{\\leq}";
    case 0x2265: return "\\ensuremath{\\geq}";
    case 0x2248: return "\\ensuremath{\\approx}";
    case 0x221E: return "\\ensuremath{\\infty}";
    case 0x27E8: return "\\ensuremath{\\langle}";
    case 0x27E9: return "\\ensuremath{\\rangle}";
    default: return nullptr;
    }
}

}  // namespace

QString latexEscape(const QString& text) {
    QString out;
    for (char32_t c : text.toUcs4()) {
        switch (c) {
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
        case '\'': out += QStringLiteral("\\textquotesingle{}"); break;
        case '`': out += QStringLiteral("\\textasciigrave{}"); break;
        case '-': out += QStringLiteral("-{}"); break;   // no -- / --- ligatures
        case ' ': out += QStringLiteral("\\ "); break;
        case 0xA0: out += QStringLiteral("~"); break;
        case '\n': out += QStringLiteral("\\hlNL{}"); break;
        case '\t': out += QStringLiteral("\\ \\ \\ \\ "); break;
        case '\r': break;
        default:
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xA0) || c == 0xFFFD || (c >= 0xD800 && c <= 0xDFFF))
                out += QStringLiteral("\\hlU{%1}{?}").arg(QString::number(uint(c), 16).toUpper().rightJustified(4, QLatin1Char('0')));
            else if (c < 0x7f || pdflatexPrints(c)) out += QString::fromUcs4(&c, 1);
            else if (const char* math = mathSymbol(c)) out += QLatin1String(math);
            else out += QStringLiteral("\\hlU{%1}{%2}").arg(QString::number(uint(c), 16).toUpper().rightJustified(4, QLatin1Char('0')), QString::fromUcs4(&c, 1));
        }
    }
    return out;
}

QString contextsToLatex(const std::vector<HighlightedContext>& contexts) {
    QString t;
    t += QStringLiteral(
        "% Highlighted contexts made with Headlight (UTF-8). Needs \\usepackage{xcolor}; with pdflatex also\n"
        "% \\usepackage[T1]{fontenc}. Characters pdflatex's fonts lack are shown as their code point there;\n"
        "% lualatex and xelatex print them (visible with fontspec and a font that has them).\n"
        "\\begingroup\\setlength{\\fboxsep}{0pt}\\sffamily\\small\n"
        "\\providecommand{\\hlU}[2]{#2}\\providecommand{\\hlNL}{}\n"
        "\\ifdefined\\XeTeXrevision\\def\\hlU#1#2{#2}\\else\\ifdefined\\directlua\\def\\hlU#1#2{#2}\\else"
        "\\def\\hlU#1#2{{\\scriptsize[U+#1]}}\\fi\\fi\n"
        "\\def\\hlNL{\\textcolor[RGB]{136,136,136}{\\ensuremath{\\hookleftarrow}}}\n"
        "\\def\\hlT#1#2#3{\\colorbox[RGB]{#1}{\\strut\\textcolor[RGB]{#2}{#3}}}\n");
    for (const HighlightedContext& c : contexts) {
        t += QStringLiteral("\\par\\noindent{\\footnotesize\\color[RGB]{85,85,85}") + latexEscape(c.header) + QStringLiteral("}\\par\\noindent\n");
        const TokenPiece* previous = nullptr;
        for (const TokenPiece& p : c.pieces) {
            if (p.kind == TokenPiece::Elided) {
                t += QStringLiteral("{\\color[RGB]{85,85,85}\\itshape ") + latexEscape(p.text) + QStringLiteral("}\\ \n");
                continue;
            }
            if (p.kind == TokenPiece::Predicted) {
                t += QStringLiteral("\\quad\\fbox{\\strut\\textbf{$\\rightarrow$") + latexEscape(p.text) + QStringLiteral("}}\n");
                continue;
            }
            QColor bg = pieceColor(p, c.range);
            QColor fg = textColorOn(bg);
            if (p.kind == TokenPiece::Before || !c.kept) {
                bg = dimmed(bg);
                fg = QColor(0x77, 0x77, 0x77);
            }
            // A line may break between words only: before a token that starts with a space.
            if (previous && !p.text.isEmpty() && p.text.front().isSpace()) t += QStringLiteral("\\allowbreak");
            const QString rgb = QStringLiteral("%1,%2,%3}{%4,%5,%6").arg(bg.red()).arg(bg.green()).arg(bg.blue())
                                    .arg(fg.red()).arg(fg.green()).arg(fg.blue());
            const QStringList lines = linesOf(p);
            for (int k = 0; k < lines.size(); ++k) {
                if (k > 0) t += QStringLiteral("\\hlT{%1}{\\hlNL}\\newline\n").arg(rgb);
                if (!lines[k].isEmpty()) t += QStringLiteral("\\hlT{%1}{%2}").arg(rgb, latexEscape(lines[k]));
            }
            t += QStringLiteral("%\n");
            previous = &p;
        }
        t += QStringLiteral("\\par\\medskip\n");
    }
    t += QStringLiteral("\\endgroup\n");
    return t;
}

QString contextsToLatexDocument(const std::vector<HighlightedContext>& contexts, const QString& title) {
    QString t = QStringLiteral(
        "% Made with Headlight. Compiles with pdflatex, lualatex and xelatex; the part between\n"
        "% \\begin{document} and \\end{document} can be pasted into a paper (see its comment).\n"
        "\\documentclass{article}\n"
        "\\usepackage[margin=2cm]{geometry}\n"
        "% T1 fonts with every engine (lualatex and xelatex read UTF-8 by themselves; load fontspec and a\n"
        "% font with the scripts you need to see every character there).\n"
        "\\usepackage[T1]{fontenc}\n"
        "\\ifdefined\\XeTeXrevision\\else\\ifdefined\\directlua\\else\\usepackage[utf8]{inputenc}\\fi\\fi\n"
        "\\usepackage{xcolor}\n\\usepackage{amssymb}\n"
        "\\begin{document}\n\\section*{");
    t += latexEscape(title);
    t += QStringLiteral("}\n");
    t += contextsToLatex(contexts);
    t += QStringLiteral("\\end{document}\n");
    return t;
}

void exportContexts(const std::vector<HighlightedContext>& contexts, const QString& path, const QString& title,
                    const ContextExportOptions& options) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    QByteArray bytes;
    if (suffix == QLatin1String("svg")) bytes = contextsToSvg(contexts, options);
    else if (suffix == QLatin1String("pdf")) bytes = contextsToPdf(contexts, options);
    else if (suffix == QLatin1String("html") || suffix == QLatin1String("htm")) bytes = contextsToHtml(contexts, title).toUtf8();
    else if (suffix == QLatin1String("tex")) bytes = contextsToLatexDocument(contexts, title).toUtf8();
    else throw Error("cannot export contexts to " + path.toStdString() + ": use .svg, .pdf, .html or .tex");
    io::writeFileAtomically(path, bytes);
}

}  // namespace headlight::ui
