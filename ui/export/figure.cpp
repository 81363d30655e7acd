#include "ui/export/figure.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QWidget>

#include "core/analysis/playground.h"
#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/study/study.h"
#include "ui/export/lookup_figure.h"
#include "ui/head_heatmap.h"
#include "ui/neuron_view.h"
#include "ui/overview_view.h"
#include "ui/playground_view.h"
#include "ui/qcp.h"
#include "ui/study_document.h"

namespace headlight::ui {

const std::vector<FigureKindInfo>& figureKinds() {
    static const std::vector<FigureKindInfo> kinds = {
        {FigureKind::HeadsContexts, "heads-contexts", "head scores of one neuron: contexts x candidate heads (--neuron)"},
        {FigureKind::LayersHeads, "layers-heads", "head scores of one context: layers x heads (--neuron, --context)"},
        {FigureKind::Scores, "scores", "histogram of the explanation score E with the random-neuron baseline"},
        {FigureKind::Congruence, "congruence", "histogram of the congruence of the selected neurons, real vs baseline"},
        {FigureKind::Ablation, "ablation", "head ablation: drop in p(token), active vs inactive contexts (--ablation)"},
        {FigureKind::Playground, "playground", "head scores of a text at its last token (--neuron, --text; loads the model)"},
        {FigureKind::Lookup, "lookup", "what one head reads in one context: its tokens coloured by the head's contribution "
                                       "(--neuron, --context, --head, --attention; also .tex)"},
    };
    return kinds;
}

FigureKind figureKindFromName(const QString& name) {
    std::string names;
    for (const FigureKindInfo& k : figureKinds()) {
        if (name == QLatin1String(k.name)) return k.kind;
        names += (names.empty() ? "" : ", ") + std::string(k.name);
    }
    throw Error("--kind: unknown figure kind '" + name.toStdString() + "' (one of " + names + ", contexts)");
}

QPalette figurePalette(bool dark) {
    QPalette p;
    const QColor paper = dark ? QColor(0x1e, 0x1e, 0x1e) : QColor(Qt::white);
    const QColor ink = dark ? QColor(0xe6, 0xe6, 0xe6) : QColor(Qt::black);
    for (QPalette::ColorGroup g : {QPalette::Active, QPalette::Inactive, QPalette::Disabled}) {
        p.setColor(g, QPalette::Window, paper);
        p.setColor(g, QPalette::Base, paper);
        p.setColor(g, QPalette::AlternateBase, paper);
        p.setColor(g, QPalette::Text, ink);
        p.setColor(g, QPalette::WindowText, ink);
        p.setColor(g, QPalette::PlaceholderText, dark ? QColor(0xa0, 0xa0, 0xa0) : QColor(0x60, 0x60, 0x60));
        p.setColor(g, QPalette::Mid, dark ? QColor(0x60, 0x60, 0x60) : QColor(0xb0, 0xb0, 0xb0));
    }
    return p;
}

int findNeuron(const StudyDocument& document, const QString& name) {
    for (int i = 0; i < document.neuronCount(); ++i)
        if (document.neuronLabel(i).compare(name, Qt::CaseInsensitive) == 0) return i;
    throw Error("--neuron: " + name.toStdString() + " is not in this study");
}

std::vector<HighlightedContext> neuronContexts(const StudyDocument& document, int neuron, bool includeDropped) {
    std::vector<HighlightedContext> out;
    const std::shared_ptr<const NeuronResult> r = document.neuronResult(neuron);
    const float range = activationRange(*r);
    for (int i = 0; i < static_cast<int>(r->contexts.size()); ++i)
        if (includeDropped || r->contexts[i].kept) out.push_back(makeHighlightedContext(*r, i, document, range));
    return out;
}

namespace {

void requireNeuron(const StudyDocument& document, const FigureRequest& r, const char* kind) {
    if (r.neuron < 0 || r.neuron >= document.neuronCount())
        throw Error(std::string("figure ") + kind + ": give a neuron of this study (--neuron LxNy)");
}

QCustomPlot* neuronFigure(QWidget* host, const std::shared_ptr<const StudyDocument>& document, const FigureRequest& r) {
    auto* selection = new StudySelection(host);
    auto* view = new NeuronView(selection, host);
    view->setDocument(document);
    if (r.includeDropped) view->showDroppedBox()->setChecked(true);
    selection->setNeuron(r.neuron);
    if (r.kind == FigureKind::HeadsContexts) return view->contextHeadMap();
    const NeuronResult* n = view->neuron();
    int context = r.context;
    if (context < 0)
        for (int i = static_cast<int>(n->contexts.size()) - 1; i >= 0; --i)
            if (n->contexts[i].kept) context = i;
    if (context < 0 || context >= static_cast<int>(n->contexts.size()))
        throw Error("--context: " + std::to_string(r.context) + " is not a context of " +
                    document->neuronLabel(r.neuron).toStdString() + " (0-" + std::to_string(n->contexts.size() - 1) + ")");
    selection->setContext(context);
    return view->layerHeadMap();
}

QCustomPlot* overviewFigure(QWidget* host, const std::shared_ptr<const StudyDocument>& document, const FigureRequest& r) {
    auto* view = new OverviewView(host);
    view->setDocument(document);
    if (r.kind == FigureKind::Scores) return view->scorePlot();
    if (r.kind == FigureKind::Congruence) return view->congruencePlot();
    const int n = static_cast<int>(document->bundle().ablations().size());
    if (r.ablation < 0 || r.ablation >= n)
        throw Error(n == 0 ? std::string("figure ablation: this study has no ablation data (headlight-cli study ablate)")
                           : "--ablation: " + std::to_string(r.ablation) + " is not a record of this study (0-" + std::to_string(n - 1) + ")");
    if (auto* choice = view->findChild<QComboBox*>()) choice->setCurrentIndex(r.ablation);
    return view->ablationPlot();
}

}  // namespace

std::unique_ptr<QWidget> buildFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& r,
                                     QCustomPlot** plot) {
    if (!document) throw Error("figure: no study open");
    auto host = std::make_unique<QWidget>();
    host->setAttribute(Qt::WA_DontShowOnScreen);
    host->setPalette(figurePalette(r.dark));
    host->resize(1000, 700);
    switch (r.kind) {
    case FigureKind::HeadsContexts:
    case FigureKind::LayersHeads:
        requireNeuron(*document, r, r.kind == FigureKind::HeadsContexts ? "heads-contexts" : "layers-heads");
        *plot = neuronFigure(host.get(), document, r);
        break;
    case FigureKind::Scores:
    case FigureKind::Congruence:
    case FigureKind::Ablation: *plot = overviewFigure(host.get(), document, r); break;
    case FigureKind::Playground: {
        requireNeuron(*document, r, "playground");
        if (!r.playground || r.playground->tokens.empty()) throw Error("figure playground: no text (--text)");
        auto* map = new HeadHeatMap(host.get());
        showPlaygroundHeadScores(*map, *document, r.neuron, *r.playground);
        *plot = map;
        break;
    }
    case FigureKind::Lookup: throw Error("figure lookup: not a plot (renderFigure draws it)");
    }
    if (auto* map = qobject_cast<HeadHeatMap*>(*plot)) map->setSelectedCell(-1, -1);   // no selection outline on paper
    return host;
}

