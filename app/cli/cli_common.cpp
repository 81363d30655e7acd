#include "app/cli/cli_common.h"

#include <algorithm>
#include <csignal>
#include <cstdio>

#include <unistd.h>

#include "core/base/error.h"

namespace headlight::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"info", "describe a checkpoint: architecture, sizes, parameters, files", runInfo},
        {"tokenize", "tokenize JSON Lines {\"text\": ...} from stdin into ids, tokens and spans", runTokenize},
        {"activations", "run token ids or text through a model; save hooked activations (TransformerLens names) as safetensors", runActivations},
        {"neurons", "rank next-token neurons by congruence (step 1)", runNeuronsCommand},
        {"download", "download a model from the Hugging Face hub into the hub cache; print its snapshot folder", runDownload},
        {"study", "run the method and work on .headlight bundles: run, info, export, merge, ablate, figure", runStudy},
    };
    return table;
}

void addOption(QCommandLineParser& p, const char* name, const char* help, const char* valueName, const char* defaultValue) {
    if (valueName)
        p.addOption(QCommandLineOption(QLatin1String(name), QLatin1String(help), QLatin1String(valueName),
                                       defaultValue ? QLatin1String(defaultValue) : QString()));
    else
        p.addOption(QCommandLineOption(QLatin1String(name), QLatin1String(help)));
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

Progress terminalProgress(const CancellationToken* token) {
    if (!isatty(fileno(stderr))) return Progress({}, token);
    return Progress(
        [](int64_t done, int64_t total, const std::string& message) {
            const int width = 30;
            const int filled = total > 0 ? static_cast<int>(width * std::min<double>(1.0, double(done) / double(total))) : 0;
            std::string line = "\r[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] " + message;
            if (line.size() > 150) line.resize(150);
            line += "\x1b[K";
            std::fwrite(line.data(), 1, line.size(), stderr);
            std::fflush(stderr);
        },
        token);
}

void printOut(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

void printErr(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

namespace {
CancellationToken* gInterrupt = nullptr;
extern "C" void onInterrupt(int) {
    if (gInterrupt) gInterrupt->cancel();
}
}  // namespace

InterruptGuard::InterruptGuard() {
    gInterrupt = &token;
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
}

InterruptGuard::~InterruptGuard() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    gInterrupt = nullptr;
}

}  // namespace headlight::cli
