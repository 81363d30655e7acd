// headlight-cli study complete X.headlight [--out Y.headlight] [--model M] [--corpus C] [--text-field F]
//     [--only lookups,tokens,histograms] [--dry-run]
// Adds what a bundle made by an older Headlight lacks (completeStudy, core/study/pipeline.h): the
// look-ups of the active heads, the promoted / suppressed tokens, and the activation histograms (a scan
// of the study's whole corpus). Writes atomically; without --out the input is rewritten.
#include <QStringList>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"

namespace headlight::cli {

namespace {

std::string completionText(const Completion& c) {
    return std::to_string(c.lookups) + " look-ups, promoted / suppressed tokens of " + std::to_string(c.tokenFacts) +
           " neurons, histograms of " + std::to_string(c.histograms) + " neurons";
}

CompletionOptions completionOptions(const QCommandLineParser& parser) {
    CompletionOptions o;
    o.model = parser.value(QStringLiteral("model"));
    o.corpus = parser.value(QStringLiteral("corpus"));
    o.textField = parser.value(QStringLiteral("text-field"));
    if (parser.isSet(QStringLiteral("only"))) {
        o.lookups = o.tokenFacts = o.histograms = false;
        for (const QString& part : parser.value(QStringLiteral("only")).split(QLatin1Char(','))) {
            const QString what = part.trimmed();
            if (what == QLatin1String("lookups")) o.lookups = true;
            else if (what == QLatin1String("tokens")) o.tokenFacts = true;
            else if (what == QLatin1String("histograms")) o.histograms = true;
            else throw Error("--only: '" + what.toStdString() + "' is not lookups, tokens or histograms");
        }
    }
    return o;
}

}  // namespace

int runStudyComplete(const QStringList& args) {
    QCommandLineParser parser;
    addOption(parser, "out", "Where to write the completed bundle (default: rewrite the input).", "Y.headlight");
    addOption(parser, "model", "Model folder or hub id (default: the one recorded in the bundle).", "DIR|HUB_ID");
    addOption(parser, "corpus", "The study's corpus, if it moved (its SHA-256 must match).", "FILE|DIR");
    addOption(parser, "text-field", "JSON Lines field the study was scanned with (default text).", "FIELD", "text");
    addOption(parser, "only", "Add only these: lookups, tokens, histograms (comma-separated).", "LIST");
    addOption(parser, "dry-run", "Say what is missing and stop (needs no model).");
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Add what a bundle from an older Headlight lacks: look-ups of the active heads, "
                                              "promoted / suppressed tokens, activation histograms (rescans the corpus)."));
    if (parser.positionalArguments().size() != 1) throw Error("study complete: give exactly one bundle");
    const QString in = parser.positionalArguments().front();
    const QString out = parser.isSet(QStringLiteral("out")) ? parser.value(QStringLiteral("out")) : in;
    const CompletionOptions options = completionOptions(parser);
    Study study = loadStudy(in);
    const Completion missing = missingFromStudy(study, options);
    if (parser.isSet(QStringLiteral("dry-run")) || missing.total() == 0) {
        printOut(missing.total() == 0 ? "nothing is missing\n" : "missing: " + completionText(missing) + "\n");
        return 0;
    }
    InterruptGuard interrupt;
    const Completion added = completeStudy(study, options, terminalProgress(&interrupt.token));
    interrupt.token.throwIfCancelled();
    saveBundle(study, out);
    printOut("added " + completionText(added) + "\n");
    return 0;
}

}  // namespace headlight::cli