namespace {
LookupRow requestedLookup(const StudyDocument& document, const FigureRequest& r) {
    return r.lookup ? *r.lookup : findLookupRow(document, r.neuron, r.context, r.head);
}
TokenRunDecoder decoderOf(const std::shared_ptr<const StudyDocument>& document) {
    return [document](const std::vector<int>& ids) { return document->decodeTokens(ids); };
}
}  // namespace

QByteArray renderFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& request, FigureFormat format,
                        const FigureOptions& options) {
    if (request.kind == FigureKind::Lookup) {
        if (!document) throw Error("figure: no study open");
        return renderLookupFigure(requestedLookup(*document, request), request.attention ? LookupMode::Attention : LookupMode::Contribution,
                                  format, options, request.dark, decoderOf(document));
    }
    QCustomPlot* plot = nullptr;
    const std::unique_ptr<QWidget> host = buildFigure(document, request, &plot);
    return renderPlot(*plot, format, options);
}

void exportFigure(const std::shared_ptr<const StudyDocument>& document, const FigureRequest& request, const QString& path,
                  const FigureOptions& options) {
    if (request.kind == FigureKind::Lookup && document && QFileInfo(path).suffix().compare(QLatin1String("tex"), Qt::CaseInsensitive) == 0) {
        exportLookupFigure(requestedLookup(*document, request), request.attention ? LookupMode::Attention : LookupMode::Contribution,
                           path, options, request.dark, decoderOf(document));
        return;
    }
    io::writeFileAtomically(path, renderFigure(document, request, figureFormatFor(path), options));
}

}  // namespace headlight::ui
