// bench/scan_throughput: the activation scan (step 2) in tokens/s on the real GPT-2 tokenizer and the
// mix_en corpus with a GPT-2-small-shaped model (random weights), scanning 20 neurons in each of
// layers 9-11, against the bare forward pass on the same documents and batches (what the scan adds on
// top of the engine: tokenization, the max over positions, the top-k bookkeeping).
// Usage: bench_scan_throughput [DOCUMENTS] [CORPUS]     (default 24 documents of mix_en/train.jsonl)
// Prints "scan_tokens_per_s <v>", "forward_tokens_per_s <v>" and "scan_overhead_fraction <v>".
#include <chrono>
#include <cstdio>
#include <string>

#include <QDir>
#include <c10/core/InferenceMode.h>

#include "bench/gpt2_small.h"
#include "core/analysis/activation_scan.h"
#include "core/analysis/corpus.h"
#include "core/base/versions.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"

using namespace headlight;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const int documents = argc > 1 ? std::stoi(argv[1]) : 24;
    const QString fixtures = QStringLiteral(HEADLIGHT_FIXTURES_DIR);
    const QString corpus = argc > 2 ? QString::fromLocal8Bit(argv[2])
                                    : QDir(fixtures).filePath(QStringLiteral("corpora/mix_en/train.jsonl"));
    configureTorchThreads();
    const ModelConfig c = gpt2SmallConfig();
    const Transformer model = Transformer::fromWeights(c, randomWeights(c, 1), {}, "gpt2-small-random");
    const Tokenizer tokenizer = Tokenizer::fromFolder(QDir(fixtures).filePath(QStringLiteral("tokenizers/gpt2")));

    analysis::ScanOptions o;
    for (int l = 9; l < 12; ++l)
        for (int n = 0; n < 20; ++n) o.neurons.push_back({l, n * 97});
    o.corpus.maxDocuments = documents;
    auto start = Clock::now();
    const analysis::ScanResult r = analysis::runActivationScan(model, tokenizer, corpus, o);
    const double scanSeconds = std::chrono::duration<double>(Clock::now() - start).count();

    // The same documents through the bare forward pass, one per pass as the scan (whole documents, cut at n_ctx).
    std::vector<std::vector<int>> docs;
    analysis::CorpusOptions co;
    co.maxDocuments = documents;
    analysis::CorpusReader reader = analysis::CorpusReader::open(corpus, co);
    analysis::Document d;
    while (reader.next(d)) docs.push_back(analysis::documentTokens(model, tokenizer, d.text));
    start = Clock::now();
    {
        c10::InferenceMode guard;
        for (const std::vector<int>& doc : docs) {  // one document per pass, as the scan runs them
            HookSet hooks;
            for (int l = 9; l < 12; ++l) hooks.capture("blocks." + std::to_string(l) + ".mlp.hook_post");
            model.run(TokenBatch::padded({doc}), hooks);
        }
    }
    const double forwardSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "%lld documents, %lld tokens, scan %.1f s, forward %.1f s, threads %d\n",
                 static_cast<long long>(r.documents), static_cast<long long>(r.tokens), scanSeconds, forwardSeconds,
                 configureTorchThreads());
    std::printf("scan_tokens_per_s %.1f\n", r.tokens / scanSeconds);
    std::printf("forward_tokens_per_s %.1f\n", r.tokens / forwardSeconds);
    std::printf("scan_overhead_fraction %.3f\n", scanSeconds / forwardSeconds - 1.0);
    return 0;
}
