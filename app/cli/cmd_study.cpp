// headlight-cli study SUBCOMMAND ...: work on .headlight bundles.
//   study info X.headlight [--json]     summarise a bundle
//   study export X.headlight --json     the whole study as one JSON document on stdout (or --out FILE)
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <QFileInfo>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/study/bundle.h"
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

int runStudyInfo(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption jsonOpt(QStringLiteral("json"), QStringLiteral("Print JSON instead of text."));
    parser.addOption(jsonOpt);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Summarise a Headlight bundle."));
    if (parser.positionalArguments().size() != 1) throw Error("study info: give exactly one bundle");
    const Study study = loadStudy(parser.positionalArguments().front());
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
    const std::string text = exportStudyJson(study).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
    {"ablate", "add the head-ablation experiment", runStudyAblate},
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
