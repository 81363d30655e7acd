// Benchmark: streams the mix_en training corpus (29 MB of JSON Lines) through CorpusReader (UTF-8
// validation + JSON parsing + text extraction) and prints `corpus_read_MBps <value>`, the best of
// three passes in MB (1e6 bytes) per second.
#include <chrono>
#include <cstdio>

#include <QDir>
#include <QString>

#include "core/analysis/corpus.h"
#include "core/base/error.h"

int main(int argc, char** argv) {
    const QString path = argc > 1 ? QString::fromLocal8Bit(argv[1])
                                  : QDir(QStringLiteral(HEADLIGHT_FIXTURES_DIR)).filePath(QStringLiteral("corpora/mix_en/train.jsonl"));
    try {
        double best = 0;
        for (int pass = 0; pass < 3; ++pass) {
            const auto start = std::chrono::steady_clock::now();
            headlight::analysis::CorpusReader reader = headlight::analysis::CorpusReader::open(path);
            headlight::analysis::Document doc;
            std::size_t chars = 0;
            while (reader.next(doc)) chars += doc.text.size();
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double mbps = static_cast<double>(reader.stats().bytesRead) / 1e6 / seconds;
            std::fprintf(stderr, "pass %d: %lld documents, %zu text bytes, %.3f s\n", pass,
                         static_cast<long long>(reader.stats().documents), chars, seconds);
            if (mbps > best) best = mbps;
        }
        std::printf("corpus_read_MBps %.1f\n", best);
    } catch (const headlight::Error& e) {
        std::fprintf(stderr, "bench_corpus_read: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
