// Highlighted contexts for papers: SVG and PDF (painted with the same code as the context list),
// standalone HTML (all corpus text escaped) and a LaTeX snippet (xcolor \colorbox per token, LaTeX
// special characters escaped). Plain functions; the same contexts give the same bytes.
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
QString contextsToLatex(const std::vector<HighlightedContext>& contexts);

// LaTeX-escapes plain text: \ { } $ & # % _ ^ ~ < > | " and non-Latin-1 characters (as "?");
// spaces become control spaces so that token boundaries survive.
QString latexEscape(const QString& text);

// Writes by suffix: .svg .pdf .html/.htm .tex; throws headlight::Error for any other or on failure.
void exportContexts(const std::vector<HighlightedContext>& contexts, const QString& path, const QString& title,
                    const ContextExportOptions& options = {});

}  // namespace headlight::ui
