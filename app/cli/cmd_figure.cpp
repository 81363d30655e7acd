// headlight-cli study figure X.headlight --kind KIND [--neuron LxNy] ... --out FILE
// The GUI's File > Export figures from a script: the same code (ui/export/figure.h) draws them, on Qt's
// offscreen platform, so a figure can be regenerated for a revision without a display.
#include <QApplication>
#include <QFileInfo>

#include "app/cli/cli_common.h"
#include "core/analysis/playground.h"
#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "ui/export/context_export.h"
#include "ui/export/figure.h"
#include "ui/export/lookup_figure.h"
#include "ui/study_document.h"

namespace headlight::cli {

std::unique_ptr<QCoreApplication> makeApplication(int& argc, char** argv) {
    if (argc > 2 && QByteArray(argv[1]) == "study" && QByteArray(argv[2]) == "figure") {
        qputenv("QT_QPA_PLATFORM", "offscreen");   // no display needed; the same metrics everywhere
        return std::make_unique<QApplication>(argc, argv);
    }
    return std::make_unique<QCoreApplication>(argc, argv);
}

namespace {

QString kindsHelp() {
    QString s = QStringLiteral("Kinds (--kind):\n");
    for (const ui::FigureKindInfo& k : ui::figureKinds())
        s += QStringLiteral("  %1%2\n").arg(QString::fromLatin1(k.name).leftJustified(16), QString::fromLatin1(k.description));
    s += QStringLiteral("  %1%2\n").arg(QStringLiteral("contexts").leftJustified(16),
                                       QStringLiteral("the neuron's highlighted contexts as text (--neuron; --format tex|html|svg|pdf)"));
    return s;
}

QString formatOf(const QCommandLineParser& parser, const QCommandLineOption& formatOpt, const QString& out) {
    const QString format = parser.isSet(formatOpt) ? parser.value(formatOpt).toLower() : QFileInfo(out).suffix().toLower();
    if (format.isEmpty()) throw Error("--format: give png, svg, pdf (figures) or tex, html, svg, pdf (contexts)");
    return format;
}

analysis::PlaygroundResult runPlayground(const ui::StudyDocument& document, int neuron, const QString& text) {
    const QString model = document.modelPath();
    if (model.isEmpty())
        throw Error("figure playground: the study's model " + document.bundle().provenance().modelId + " was not found");
    const analysis::Playground playground = analysis::Playground::load(model, document.bundle().provenance().processing);
    return playground.run(text.toStdString(), NeuronRef{document.layer(neuron), document.neuronIndex(neuron)}, -1,
                          document.bundle().parameters().sameLayerHeads);
}

}  // namespace

int runStudyFigure(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption kindOpt(QStringLiteral("kind"), QStringLiteral("What to draw (see below)."), QStringLiteral("KIND"));
    const QCommandLineOption neuronOpt(QStringLiteral("neuron"), QStringLiteral("The neuron, e.g. L3N367."), QStringLiteral("LxNy"));
    const QCommandLineOption contextOpt(QStringLiteral("context"), QStringLiteral("layers-heads, lookup: context index (default: the first kept; lookup: the first kept with a look-up)."), QStringLiteral("I"));
    const QCommandLineOption ablationOpt(QStringLiteral("ablation"), QStringLiteral("ablation: record index (default 0)."), QStringLiteral("I"), QStringLiteral("0"));
    const QCommandLineOption textOpt(QStringLiteral("text"), QStringLiteral("playground: the text (head scores at its last token)."), QStringLiteral("TEXT"));
    const QCommandLineOption widthOpt(QStringLiteral("width"), QStringLiteral("single (3.25 in), double (6.75 in) or inches (default single)."), QStringLiteral("W"), QStringLiteral("single"));
    const QCommandLineOption heightOpt(QStringLiteral("height"), QStringLiteral("Height in inches (default 2.4 single, 3.0 double)."), QStringLiteral("IN"));
    const QCommandLineOption fontOpt(QStringLiteral("font-size"), QStringLiteral("Font size in points (default 8; contexts 9)."), QStringLiteral("PT"));
    const QCommandLineOption familyOpt(QStringLiteral("font"), QStringLiteral("Font family (default DejaVu Sans)."), QStringLiteral("FAMILY"));
    const QCommandLineOption dpiOpt(QStringLiteral("dpi"), QStringLiteral("PNG resolution (default 300)."), QStringLiteral("N"), QStringLiteral("300"));
    const QCommandLineOption formatOpt(QStringLiteral("format"), QStringLiteral("png, svg, pdf (lookup also tex); contexts: tex, html, svg, pdf (default: from --out)."), QStringLiteral("F"));
    const QCommandLineOption darkOpt(QStringLiteral("dark"), QStringLiteral("Dark theme instead of the light paper theme."));
    const QCommandLineOption droppedOpt(QStringLiteral("dropped"), QStringLiteral("Also the dropped contexts (heads-contexts, contexts)."));
    const QCommandLineOption headOpt(QStringLiteral("head"), QStringLiteral("lookup: the head, e.g. L1H2 (default: the context's top-scoring head with a look-up)."), QStringLiteral("LxHy"));
    const QCommandLineOption attentionOpt(QStringLiteral("attention"), QStringLiteral("lookup: colour by attention weight instead of contribution."));
    const QCommandLineOption outOpt(QStringLiteral("out"), QStringLiteral("The file to write."), QStringLiteral("FILE"));
    for (const auto* o : {&kindOpt, &neuronOpt, &contextOpt, &ablationOpt, &textOpt, &headOpt, &attentionOpt, &widthOpt, &heightOpt,
                          &fontOpt, &familyOpt, &dpiOpt, &formatOpt, &darkOpt, &droppedOpt, &outOpt})
        parser.addOption(*o);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Draw a figure of a study as the GUI's File > Export does."), kindsHelp());
    if (parser.positionalArguments().size() != 1) throw Error("study figure: give exactly one bundle");
    if (!parser.isSet(kindOpt)) throw Error("study figure: --kind is required (see --help)");
    if (!parser.isSet(outOpt)) throw Error("study figure: --out is required");
    const QString out = parser.value(outOpt);
    const QString format = formatOf(parser, formatOpt, out);
    auto number = [&parser](const QCommandLineOption& o, double lo, double hi) {
        bool ok = false;
        const double v = parser.value(o).toDouble(&ok);
        if (!ok || v < lo || v > hi)
            throw Error("--" + o.names().front().toStdString() + ": expected a number in " + std::to_string(int(lo)) + "-" +
                        std::to_string(int(hi)) + ", got '" + parser.value(o).toStdString() + "'");
        return v;
    };
    const std::shared_ptr<const ui::StudyDocument> document = ui::StudyDocument::open(parser.positionalArguments().front());
    const int neuron = parser.isSet(neuronOpt) ? ui::findNeuron(*document, parser.value(neuronOpt)) : -1;
    const QString kind = parser.value(kindOpt);
    if (kind == QLatin1String("contexts")) {
        if (neuron < 0) throw Error("figure contexts: give --neuron");
        ui::ContextExportOptions o;
        if (parser.isSet(widthOpt)) o.widthInches = ui::FigureOptions::forWidth(parser.value(widthOpt)).widthInches;
        if (parser.isSet(fontOpt)) o.fontPoints = number(fontOpt, 4, 36);
        if (parser.isSet(familyOpt)) o.fontFamily = parser.value(familyOpt);
        const auto contexts = ui::neuronContexts(*document, neuron, parser.isSet(droppedOpt));
        const QString title = QStringLiteral("%1: max-activating contexts").arg(document->neuronLabel(neuron));
        QByteArray bytes;
        if (format == QLatin1String("tex")) bytes = ui::contextsToLatexDocument(contexts, title).toUtf8();
        else if (format == QLatin1String("html")) bytes = ui::contextsToHtml(contexts, title).toUtf8();
        else if (format == QLatin1String("svg")) bytes = ui::contextsToSvg(contexts, o);
        else if (format == QLatin1String("pdf")) bytes = ui::contextsToPdf(contexts, o);
        else throw Error("--format: contexts are written as tex, html, svg or pdf, not '" + format.toStdString() + "'");
        io::writeFileAtomically(out, bytes);
        return 0;
    }
    ui::FigureRequest request;
    request.kind = ui::figureKindFromName(kind);
    request.neuron = neuron;
    request.context = parser.isSet(contextOpt) ? static_cast<int>(number(contextOpt, 0, 1e9)) : -1;
    request.ablation = static_cast<int>(number(ablationOpt, 0, 1e9));
    request.includeDropped = parser.isSet(droppedOpt);
    request.dark = parser.isSet(darkOpt);
    request.attention = parser.isSet(attentionOpt);
    if (parser.isSet(headOpt)) {
        const std::optional<HeadIndex> head = parseHeadName(parser.value(headOpt).toUpper().toStdString());
        if (!head || head->layer >= document->nLayers() || head->head >= document->nHeads())
            throw Error("--head: '" + parser.value(headOpt).toStdString() + "' is not a head of this study's model (L0H0 to L" +
                        std::to_string(document->nLayers() - 1) + "H" + std::to_string(document->nHeads() - 1) + ")");
        request.head = static_cast<int>(headFlatIndex(*head, document->nHeads()));
    }
    if (request.kind == ui::FigureKind::Lookup && format == QLatin1String("tex")) {
        const ui::LookupRow row = ui::findLookupRow(*document, neuron, request.context, request.head);
        io::writeFileAtomically(out, ui::lookupLatexDocument(row, request.attention ? ui::LookupMode::Attention : ui::LookupMode::Contribution,
                                                             [document](const std::vector<int>& ids) { return document->decodeTokens(ids); })
                                         .toUtf8());
        return 0;
    }
    ui::FigureOptions options = ui::FigureOptions::forWidth(parser.value(widthOpt));
    if (parser.isSet(heightOpt)) options.heightInches = number(heightOpt, 1, 40);
    if (parser.isSet(fontOpt)) options.fontPoints = number(fontOpt, 4, 36);
    if (parser.isSet(familyOpt)) options.fontFamily = parser.value(familyOpt);
    options.dpi = static_cast<int>(number(dpiOpt, 72, 1200));
    ui::FigureFormat f;
    if (format == QLatin1String("png")) f = ui::FigureFormat::Png;
    else if (format == QLatin1String("svg")) f = ui::FigureFormat::Svg;
    else if (format == QLatin1String("pdf")) f = ui::FigureFormat::Pdf;
    else throw Error("--format: figures are written as png, svg or pdf, not '" + format.toStdString() + "'");
    analysis::PlaygroundResult playground;
    if (request.kind == ui::FigureKind::Playground) {
        if (neuron < 0) throw Error("figure playground: give --neuron");
        if (!parser.isSet(textOpt) || parser.value(textOpt).isEmpty()) throw Error("figure playground: give --text");
        playground = runPlayground(*document, neuron, parser.value(textOpt));
        request.playground = &playground;
    }
    io::writeFileAtomically(out, ui::renderFigure(document, request, f, options));
    return 0;
}

}  // namespace headlight::cli
