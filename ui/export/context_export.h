// Highlighted contexts for papers, as running text with the activation as background: SVG and PDF
// (painted with the same code as the context list), standalone HTML (all corpus text escaped; token
// boundaries on hover or with a toggle) and LaTeX (UTF-8; xcolor \colorbox per token, TeX's special
// characters escaped; compiles with pdflatex, lualatex and xelatex). Plain functions; the same
// contexts give the same bytes.
#pragma once

#include <vector>

#include <QByteArray>
#include <QString>

#include "ui/token_layout.h"

namespace headlight::ui {

struct ContextExportOptions {
    double widthInches = 6.75;  // page / figure width
    double fontPoints = 9;
    QString fontFamily = QStringLiteral("DejaVu Sans");
};

QByteArray contextsToSvg(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& options = {});
QByteArray contextsToPdf(const std::vector<HighlightedContext>& contexts, const ContextExportOptions& options = {});
QString contextsToHtml(const std::vector<HighlightedContext>& contexts, const QString& title);
// A snippet for \input (needs xcolor, and T1 fonts with pdflatex) and a whole document around it.
QString contextsToLatex(const std::vector<HighlightedContext>& contexts);
QString contextsToLatexDocument(const std::vector<HighlightedContext>& contexts, const QString& title);

// LaTeX-escapes plain text as UTF-8: \ { } $ & # % _ ^ ~ < > | " ' ` - escaped; spaces become control
// spaces; a newline becomes \hlNL{}; characters pdflatex's T1 fonts lack become \hlU{CODE}{char}
// (the snippet defines it: the character with lualatex/xelatex, "[U+CODE]" with pdflatex).
QString latexEscape(const QString& text);

// Writes by suffix: .svg .pdf .html/.htm .tex (the whole document); throws headlight::Error for any other or on failure.
void exportContexts(const std::vector<HighlightedContext>& contexts, const QString& path, const QString& title,
                    const ContextExportOptions& options = {});

}  // namespace headlight::ui
