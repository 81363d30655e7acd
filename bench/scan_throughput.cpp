// bench/scan_throughput: the activation scan (step 2) in tokens/s on the real GPT-2 tokenizer and the
// mix_en corpus with a GPT-2-small-shaped model (random weights), scanning 20 neurons in each of
// layers 9-11, against bench/reference_forward.py's scan mode (PyTorch eager, TransformerLens style:
// one document per pass, to the logits, hook_post of layers 9-11 cached) on the same token ids, run
// alternately in the same invocation with the same threads (set OMP_NUM_THREADS for both).
// Usage: bench_scan_throughput [DOCUMENTS] [CORPUS] [ROUNDS]
//   default 24 documents of mix_en/train.jsonl, 3 rounds. No reference run when /usr/bin/python3 has
//   no torch (scripts/setup.sh --bench installs it).
// Prints per round "round <i> headlight <tokens/s> cpu_s=<s> reference <tokens/s> cpu_s=<s>", then
// "scan_tokens_per_s <median>", "reference_scan_tokens_per_s <median>" and the ratios of the medians:
// "scan_speedup_x <wall ratio>" and "scan_speedup_cpu_x <ratio of CPU seconds>" (the robust figure on
// a loaded machine: with one thread, CPU seconds are the work done).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>

#include "bench/gpt2_small.h"
#include "core/analysis/activation_scan.h"
#include "core/analysis/corpus.h"
#include "core/base/versions.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"

using namespace headlight;
using Clock = std::chrono::steady_clock;

namespace {

struct Timing {
    double tokensPerS = 0, cpuSeconds = 0;
};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The reference scan on the token ids in `tokensFile` (empty timing if Python or torch is missing).
Timing runReference(const QString& tokensFile) {
    QProcess p;
    p.start(QStringLiteral("/usr/bin/python3"),
            {QStringLiteral(HEADLIGHT_SOURCE_DIR "/bench/reference_forward.py"), QStringLiteral("--scan"), tokensFile});
    if (!p.waitForFinished(-1) || p.exitCode() != 0) {
        std::fprintf(stderr, "reference failed: %s\n", p.readAllStandardError().constData());
        return {};
    }
    Timing t;
    std::sscanf(p.readAllStandardOutput().constData(), "scan_tokens_per_s %lf cpu_s=%lf", &t.tokensPerS, &t.cpuSeconds);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    const int documents = argc > 1 ? std::stoi(argv[1]) : 24;
    const QString fixtures = QStringLiteral(HEADLIGHT_FIXTURES_DIR);
    const QString corpus = argc > 2 && argv[2][0] ? QString::fromLocal8Bit(argv[2])
                                                  : QDir(fixtures).filePath(QStringLiteral("corpora/mix_en/train.jsonl"));
    const int rounds = argc > 3 ? std::stoi(argv[3]) : 3;
    configureTorchThreads();
    const ModelConfig c = gpt2SmallConfig();
    const Transformer model = Transformer::fromWeights(c, randomWeights(c, 1), {}, "gpt2-small-random");
    const Tokenizer tokenizer = Tokenizer::fromFolder(QDir(fixtures).filePath(QStringLiteral("tokenizers/gpt2")));

    analysis::ScanOptions o;
    for (int l = 9; l < 12; ++l)
        for (int n = 0; n < 20; ++n) o.neurons.push_back({l, n * 97});
    o.corpus.maxDocuments = documents;

    // The documents' token ids, as the scan runs them, for the reference.
    QTemporaryDir dir;
    const QString tokensFile = dir.filePath(QStringLiteral("tokens.txt"));
    {
        QFile f(tokensFile);
        if (!f.open(QIODevice::WriteOnly)) return 1;
        analysis::CorpusReader reader = analysis::CorpusReader::open(corpus, o.corpus);
        analysis::Document d;
        while (reader.next(d)) {
            const std::vector<int> ids = analysis::documentTokens(model, tokenizer, d.text);
            if (ids.size() < 2) continue;
            std::string line;
            for (int id : ids) line += std::to_string(id) + ' ';
            f.write((line + '\n').c_str());
        }
    }

    std::vector<double> ours, oursCpu, theirs, theirsCpu;
    for (int round = 0; round < rounds; ++round) {
        const auto start = Clock::now();
        const std::clock_t cpu0 = std::clock();
        const analysis::ScanResult r = analysis::runActivationScan(model, tokenizer, corpus, o);
        const double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
        const double wall = std::chrono::duration<double>(Clock::now() - start).count();
        ours.push_back(r.tokens / wall);
        oursCpu.push_back(cpu);
        const Timing ref = runReference(tokensFile);
        if (ref.tokensPerS > 0) theirs.push_back(ref.tokensPerS), theirsCpu.push_back(ref.cpuSeconds);
        std::printf("round %d headlight %.1f cpu_s=%.2f reference %.1f cpu_s=%.2f (%lld documents, %lld tokens, "
                    "threads %d)\n",
                    round, ours.back(), cpu, ref.tokensPerS, ref.cpuSeconds, static_cast<long long>(r.documents),
                    static_cast<long long>(r.tokens), configureTorchThreads());
        std::fflush(stdout);
    }
    std::printf("scan_tokens_per_s %.1f\n", median(ours));
    if (theirs.empty()) return 0;
    std::printf("reference_scan_tokens_per_s %.1f\n", median(theirs));
    std::printf("scan_speedup_x %.2f\n", median(ours) / median(theirs));
    std::printf("scan_speedup_cpu_x %.2f\n", median(theirsCpu) / median(oursCpu));
    return 0;
}
