// Study figures by name, built the same way for the GUI's File > Export and for `headlight-cli study
// figure`: each kind is drawn by a fresh, hidden copy of its view (NeuronView, OverviewView, the
// playground's head map) in the paper theme (light by default whatever the window's theme; dark as
// an option), without any selection outline, then laid out for the page by renderPlot (plot_export.h).
// What the CLI writes is therefore byte for byte what the GUI writes for the same study and settings.
#pragma once

#include <memory>
#include <vector>

#include <QByteArray>
#include <QPalette>
#include <QString>

#include "ui/export/plot_export.h"
#include "ui/token_layout.h"
#include "ui/lookup_view.h"

class QCustomPlot;
class QWidget;

namespace headlight::analysis {
struct PlaygroundResult;
}

namespace headlight::ui {

class StudyDocument;

enum class FigureKind { HeadsContexts, LayersHeads, Scores, Congruence, Ablation, Playground, Lookup };

struct FigureKindInfo {
    FigureKind kind;
    const char* name;         // "heads-contexts"
    const char* description;  // one line for --help and the export dialog
};
const std::vector<FigureKindInfo>& figureKinds();
// Throws headlight::Error listing the kinds when `name` is none of them.
FigureKind figureKindFromName(const QString& name);

struct FigureRequest {
    FigureKind kind = FigureKind::HeadsContexts;
    int neuron = -1;    // bundle index: heads-contexts, layers-heads, playground
    int context = -1;   // layers-heads: index into the neuron's contexts; -1 = its first kept context
    int ablation = 0;   // ablation: which record of the bundle
    bool includeDropped = false;  // heads-contexts: also the dropped contexts (as the GUI's toggle)
    const analysis::PlaygroundResult* playground = nullptr;  // playground: the computed text
    int head = -1;          // lookup: flat head (-1: the context's head with the largest score)
    bool attention = false; // lookup: colour by attention weight instead of contribution
    const LookupRow* lookup = nullptr;  // lookup: this row (the GUI's, possibly computed) instead of the stored one
    bool dark = false;  // the dark theme instead of the paper theme
};

// The palette figures are drawn with: white paper and black text, or the dark theme.
QPalette figurePalette(bool dark);

// A hidden widget tree that draws the figure; *plot points at its plot. Throws headlight::Error when
// the study lacks what the kind needs (no such neuron, no ablation record, ...). The lookup kind is no
// plot (ui/export/lookup_figure.h): renderFigure and exportFigure draw it (its height follows its
// content; exportFigure also writes it as .tex); buildFigure refuses it.
std::unique_ptr<QWidget> buildFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& request,
                                     QCustomPlot** plot);
QByteArray renderFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& request,
                        FigureFormat format, const FigureOptions& options);
// Writes by suffix (.png .svg .pdf), atomically.
void exportFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& request, const QString& path,
                  const FigureOptions& options);

// "L3N367" to a bundle index; throws headlight::Error naming the neuron if the study lacks it.
int findNeuron(const StudyDocument& document, const QString& name);
// The neuron's contexts as the Neuron view shows them (kept ones, or all with `includeDropped`).
std::vector<HighlightedContext> neuronContexts(const StudyDocument& document, int neuron, bool includeDropped);

}  // namespace headlight::ui
