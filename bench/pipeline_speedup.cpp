// bench/pipeline_speedup: steps 1-3 end to end as Headlight runs them (batched scan, batched rounds of
// the truncation search, batched attribution) against the same engine driven the way the paper's code
// does it (one document per forward pass, one binary-search step per forward pass, one prompt at a time).
// Usage: bench_pipeline_speedup [MODEL] [CORPUS] [DOCUMENTS]   (default: gpt2-mini on 60 documents of
// corpora/tiny_en, layer 3, 10 neurons). Prints "pipeline_speedup_x <headlight/paper-style ratio>".
#include <chrono>
#include <cstdio>

#include <QDir>

#include "core/analysis/activation_scan.h"
#include "core/analysis/context_analysis.h"
#include "core/base/versions.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/study/pipeline.h"

using namespace headlight;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
    const QString fixtures = QStringLiteral(HEADLIGHT_FIXTURES_DIR);
    const QString modelDir = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QDir(fixtures).filePath(QStringLiteral("gpt2-mini"));
    const QString corpus = argc > 2 ? QString::fromLocal8Bit(argv[2])
                                    : QDir(fixtures).filePath(QStringLiteral("corpora/tiny_en/test.jsonl"));
    const int documents = argc > 3 ? std::stoi(argv[3]) : 60;
    configureTorchThreads();
    const Transformer model = Transformer::load(modelDir);
    const Tokenizer tokenizer = Tokenizer::fromFolder(modelDir);
    PipelineOptions o;
    o.corpus = corpus;
    o.parameters.layers = {model.config().nLayers - 1};
    o.parameters.topK = 10;
    o.parameters.maxDocuments = documents;

    // Headlight: the pipeline as shipped.
    auto start = Clock::now();
    const Study study = runStudyPipeline(model, tokenizer, o);
    const double ours = since(start);

    // Paper-style: the same steps, one sequence per forward pass.
    start = Clock::now();
    analysis::ScanOptions scan;
    for (const NeuronResult& n : study.neurons) scan.neurons.push_back(n.neuron.ref);
    scan.topDocuments = o.parameters.topDocuments;
    scan.corpus.maxDocuments = documents;
    scan.maxBatchRows = 1;
    const analysis::ScanResult scanned = analysis::runActivationScan(model, tokenizer, corpus, scan);
    std::size_t contexts = 0;
    for (const NeuronResult& n : study.neurons)
        for (const NeuronContext& c : n.contexts) {
            std::vector<int> ids{*model.bosTokenId()};
            ids.insert(ids.end(), c.tokens.begin(), c.tokens.end());
            const analysis::ContextInput input{n.neuron.ref, ids, c.activation};
            // One context per call: each round of the search is its own forward pass.
            const auto cut = analysis::truncateContexts(model, {input}, o.parameters.truncationRatio, 1 << 20);
            std::vector<int> prompt{*model.bosTokenId()};
            prompt.insert(prompt.end(), c.tokens.begin() + (cut[0].start - 1), c.tokens.end());
            analysis::attributeHeads(model, {{n.neuron.ref, prompt, c.activation}}, false);
            ++contexts;
        }
    const double paper = since(start);
    std::fprintf(stderr, "%zu contexts; headlight %.2f s, paper-style %.2f s (scan %lld documents)\n", contexts, ours,
                 paper, static_cast<long long>(scanned.documents));
    std::printf("pipeline_speedup_x %.2f\n", paper / ours);
    return 0;
}
