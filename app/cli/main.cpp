// headlight-cli: the command-line driver over the same core steps as the GUI.
#include <QCoreApplication>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/base/versions.h"

using namespace headlight;

namespace {

std::string usage() {
    std::string s = "Usage: headlight-cli COMMAND [OPTIONS]\n\nHeadlight " + headlightVersion() +
                    ": attention heads and next-token neurons in transformer language models.\n\nCommands:\n";
    for (const auto& c : cli::commands()) {
        std::string name = c.name;
        name.resize(12, ' ');
        s += "  " + name + c.summary + "\n";
    }
    s += "\nRun 'headlight-cli COMMAND --help' for a command's options.\n";
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    headlight::ensurePassiveOpenMpWait(argv);
    const std::unique_ptr<QCoreApplication> app = cli::makeApplication(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("headlight-cli"));
    QCoreApplication::setApplicationVersion(QString::fromStdString(headlightVersion()));
    const QStringList args = QCoreApplication::arguments();
    if (args.size() < 2 || args[1] == QLatin1String("--help") || args[1] == QLatin1String("-h") ||
        args[1] == QLatin1String("help")) {
        cli::printOut(usage());
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == QLatin1String("--version")) {
        cli::printOut("headlight-cli " + headlightVersion() + " (Qt " + qtVersion() + ", libtorch " +
                      libtorchVersion() + ")\n");
        return 0;
    }
    cli::enableImplicitDownloads();  // --model gpt2 fetches what the Hugging Face cache lacks
    for (const auto& command : cli::commands()) {
        if (args[1] != QLatin1String(command.name)) continue;
        QStringList rest = args.mid(2);
        rest.prepend(args[0] + QLatin1Char(' ') + args[1]);
        try {
            return command.run(rest);
        } catch (const Cancelled&) {
            cli::printErr("headlight-cli: cancelled\n");
            return 130;
        } catch (const std::exception& e) {
            cli::printErr(std::string("headlight-cli: error: ") + e.what() + "\n");
            return 1;
        }
    }
    cli::printErr("headlight-cli: error: unknown command '" + args[1].toStdString() + "' (see headlight-cli --help)\n");
    return 2;
}
