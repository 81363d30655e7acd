// bench/hub_download: hub download throughput on loopback: one LFS weight file (default 100 MB) from
// the hub look-alike (tests/hub_test_server: API, HEAD with X-Linked-Etag, 302 to a second "CDN"
// origin) into a fresh hub cache, streamed to disk and verified (size + sha256) before it is renamed
// into place. What it measures is the client's own cost (Qt Network, hashing, writes), not a network.
// Usage: bench_hub_download [MEGABYTES]   prints "hub_download_MBps <value>" (1 MB = 1e6 bytes).
#include <cstdio>
#include <cstdlib>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include "core/base/error.h"
#include "core/model/hub_download.h"
#include "tests/hub_test_server.h"

using namespace headlight;

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const qsizetype megabytes = argc > 1 ? std::atoi(argv[1]) : 100;
    QByteArray big(megabytes * 1000 * 1000, Qt::Uninitialized);
    for (qsizetype i = 0; i < big.size(); ++i) big[i] = char((quint32(i) * 2654435761u) >> 13);
    test::HubTestServer server;
    server.addCommit(QStringLiteral("bench/big"), QStringLiteral("1111111111111111111111111111111111111111"),
                     {{QStringLiteral("config.json"), QByteArray("{\"model_type\": \"gpt2\"}")},
                      {QStringLiteral("model.safetensors"), big}});
    QTemporaryDir cache;
    hub::HubSettings settings;
    settings.endpoint = server.endpoint();
    settings.cacheDir = cache.path();
    try {
        QElapsedTimer timer;
        timer.start();
        const hub::DownloadResult r = hub::downloadModel(hub::parseHubId(QStringLiteral("bench/big")), settings);
        const double seconds = double(timer.nsecsElapsed()) / 1e9;
        std::fprintf(stderr, "%lld bytes in %.2f s (verified, loopback)\n", qlonglong(r.bytesDownloaded), seconds);
        std::printf("hub_download_MBps %.1f\n", double(r.bytesDownloaded) / 1e6 / seconds);
    } catch (const Error& e) {
        std::fprintf(stderr, "bench_hub_download: %s\n", e.what());
        return 1;
    }
    return 0;
}
