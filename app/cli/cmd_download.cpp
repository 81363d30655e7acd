// headlight-cli download MODEL [--revision R]: fetches a model from the Hugging Face hub into the hub
// cache (the layout huggingface_hub uses) and prints its snapshot folder. enableImplicitDownloads()
// lets every other command's --model download too (Checkpoint::open / resolveModelDir).
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>

#include <unistd.h>

#include <QCommandLineParser>
#include <QDir>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/hub_download.h"

namespace headlight::cli {

namespace {

// The terminal bar of terminalProgress(), closed with a newline when a download ends; on a pipe one
// line when a download starts and one when it ends.
Progress downloadProgress(const CancellationToken* token) {
    const bool tty = isatty(fileno(stderr));
    const Progress bar = terminalProgress();
    auto state = std::make_shared<std::pair<std::mutex, bool>>();  // drawing a bar / said "downloading"
    return Progress(
        [tty, bar, state](int64_t done, int64_t total, const std::string& message) {
            std::lock_guard<std::mutex> lock(state->first);
            const bool downloading = message.rfind("downloading ", 0) == 0;
            const bool finished = message.rfind("downloaded ", 0) == 0;
            if (tty) {
                if (downloading || finished) {
                    bar.report(done, total, message);
                    state->second = true;
                }
                if (finished && state->second) {
                    printErr("\n");
                    state->second = false;
                }
                return;
            }
            if (downloading && !state->second) {
                const std::size_t colon = message.find(':');
                printErr("headlight-cli: " + message.substr(0, colon) + " ...\n");
                state->second = true;
            }
            if (finished) {
                printErr("headlight-cli: " + message + "\n");
                state->second = false;
            }
        },
        token);
}

CancellationToken* gDownloadInterrupt = nullptr;
extern "C" void onDownloadInterrupt(int) {
    if (gDownloadInterrupt) gDownloadInterrupt->cancel();
}

}  // namespace

void enableImplicitDownloads() { hub::setImplicitDownloads(true, downloadProgress(nullptr)); }

int runDownload(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption revisionOpt(QStringLiteral("revision"),
                                         QStringLiteral("Branch, tag or commit (default: main, or the @revision of MODEL)."),
                                         QStringLiteral("R"));
    const QCommandLineOption cacheOpt(QStringLiteral("cache-dir"),
                                      QStringLiteral("Hub cache folder (default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub)."),
                                      QStringLiteral("DIR"));
    parser.addOption(revisionOpt);
    parser.addOption(cacheOpt);
    parser.addPositionalArgument(QStringLiteral("MODEL"), QStringLiteral("Hub id: gpt2, EleutherAI/pythia-160m, org/name@revision."));
    parseOrThrow(parser, args,
                 QStringLiteral("Download a model (config.json, safetensors weights, tokenizer files) from the Hugging Face hub "
                                "into the hub cache and print its snapshot folder. Resumes interrupted downloads and verifies "
                                "every file. Environment: HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME."));
    const QStringList positional = parser.positionalArguments();
    if (positional.size() != 1) throw Error("download: give exactly one MODEL (a hub id such as gpt2 or EleutherAI/pythia-160m)");
    hub::HubId id = hub::parseHubId(positional.front());
    if (parser.isSet(revisionOpt)) {
        if (id.explicitRevision) throw Error("download: give the revision either as MODEL@R or as --revision, not both");
        id = hub::parseHubId(id.repo + QLatin1Char('@') + parser.value(revisionOpt));
    }
    hub::HubSettings settings = hub::HubSettings::fromEnvironment();
    if (parser.isSet(cacheOpt)) settings.cacheDir = QDir(parser.value(cacheOpt)).absolutePath();

    CancellationToken token;
    gDownloadInterrupt = &token;
    std::signal(SIGINT, onDownloadInterrupt);
    std::signal(SIGTERM, onDownloadInterrupt);
    struct Restore {
        ~Restore() {
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
            gDownloadInterrupt = nullptr;
        }
    } restore;
    const hub::DownloadResult result = hub::downloadModel(id, settings, downloadProgress(&token));
    printOut(QDir::toNativeSeparators(result.snapshotDir).toStdString() + "\n");
    return 0;
}

}  // namespace headlight::cli
