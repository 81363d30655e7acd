// bench/ablation_speed: issue 15's speed goal. Mean ablation and path patching (direct + total effect)
// of every relevant head of a 60-neuron gpt2-mini study (layers 1-3, 20 neurons each, the paper's
// N = 30 / P = 20 on mix_en/heldout) against zero ablation (the paper's experiment, today's cost),
// timed in the same invocation on the same study. The study itself (steps 1-3) is not timed.
// Usage: bench_ablation_speed [MODEL] [CORPUS] [DOCUMENTS]
// Prints "ablation_cost_x <max(mean / zero, path / zero)>" (goal: <= 2); the three times go to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <QDir>

#include "core/analysis/ablation.h"
#include "core/base/versions.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/study/pipeline.h"

using namespace headlight;
using Clock = std::chrono::steady_clock;

namespace {

double timed(const Transformer& model, const Tokenizer& tokenizer, const Study& study, AblationMode mode, std::size_t* records) {
    analysis::AblationOptions o;
    o.mode = mode;
    o.sameLayerHeads = study.parameters.sameLayerHeads;
    const auto start = Clock::now();
    *records = analysis::runAblations(model, tokenizer, study.neurons, o).size();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const QString fixtures = QStringLiteral(HEADLIGHT_FIXTURES_DIR);
    const QString modelDir = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QDir(fixtures).filePath(QStringLiteral("gpt2-mini"));
    const QString corpus = argc > 2 ? QString::fromLocal8Bit(argv[2])
                                    : QDir(fixtures).filePath(QStringLiteral("corpora/mix_en/heldout.jsonl"));
    const int documents = argc > 3 ? std::stoi(argv[3]) : 400;
    configureTorchThreads();
    const Transformer model = Transformer::load(modelDir);
    const Tokenizer tokenizer = Tokenizer::fromFolder(modelDir);
    PipelineOptions o;
    o.corpus = corpus;
    o.parameters.layers = {1, 2, 3};
    o.parameters.topK = 20;
    o.parameters.maxDocuments = documents;
    const Study study = runStudyPipeline(model, tokenizer, o);
    std::size_t relevant = 0, zeroRecords = 0, meanRecords = 0, pathRecords = 0;
    for (const NeuronResult& n : study.neurons) relevant += n.relevantHeads.size();
    const double zero = timed(model, tokenizer, study, AblationMode::Zero, &zeroRecords);
    const double mean = timed(model, tokenizer, study, AblationMode::Mean, &meanRecords);
    const double path = timed(model, tokenizer, study, AblationMode::Path, &pathRecords);
    std::fprintf(stderr, "%zu neurons, %zu relevant (neuron, head) pairs; zero %.2f s (%zu records), mean %.2f s (%zu), "
                 "path %.2f s (%zu, direct + total)\n", study.neurons.size(), relevant, zero, zeroRecords, mean,
                 meanRecords, path, pathRecords);
    std::printf("ablation_cost_x %.2f\n", std::max(mean, path) / zero);
    return 0;
}
