// bench/pipeline_speedup: steps 1-3 end to end as Headlight runs them (the scan's packed passes for all neurons,
// stopped after the last hooked layer; batched rounds of the truncation search; batched
// attribution) against the same engine driven the way the paper's code does it (every pass run to the
// logits, one binary-search step per forward pass, one prompt at a time).
// Usage: bench_pipeline_speedup [MODEL] [CORPUS] [DOCUMENTS]   (default: gpt2-mini on 60 documents of
// corpora/tiny_en, layer 3, 10 neurons). Prints "pipeline_speedup_x <headlight/paper-style ratio>".
#include <chrono>
#include <cstdio>

#include <QDir>
#include <ATen/ATen.h>

#include "core/analysis/activation_scan.h"
#include "core/analysis/corpus.h"
#include "core/analysis/topk.h"
#include "core/analysis/attribution.h"
#include "core/analysis/truncation.h"
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

    // Paper-style: the same steps as the paper's TransformerLens code drives them: one sequence per
    // forward pass, every pass run to the end (logits included, as run_with_cache does), one
    // binary-search step per pass, all positions cached.
    start = Clock::now();
    const int layer = o.parameters.layers.front();
    const std::string post = "blocks." + std::to_string(layer) + ".mlp.hook_post";
    auto fullRun = [&](const std::vector<int>& ids, HookSet hooks) {
        hooks.capture("logits").runToEnd();
        return model.run(std::vector<int64_t>(ids.begin(), ids.end()), hooks);
    };
    analysis::TopKAccumulator top(static_cast<int64_t>(study.neurons.size()), o.parameters.topDocuments);
    analysis::CorpusOptions co;
    co.maxDocuments = documents;
    analysis::CorpusReader reader = analysis::CorpusReader::open(corpus, co);
    analysis::Document doc;
    while (reader.next(doc)) {
        const std::vector<int> ids = analysis::documentTokens(model, tokenizer, doc.text);
        if (ids.size() < 2) continue;
        HookSet hooks;
        hooks.capture(post);
        const at::Tensor acts = fullRun(ids, hooks).at(post)[0];  // [T, m]
        for (std::size_t i = 0; i < study.neurons.size(); ++i) {
            const at::Tensor column = acts.select(1, study.neurons[i].neuron.ref.neuron).slice(0, 1);
            top.offer(int64_t(i), column.max().item<float>(), doc.index, int32_t(column.argmax().item<int64_t>() + 1));
        }
    }
    std::size_t contexts = 0;
    for (const NeuronResult& n : study.neurons)
        for (const NeuronContext& c : n.contexts) {
            // The binary search, one forward pass per step, suffixes without BOS.
            int s0 = 0, s1 = int(c.tokens.size()) - 1, mid = (s0 + s1) / 2;
            while (s0 != mid) {
                HookSet hooks;
                hooks.capture(post);
                const std::vector<int> suffix(c.tokens.begin() + mid, c.tokens.end());
                const float a = fullRun(suffix, hooks).at(post)[0][int64_t(suffix.size()) - 1][n.neuron.ref.neuron].item<float>();
                (a > o.parameters.truncationRatio * c.activation ? s0 : s1) = mid;
                mid = (s0 + s1) / 2;
            }
            // Attribution: the whole cache of the prompt, then the head results at the last position.
            std::vector<int> prompt{*model.bosTokenId()};
            prompt.insert(prompt.end(), c.tokens.begin() + s0, c.tokens.end());
            HookSet hooks;
            for (int l = 0; l < layer; ++l) hooks.capture("blocks." + std::to_string(l) + ".attn.hook_result");
            const ActivationCache cache = fullRun(prompt, hooks);
            const at::Tensor w = model.weight("blocks." + std::to_string(layer) + ".mlp.W_in").select(1, n.neuron.ref.neuron);
            for (int l = 0; l < layer; ++l)
                (void)at::matmul(cache.at("blocks." + std::to_string(l) + ".attn.hook_result")[0][int64_t(prompt.size()) - 1], w);
            ++contexts;
        }
    const double paper = since(start);
    std::fprintf(stderr, "%zu contexts; headlight %.2f s, paper-style %.2f s\n", contexts, ours, paper);
    std::printf("pipeline_speedup_x %.2f\n", paper / ours);
    return 0;
}
