// bench/scan_scaling: the activation scan's tokens/s and peak RSS against corpus size (10k, 100k, 1M
// tokens) and document length (64, 256, 1,024 tokens with BOS) on a GPT-2-small-shaped model with
// random weights (made here), scanning 20 neurons in each of layers 9-11 as bench_scan_throughput.
// The corpus is made here too: documents of common one-token English words (the real GPT-2
// tokenizer), so each has exactly the length asked for. Each configuration runs in a process of its
// own (peak RSS is per process), and also as one document per forward pass (the scan before its
// batching plan) on the first 20k tokens, for the gain of packing.
// Usage: bench_scan_scaling [MAX_TOKENS]   (default 10000: only the 10k corpora; 1000000: all)
//        bench_scan_scaling --one TOKENS DOC_TOKENS [MODEL_DIR]   (one configuration; another model's
//        last three layers, e.g. the gpt2-mini fixture, whose n_ctx of 128 packs 8 documents a pass)
// Prints per configuration: "scan_scaling tokens=<n> doc_tokens=<L> tokens_per_s=<wall>
// cpu_tokens_per_s=<per CPU second> one_pass_cpu_tokens_per_s=<per CPU second> peak_rss_mb=<MB>".
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <c10/core/InferenceMode.h>

#include "bench/gpt2_small.h"
#include "core/analysis/activation_scan.h"
#include "core/analysis/corpus.h"
#include "core/base/versions.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"

using namespace headlight;

namespace {

double cpuSeconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

// A JSONL corpus of `documents` documents of `words` one-token words each.
void writeCorpus(const QString& path, int64_t documents, int64_t words) {
    static const char* kWords[] = {" the", " of", " and", " to", " in", " a", " is", " that", " for", " it",
                                   " was", " on", " with", " he", " as", " his", " be", " at", " by", " had"};
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) throw std::runtime_error("cannot write the corpus");
    uint64_t state = 12345;
    for (int64_t d = 0; d < documents; ++d) {
        std::string text = "{\"text\": \"";
        for (int64_t w = 0; w < words; ++w) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            text += kWords[(state >> 33) % 20];
        }
        f.write((text + "\"}\n").c_str());
    }
}

int runOne(int64_t tokens, int64_t docTokens, const QString& modelDir) {
    configureTorchThreads();
    const QString fixtures = QStringLiteral(HEADLIGHT_FIXTURES_DIR);
    const ModelConfig c = gpt2SmallConfig();
    const Transformer model = modelDir.isEmpty() ? Transformer::fromWeights(c, randomWeights(c, 1), {}, "gpt2-small-random")
                                                 : Transformer::load(modelDir);
    const Tokenizer tokenizer = Tokenizer::fromFolder(
        modelDir.isEmpty() ? QDir(fixtures).filePath(QStringLiteral("tokenizers/gpt2")) : modelDir);
    const int layers = model.config().nLayers, dMlp = model.config().dMlp;
    QTemporaryDir dir;
    const QString corpus = dir.filePath(QStringLiteral("corpus.jsonl"));
    writeCorpus(corpus, tokens / docTokens, docTokens - 1);  // + BOS

    analysis::ScanOptions o;
    for (int l = std::max(0, layers - 3); l < layers; ++l)
        for (int n = 0; n < 20; ++n) o.neurons.push_back({l, n * 97 % dMlp});
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = cpuSeconds();
    const analysis::ScanResult r = analysis::runActivationScan(model, tokenizer, corpus, o);
    const double cpu = cpuSeconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);

    // One document per forward pass, as the scan ran before its batching plan (first 20k tokens).
    analysis::CorpusReader reader = analysis::CorpusReader::open(corpus);
    analysis::Document d;
    int64_t oneTokens = 0;
    const double cpu1 = cpuSeconds();
    while (oneTokens < 20000 && reader.next(d)) {
        const std::vector<int> ids = analysis::documentTokens(model, tokenizer, d.text);
        HookSet hooks;
        for (int l = std::max(0, layers - 3); l < layers; ++l) hooks.capture("blocks." + std::to_string(l) + ".mlp.hook_post");
        model.run(TokenBatch::single(ids), hooks);
        oneTokens += static_cast<int64_t>(ids.size());
    }
    const double oneCpu = cpuSeconds() - cpu1;
    std::printf("scan_scaling tokens=%lld doc_tokens=%lld tokens_per_s=%.1f cpu_tokens_per_s=%.1f "
                "one_pass_cpu_tokens_per_s=%.1f peak_rss_mb=%.0f threads=%d\n",
                static_cast<long long>(r.tokens), static_cast<long long>(r.tokens / std::max<int64_t>(1, r.documents)),
                r.tokens / wall, r.tokens / cpu, oneTokens / oneCpu, usage.ru_maxrss / 1024.0, configureTorchThreads());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (argc >= 4 && std::string(argv[1]) == "--one")
        return runOne(std::stoll(argv[2]), std::stoll(argv[3]), argc > 4 ? QString::fromLocal8Bit(argv[4]) : QString());
    const int64_t maxTokens = argc > 1 ? std::stoll(argv[1]) : 10000;
    for (const int64_t tokens : {10000, 100000, 1000000}) {
        if (tokens > maxTokens) break;
        for (const int64_t docTokens : {64, 256, 1024}) {
            QProcess p;
            p.setProcessChannelMode(QProcess::ForwardedChannels);
            p.start(QCoreApplication::applicationFilePath(),
                    {QStringLiteral("--one"), QString::number(tokens), QString::number(docTokens)});
            p.waitForFinished(-1);
            std::fflush(stdout);
        }
    }
    return 0;
}
