// The look-up view as a figure for papers (issue 13): the context's tokens coloured by one head's
// contribution (or attention), a colour bar, and the top source tokens with their numbers, painted at
// the page width (single / double column, or any) in PNG, SVG and PDF, or written as LaTeX (xcolor boxes
// per token and a table of the top sources; compiles with pdflatex, lualatex and xelatex). The height
// follows the content. The same code serves File > Export Figure ("lookup") and `headlight-cli study
// figure --kind lookup --neuron LxNy [--context I] [--head LxHy] [--attention]`.
#pragma once

#include <QByteArray>
#include <QString>

#include "ui/export/plot_export.h"
#include "ui/lookup_view.h"

namespace headlight::ui {

class StudyDocument;

// The stored look-up of flat head `head` in context `context` of bundle neuron `neuron`; context -1: the
// first kept context with a look-up (of `head`, or of any head); head -1: that context's head with the
// largest score. Throws headlight::Error saying what is missing (e.g. the look-ups of a bundle made
// before they were stored, or the heads that do have one there).
LookupRow findLookupRow(const StudyDocument& document, int neuron, int context, int head);

QByteArray renderLookupFigure(const LookupRow& row, LookupMode mode, FigureFormat format, const FigureOptions& options,
                              bool dark = false, const TokenRunDecoder& decode = {});
// A whole LaTeX document (title, the coloured tokens, the top sources as a table).
QString lookupLatexDocument(const LookupRow& row, LookupMode mode, const TokenRunDecoder& decode = {});
// Writes by suffix (.png .svg .pdf .tex), atomically; throws headlight::Error for any other.
void exportLookupFigure(const LookupRow& row, LookupMode mode, const QString& path, const FigureOptions& options,
                        bool dark = false, const TokenRunDecoder& decode = {});

}  // namespace headlight::ui
