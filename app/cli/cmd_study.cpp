// headlight-cli study SUBCOMMAND ...: work on .headlight bundles.
//   study info X.headlight [--json] [--head L1H2]   summarise a bundle (or one head: its neurons, its sources)
//   study export X.headlight --json     the whole study as one JSON document on stdout (or --out FILE)
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <QDir>
#include <QFileInfo>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/model/tokenizer.h"
#include "core/study/bundle.h"
#include "core/study/head_view.h"
#include "core/study/study_export.h"

namespace headlight::cli {

namespace {

// Writes `text` to standard output and checks every step: a full disk or a closed pipe is an error
// (exit 1), never a truncated document with exit 0.
void writeStdoutChecked(const std::string& text) {
    errno = 0;
    const std::size_t written = std::fwrite(text.data(), 1, text.size(), stdout);
    if (written != text.size() || std::fflush(stdout) != 0 || std::ferror(stdout))
        throw Error(std::string("cannot write to standard output: ") + (errno ? std::strerror(errno) : "write error") +
                    " (the output is incomplete)");
}

// The token text of the study's vocabulary, from the model folder the bundle records (absolute, then
// relative to the bundle); ids only when neither holds a tokenizer. Never downloads.
TokenDecoder studyTokenDecoder(const QString& bundlePath, const Study& study) {
    QStringList folders;
    if (!study.provenance.modelPath.empty()) folders << QString::fromStdString(study.provenance.modelPath);
    if (!study.provenance.modelPathRelative.empty())
        folders << QFileInfo(bundlePath).absoluteDir().filePath(QString::fromStdString(study.provenance.modelPathRelative));
    for (const QString& folder : folders) {
        if (!QFileInfo(folder).isDir()) continue;
        try {
            auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::fromFolder(folder));
            return [tokenizer](int id) { return tokenizer->tokenText(id).toStdString(); };   // as the GUI shows it
        } catch (const Error&) {
        }
    }
    return {};
}

// `study info --head L1H2`: the head-centric view (core/study/head_view.h).
int printHeadInfo(const QString& bundle, const Study& study, const QString& name, bool json) {
    const std::optional<HeadIndex> head = parseHeadName(name.toStdString());
    if (!head || head->layer >= study.nLayers || head->head >= study.nHeads)
        throw Error("--head: '" + name.toStdString() + "' is not a head of this study's model (L0H0 to L" +
                    std::to_string(study.nLayers - 1) + "H" + std::to_string(study.nHeads - 1) + ")");
    const TokenDecoder decode = studyTokenDecoder(bundle, study);
    const HeadView view = headView(study, static_cast<int>(headFlatIndex(*head, study.nHeads)));
    writeStdoutChecked(json ? headViewJson(study, view, decode).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
                            : headViewText(study, view, decode));
    return 0;
}

int runStudyInfo(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption jsonOpt(QStringLiteral("json"), QStringLiteral("Print JSON instead of text."));
    const QCommandLineOption headOpt(QStringLiteral("head"),
                                     QStringLiteral("One head instead: the neurons it is active or relevant for, its typical source tokens."),
                                     QStringLiteral("LxHy"));
    parser.addOption(jsonOpt);
    parser.addOption(headOpt);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Summarise a Headlight bundle."));
    if (parser.positionalArguments().size() != 1) throw Error("study info: give exactly one bundle");
    const Study study = loadStudy(parser.positionalArguments().front());
    if (parser.isSet(headOpt))
        return printHeadInfo(parser.positionalArguments().front(), study, parser.value(headOpt), parser.isSet(jsonOpt));
    if (parser.isSet(jsonOpt)) {
        nlohmann::ordered_json j = studySummaryJson(study);
        j["explanations"] = study.explanations.size();
        j["scores"] = explanationSummaryJson(study);
        writeStdoutChecked(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    } else {
        std::string text = studySummaryText(study);
        if (!study.explanations.empty()) {
            text += "explained:  " + std::to_string(study.explanations.size()) + " (neuron, head, source) records" +
                    (study.heldOut.corpus.empty() ? std::string(", not scored yet") : ", scored on " + study.heldOut.corpus) + "\n";
            text += explanationSummaryText(study);
            text += headScoresText(study);
        }
        writeStdoutChecked(text);
    }
    return 0;
}

int runStudyExport(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption jsonOpt(QStringLiteral("json"), QStringLiteral("Export as JSON (the only format)."));
    const QCommandLineOption outOpt(QStringLiteral("out"), QStringLiteral("Write to FILE instead of stdout."),
                                    QStringLiteral("FILE"));
    parser.addOption(jsonOpt);
    parser.addOption(outOpt);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Write the whole study as one JSON document (docs/bundle-format.md)."));
    if (parser.positionalArguments().size() != 1) throw Error("study export: give exactly one bundle");
    if (!parser.isSet(jsonOpt)) throw Error("study export: --json is required (the only export format)");
    const Study study = loadStudy(parser.positionalArguments().front());
    const TokenDecoder decode = studyTokenDecoder(parser.positionalArguments().front(), study);
    const std::string text = exportStudyJson(study, decode).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (parser.isSet(outOpt))
        io::writeFileAtomically(parser.value(outOpt), QByteArray::fromStdString(text));
    else
        writeStdoutChecked(text);
    return 0;
}

struct SubCommand {
    const char* name;
    const char* summary;
    int (*run)(const QStringList&);
};

const SubCommand kSubCommands[] = {
    {"run", "run steps 1-3 (with --explain / --heldout also 4-5) and write a bundle", runStudyRun},
    {"info", "summarise a bundle", runStudyInfo},
    {"export", "write the whole study as JSON", runStudyExport},
    {"merge", "merge shard bundles", runStudyMerge},
    {"ablate", "add a head-ablation experiment (zero, mean, resample, path patching)", runStudyAblate},
    {"complete", "add what a bundle from an older Headlight lacks (look-ups, token facts, histograms)", runStudyComplete},
    {"explain", "explain relevant heads with an LLM and the offline baseline", runStudyExplain},
    {"score", "score explanations on a held-out corpus", runStudyScore},
    {"figure", "draw a figure (heat maps, histograms, ablation, contexts) as PNG/SVG/PDF/TeX", runStudyFigure},
};

}  // namespace

int runStudy(const QStringList& args) {
    const QString sub = args.size() > 1 ? args[1] : QString();
    for (const SubCommand& c : kSubCommands) {
        if (sub != QLatin1String(c.name)) continue;
        QStringList rest = args.mid(2);
        rest.prepend(args[0] + QLatin1Char(' ') + sub);
        return c.run(rest);
    }
    std::string usage = "Usage: headlight-cli study SUBCOMMAND [OPTIONS]\n\nSubcommands:\n";
    for (const SubCommand& c : kSubCommands) {
        std::string name = c.name;
        name.resize(10, ' ');
        usage += "  " + name + c.summary + "\n";
    }
    if (sub.isEmpty() || sub == QLatin1String("--help") || sub == QLatin1String("-h")) {
        printOut(usage);
        return sub.isEmpty() ? 2 : 0;
    }
    throw Error("study: unknown subcommand '" + sub.toStdString() + "' (see headlight-cli study --help)");
}

}  // namespace headlight::cli
