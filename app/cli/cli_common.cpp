#include "app/cli/cli_common.h"

#include <cstdio>

#include "core/base/error.h"

namespace headlight::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"info", "describe a checkpoint: architecture, sizes, parameters, files", runInfo},
        {"tokenize", "tokenize JSON Lines {\"text\": ...} from stdin into ids, tokens and spans", runTokenize},
        {"study", "work on .headlight bundles: info, export (run, merge, ablate with the pipeline)", runStudy},
    };
    return table;
}

void parseOrThrow(QCommandLineParser& parser, const QStringList& args, const QString& description,
                  const QString& usageSuffix) {
    parser.setApplicationDescription(description);
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help(QStringList{QStringLiteral("h"), QStringLiteral("help")},
                                  QStringLiteral("Show this help."));
    parser.addOption(help);
    if (!parser.parse(args)) throw Error(parser.errorText().toStdString());
    if (parser.isSet(help)) {
        QString text = parser.helpText();
        if (!usageSuffix.isEmpty()) text += QLatin1Char('\n') + usageSuffix + QLatin1Char('\n');
        printOut(text.toStdString());
        std::exit(0);
    }
}

void printOut(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

void printErr(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

}  // namespace headlight::cli
