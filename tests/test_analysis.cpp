// Steps 1-3 on real checkpoints: congruence and head attribution against the TransformerLens goldens,
// the scan (resume after an interruption and sharding give the identical result), and the batched
// truncation against a one-context-at-a-time run of the paper's search.
#include <cmath>
#include <functional>

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <torch/torch.h>

#include "core/analysis/activation_histogram.h"
#include "core/analysis/activation_scan.h"
#include "core/analysis/corpus.h"
#include "core/analysis/congruence.h"
#include "core/analysis/attribution.h"
#include "core/analysis/truncation.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/study/pipeline.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::analysis;

namespace {

template <typename T>
std::vector<T> readAs(const io::TensorView& v) {
    std::vector<T> out(static_cast<std::size_t>(v.numel()));
    std::memcpy(out.data(), v.data, v.nbytes);
    return out;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-4 + 1e-3 * std::abs(b); }

// Head score matrices equal up to float rounding (the look-up captures change how attention is
// blocked, not what it computes), with NaN (not a candidate) in the same places.
bool sameScores(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].size() != b[i].size()) return false;
        for (std::size_t h = 0; h < a[i].size(); ++h) {
            if (std::isnan(a[i][h]) != std::isnan(b[i][h])) return false;
            if (!std::isnan(a[i][h]) && std::abs(a[i][h] - b[i][h]) > 1e-6 + 1e-5 * std::abs(b[i][h])) return false;
        }
    }
    return true;
}

std::vector<TopKEntry> entries(const TopKAccumulator& top) {
    std::vector<TopKEntry> all;
    for (int64_t n = 0; n < top.neurons(); ++n)
        for (const TopKEntry& e : top.sorted(n)) all.push_back(e);
    return all;
}

void compareTop(const TopKAccumulator& a, const TopKAccumulator& b) {
    const auto x = entries(a), y = entries(b);
    QCOMPARE(x.size(), y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        QCOMPARE(x[i].document, y[i].document);
        QCOMPARE(x[i].position, y[i].position);
        QCOMPARE(x[i].value, y[i].value);
    }
}

// The histogram of `values` by the documented edges alone (a binary search, not histogramBin): positive
// values and 0 fall in [lower, upper), negative ones in (lower, upper].
std::vector<int64_t> histogramByEdges(const std::vector<float>& values) {
    const std::vector<double>& edges = histogramEdges();
    std::vector<int64_t> counts(edges.size() - 1, 0);
    for (float v : values) {
        const auto it = v >= 0 ? std::upper_bound(edges.begin(), edges.end(), double(v))
                               : std::lower_bound(edges.begin(), edges.end(), double(v));
        ++counts[std::size_t(it - edges.begin() - 1)];
    }
    return counts;
}

void compareHistograms(const HistogramAccumulator& a, const HistogramAccumulator& b) {
    QCOMPARE(a.counts(), b.counts());
    QCOMPARE(a.nanCounts(), b.nanCounts());
    QCOMPARE(a.minima(), b.minima());
    QCOMPARE(a.maxima(), b.maxima());
}

}  // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;

private Q_SLOTS:
    void congruenceMatchesGoldens_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("gpt2-tiny") << "gpt2-tiny";
        QTest::newRow("pythia-tiny") << "pythia-tiny";
    }
    void congruenceMatchesGoldens() {
        QFETCH(QString, model);
        HL_REQUIRE_FIXTURE(test::fixture(model + QStringLiteral("/golden.safetensors")));
        const Transformer m = Transformer::load(test::fixture(model));
        const auto golden = io::SafetensorsFile::open(test::fixture(model + QStringLiteral("/golden.safetensors")));
        const auto maxs = readAs<float>(golden.at("processed.congruence.max"));
        const auto args = readAs<int64_t>(golden.at("processed.congruence.argmax"));
        const int L = m.config().nLayers, d = m.config().dMlp;
        const auto all = computeCongruence(m, {0, 1, 2});
        QCOMPARE(int(all.size()), L);
        for (int l = 0; l < L; ++l)
            for (int n = 0; n < d; ++n) {
                QVERIFY2(close(all[l].maxValue[n], maxs[l * d + n]), qPrintable(QStringLiteral("L%1N%2").arg(l).arg(n)));
                QCOMPARE(int64_t(all[l].argmaxToken[n]), args[l * d + n]);
            }
        // Reverse view: the best neuron for a neuron's own token is at least as congruent as it.
        const auto best = neuronsForToken(m, all[2].argmaxToken[0], {2}, 3);
        QCOMPARE(best.size(), std::size_t(3));
        QVERIFY(best[0].congruence >= all[2].maxValue[0] - 1e-6f);
        HL_EXPECT_ERROR(computeLayerCongruence(m, 7), "layer 7");
    }

    // Neuron facts: the 10 most promoted and suppressed tokens equal a direct top-k of W_out . W_U, with
    // W_out the golden processed matrix and W_U rebuilt from the checkpoint by TransformerLens' recipe
    // (golden.md section 3; checked against the golden column norms), in double precision.
    void tokenFactsMatchDirectTopK() {
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("gpt2-tiny/golden.safetensors")));
        const Transformer m = Transformer::load(test::fixture(QStringLiteral("gpt2-tiny")));
        const auto golden = io::SafetensorsFile::open(test::fixture(QStringLiteral("gpt2-tiny/golden.safetensors")));
        const auto ckpt = io::SafetensorsFile::open(test::fixture(QStringLiteral("gpt2-tiny/model.safetensors")));
        auto tensor = [](const io::TensorView& v) {
            return torch::from_blob(const_cast<std::byte*>(v.data), v.shape, torch::kFloat).clone().to(torch::kDouble);
        };
        at::Tensor W_U = tensor(ckpt.at("transformer.wte.weight")).t();               // [64, V]
        W_U = W_U * tensor(ckpt.at("transformer.ln_f.weight")).unsqueeze(1);          // fold_ln
        W_U = W_U - W_U.mean(0, true);                                                 // ... centre each column
        W_U = W_U - W_U.mean(1, true);                                                 // center_unembed
        QVERIFY(torch::allclose(W_U.norm(2, 0), tensor(golden.at("processed.W_U.colnorm")), 1e-4, 1e-6));
        const at::Tensor W_out = tensor(golden.at("processed.W_out"));                 // [3, 256, 64]
        const std::vector<NeuronRef> refs{{2, 0}, {2, 17}, {1, 255}, {0, 3}, {2, 200}};
        const std::vector<TokenFacts> facts = computeTokenFacts(m, refs, 10);
        QCOMPARE(facts.size(), refs.size());
        for (std::size_t i = 0; i < refs.size(); ++i) {
            const at::Tensor c = torch::matmul(W_out[refs[i].layer][refs[i].neuron], W_U);  // [V]
            for (const bool top : {true, false}) {
                const auto [values, ids] = torch::topk(c, 10, 0, /*largest=*/top, /*sorted=*/true);
                const std::vector<TokenValue>& got = top ? facts[i].promoted : facts[i].suppressed;
                QCOMPARE(got.size(), std::size_t(10));
                for (int j = 0; j < 10; ++j) {
                    const double want = values[j].item<double>();
                    QVERIFY2(std::abs(got[j].value - want) <= 1e-5 + 1e-4 * std::abs(want),
                             qPrintable(QStringLiteral("%1 %2 %3").arg(QString::fromStdString(neuronName(refs[i]))).arg(j).arg(got[j].value)));
                    // Same token, unless two values are within float rounding of each other.
                    if (got[j].token != ids[j].item<int64_t>())
                        QVERIFY(std::abs(c[got[j].token].item<double>() - want) <= 1e-6);
                }
            }
            // The first promoted token is the congruence argmax of step 1.
            QCOMPARE(facts[i].promoted[0].token, computeLayerCongruence(m, refs[i].layer).argmaxToken[std::size_t(refs[i].neuron)]);
        }
        HL_EXPECT_ERROR(computeTokenFacts(m, {{2, 256}}), "L2N256", "d_mlp");
    }

    void congruenceGpt2Mini() {
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("gpt2-mini/golden.safetensors")));
        const Transformer m = Transformer::load(test::fixture(QStringLiteral("gpt2-mini")));
        const auto golden = io::SafetensorsFile::open(test::fixture(QStringLiteral("gpt2-mini/golden.safetensors")));
        for (int l = 0; l < 4; ++l) {
            const auto c = computeLayerCongruence(m, l);
            const auto maxs = readAs<float>(golden.at("processed.congruence." + std::to_string(l) + ".max"));
            const auto args = readAs<int64_t>(golden.at("processed.congruence." + std::to_string(l) + ".argmax"));
            for (std::size_t n = 0; n < maxs.size(); ++n) {
                QVERIFY(close(c.maxValue[n], maxs[n]));
                QCOMPARE(int64_t(c.argmaxToken[n]), args[n]);
            }
        }
    }

    void headAttributionMatchesGoldens_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("gpt2-tiny") << "gpt2-tiny";
        QTest::newRow("pythia-tiny") << "pythia-tiny";
    }
    void headAttributionMatchesGoldens() {
        QFETCH(QString, model);
        const Transformer m = Transformer::load(test::fixture(model));
        const auto golden = io::SafetensorsFile::open(test::fixture(model + QStringLiteral("/golden.safetensors")));
        const auto neurons = readAs<int64_t>(golden.at("attrib.L2.neurons"));
        const int H = m.config().nHeads;
        for (const char* p : {"p0", "p1", "p2"}) {
            std::vector<int> ids;
            ids.push_back(*m.bosTokenId());
            for (int64_t id : readAs<int64_t>(golden.at(std::string("prompt.") + p + ".input_ids"))) ids.push_back(int(id));
            std::vector<ContextInput> prompts;
            for (int64_t n : neurons) prompts.push_back({{2, int(n)}, ids, 0.f});
            const auto scores = attributeHeads(m, prompts, false);
            const auto all = attributeHeads(m, prompts, true);
            const auto want = readAs<float>(golden.at(std::string("attrib.") + p + ".L2.scores"));
            const auto wantAll = readAs<float>(golden.at(std::string("attrib.") + p + ".L2.scores_all_heads"));
            for (std::size_t i = 0; i < neurons.size(); ++i) {
                for (int h = 0; h < 2 * H; ++h) {
                    QVERIFY2(close(scores[i][h], want[i * 2 * H + h]), p);
                    QVERIFY2(close(all[i][h], wantAll[i * 3 * H + h]), p);
                }
                for (int h = 2 * H; h < 3 * H; ++h) {
                    QVERIFY(std::isnan(scores[i][h]));  // layer 2 is not a candidate by default
                    QVERIFY2(close(all[i][h], wantAll[i * 3 * H + h]), p);
                }
            }
        }
        QCOMPARE(candidateHeads(2, 4, false), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(candidateHeads(1, 2, true), (std::vector<int>{0, 1, 2, 3}));
    }

    // Issue 13: the look-up decomposition. Each head's contributions add up to its attribution score
    // (|sum - score| <= 1e-5 of the sum of |contributions|), and its attention row is TransformerLens'
    // hook_pattern at the last position (1e-5).
    void lookupsDecomposeHeadScores_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("ids");       // golden tensor of the prompt ids, BOS first
        QTest::addColumn<QString>("pattern");   // golden hook_pattern name, with %1 for the layer
        QTest::newRow("gpt2-tiny") << "gpt2-tiny" << "prompt.p2.tokens" << "processed.p2.blocks.%1.attn.hook_pattern";
        QTest::newRow("pythia-tiny") << "pythia-tiny" << "prompt.p2.tokens" << "processed.p2.blocks.%1.attn.hook_pattern";
        QTest::newRow("gpt2-mini") << "gpt2-mini" << "p2.ids" << "processed.p2.blocks.%1.attn.hook_pattern";
        QTest::newRow("stories260k") << "stories260k" << "p2.ids" << "p2.blocks.%1.attn.hook_pattern";
    }
    void lookupsDecomposeHeadScores() {
        QFETCH(QString, model);
        QFETCH(QString, ids);
        QFETCH(QString, pattern);
        HL_REQUIRE_FIXTURE(test::fixture(model + QStringLiteral("/golden.safetensors")));
        const Transformer m = Transformer::load(test::fixture(model));
        const auto golden = io::SafetensorsFile::open(test::fixture(model + QStringLiteral("/golden.safetensors")));
        const io::TensorView& idView = golden.at(ids.toStdString());
        std::vector<int> prompt;
        if (idView.dtype == io::DType::I64)
            for (int64_t id : readAs<int64_t>(idView)) prompt.push_back(int(id));
        else
            prompt = readAs<int>(idView);
        const int L = m.config().nLayers, H = m.config().nHeads, T = int(prompt.size());
        std::vector<ContextInput> prompts;
        for (int n = 0; n < 5; ++n) prompts.push_back({{L - 1, n * 7}, prompt, 0.f});
        const LookupSelector everyCandidate = [](std::size_t, const std::vector<float>& scores) {
            std::vector<int> heads;
            for (std::size_t h = 0; h < scores.size(); ++h)
                if (!std::isnan(scores[h])) heads.push_back(int(h));
            return heads;
        };
        const HeadAttribution a = attributeHeadsWithLookups(m, prompts, false, everyCandidate);
        QVERIFY(sameScores(a.scores, attributeHeads(m, prompts, false)));  // the look-ups change no score
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            QCOMPARE(int(a.lookups[i].size()), (L - 1) * H);
            for (const HeadLookup& look : a.lookups[i]) {
                QCOMPARE(look.score, a.scores[i][look.head]);
                QCOMPARE(int(look.attention.size()), T);
                double sum = 0, magnitude = 0;
                for (float c : look.contributions) {
                    sum += c;
                    magnitude += std::abs(c);
                }
                QVERIFY2(std::abs(sum - look.score) <= 1e-5 * magnitude + 1e-7,
                         qPrintable(QStringLiteral("head %1: sum %2 vs score %3").arg(look.head).arg(sum).arg(look.score)));
                const int layer = look.head / H, head = look.head % H;
                const auto want = readAs<float>(golden.at(pattern.arg(layer).toStdString()));  // [H, T, T]
                for (int j = 0; j < T; ++j)
                    QVERIFY2(std::abs(look.attention[j] - want[(std::size_t(head) * T + (T - 1)) * T + j]) <= 1e-5,
                             qPrintable(QStringLiteral("L%1H%2 key %3").arg(layer).arg(head).arg(j)));
            }
        }
        // A selector naming a non-candidate head gets no look-up for it.
        const HeadAttribution none = attributeHeadsWithLookups(
            m, prompts, false, [&](std::size_t, const std::vector<float>&) { return std::vector<int>{(L - 1) * H}; });
        for (const auto& looks : none.lookups) QVERIFY(looks.empty());
    }

    // Issue 13: gate-aware attribution. A planted head writes only to a residual direction that the
    // neuron's gate reads and its up projection does not: the paper's (up-only) score misses it, the
    // gate-aware score finds it and equals the first-order change of the neuron's activation computed
    // independently here with autograd (norm scale frozen).
    void gateAwareAttributionFindsAGateOnlyHead() {
        const QString modelDir = test::fixture(QStringLiteral("stories260k"));
        HL_REQUIRE_FIXTURE(modelDir + QStringLiteral("/config.json"));
        ModelConfig c = ModelConfig::fromFile(modelDir + QStringLiteral("/config.json"));
        c.nLayers = 2;
        QCOMPARE(c.mlp, MlpKind::Gated);
        StateDict w = randomWeights(c, 5, 0.2);
        {
            torch::NoGradGuard guard;
            const int dh = c.dHead, planted = 7;
            w["blocks.0.attn.W_O"][0].zero_();
            w["blocks.0.attn.W_O"][0].select(1, planted).copy_(torch::randn({dh}) * 2.0);  // L0H0 writes dim 7 only
            w["blocks.1.mlp.W_in"][planted][0] = 0.f;                                       // up does not read it
            w["blocks.1.mlp.W_gate"][planted][0] = 3.f;                                     // the gate does
        }
        const Transformer m = Transformer::fromWeights(c, w, {}, "planted-gate");
        const std::vector<int> prompt = {1, 30, 61, 99, 200, 17, 42, 311, 5, 77};
        const std::vector<ContextInput> prompts = {{{1, 0}, prompt, 0.f}};
        const LookupSelector headZero = [](std::size_t, const std::vector<float>&) { return std::vector<int>{0}; };
        const HeadAttribution up = attributeHeadsWithLookups(m, prompts, false, headZero, 8192, AttributionScore::UpProjection);
        const HeadAttribution gate = attributeHeadsWithLookups(m, prompts, false, headZero, 8192, AttributionScore::GateAware);
        QCOMPARE(up.scores[0][0], 0.f);                  // invisible to the paper's score
        QVERIFY2(std::abs(gate.scores[0][0]) > 1e-3f, qPrintable(QString::number(gate.scores[0][0])));

        // The same quantity by autograd: d post / d x . r at the last position, x the MLP input.
        HookSet hooks;
        hooks.capture(std::vector<std::string>{"blocks.1.hook_resid_mid", "blocks.1.ln2.hook_scale", "blocks.0.attn.hook_result",
                                               "blocks.1.mlp.hook_post"});
        const ActivationCache cache = m.run(TokenBatch::single(prompt), hooks);
        const int64_t last = int64_t(prompt.size()) - 1;
        const at::Tensor x = cache.at("blocks.1.hook_resid_mid")[0][last].clone().to(at::kDouble).set_requires_grad(true);
        const at::Tensor scale = cache.at("blocks.1.ln2.hook_scale")[0][last][0].clone().to(at::kDouble);
        const at::Tensor r = cache.at("blocks.0.attn.hook_result")[0][last][0].clone().to(at::kDouble);
        const at::Tensor W_gate = m.weight("blocks.1.mlp.W_gate").select(1, 0).clone().to(at::kDouble);
        const at::Tensor W_in = m.weight("blocks.1.mlp.W_in").select(1, 0).clone().to(at::kDouble);
        const at::Tensor xn = x / scale;
        const at::Tensor post = at::silu(at::dot(xn, W_gate)) * at::dot(xn, W_in);
        QVERIFY(std::abs(post.item<double>() - cache.at("blocks.1.mlp.hook_post")[0][last][0].item<double>()) < 1e-4);
        post.backward();
        const double expected = at::dot(x.grad(), r).item<double>();
        QVERIFY2(std::abs(gate.scores[0][0] - expected) <= 1e-4 * std::abs(expected),
                 qPrintable(QStringLiteral("%1 vs %2").arg(gate.scores[0][0]).arg(expected)));
        // Its look-up decomposes the gate-aware score.
        QCOMPARE(gate.lookups[0].size(), std::size_t(1));
        double sum = 0;
        for (float v : gate.lookups[0][0].contributions) sum += v;
        QVERIFY(std::abs(sum - gate.scores[0][0]) <= 1e-5 * std::abs(gate.scores[0][0]));

        // On a non-gated MLP the gate-aware score is the paper's.
        const Transformer gpt2 = Transformer::load(test::fixture(QStringLiteral("gpt2-tiny")));
        const std::vector<ContextInput> p2 = {{{2, 3}, {50256, 40, 19952, 510, 262, 25286}, 0.f}};
        QVERIFY(sameScores(attributeHeadsWithLookups(gpt2, p2, false, {}, 8192, AttributionScore::GateAware).scores,
                           attributeHeads(gpt2, p2, false)));
        QCOMPARE(parseAttributionScore("gate-aware"), AttributionScore::GateAware);
        QCOMPARE(std::string(attributionScoreName(AttributionScore::UpProjection)), std::string("up_projection"));
        HL_EXPECT_ERROR(parseAttributionScore("gate"), "attribution score 'gate'", "gate_aware");
    }

    void batchedScanEqualsOnePassPerDocument() {
        // gpt2-mini cuts documents at n_ctx = 128 tokens: eight documents share a packed pass.
        const QString model = test::fixture(QStringLiteral("gpt2-mini"));
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(corpus);
        const Transformer m = Transformer::load(model);
        const Tokenizer tok = Tokenizer::fromFolder(model);
        ScanOptions o;
        for (int n = 0; n < 512; n += 37) o.neurons.push_back({3, n});
        for (int n = 5; n < 512; n += 101) o.neurons.push_back({1, n});
        o.topDocuments = 6;
        o.corpus.maxDocuments = 30;
        const ScanResult batched = runActivationScan(m, tok, corpus, o);
        QCOMPARE(batched.documents, int64_t(30));

        // The same scan, one document per forward pass (how the scan ran before the batching plan).
        TopKAccumulator single(static_cast<int64_t>(o.neurons.size()), o.topDocuments);
        std::vector<std::pair<int64_t, int64_t>> lengths;
        CorpusReader reader = CorpusReader::open(corpus, o.corpus);
        Document d;
        while (reader.next(d)) {
            const std::vector<int> ids = documentTokens(m, tok, d.text);
            lengths.push_back({d.index, int64_t(ids.size())});
            HookSet hooks;
            hooks.capture(std::vector<std::string>{"blocks.1.mlp.hook_post", "blocks.3.mlp.hook_post"});
            const ActivationCache cache = m.run(TokenBatch::single(ids), hooks);
            for (std::size_t i = 0; i < o.neurons.size(); ++i) {
                const at::Tensor column = cache.at("blocks." + std::to_string(o.neurons[i].layer) + ".mlp.hook_post")[0]
                                              .select(1, o.neurons[i].neuron).slice(0, 1);
                single.offer(int64_t(i), column.max().item<float>(), d.index, int32_t(column.argmax().item<int64_t>() + 1));
            }
        }
        int bitwise = 0, entries = 0;
        for (int64_t n = 0; n < single.neurons(); ++n) {
            const std::vector<TopKEntry> a = batched.top.sorted(n), b = single.sorted(n);
            QCOMPARE(a.size(), b.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                QCOMPARE(a[i].document, b[i].document);
                QCOMPARE(a[i].position, b[i].position);
                QVERIFY2(std::abs(a[i].value - b[i].value) <= 1e-5f * std::max(1.f, std::abs(b[i].value)),
                         qPrintable(QStringLiteral("%1 vs %2").arg(a[i].value).arg(b[i].value)));
                bitwise += a[i].value == b[i].value;
                ++entries;
            }
        }
        qInfo("batched vs one pass per document: %d of %d kept values bit for bit equal", bitwise, entries);

        // The plan depends only on global indices: 8 documents of at most 128 tokens per pass, groups of
        // 8 consecutive indices; a shard's plan is the full plan's passes of its groups; a cut corpus
        // (maxDocuments) cuts the passes, never regroups them.
        const std::vector<std::vector<int64_t>> plan = scanPlan(lengths);
        QCOMPARE(plan.size(), std::size_t(4));
        QCOMPARE(plan[0], (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(plan[3], (std::vector<int64_t>{24, 25, 26, 27, 28, 29}));
        std::vector<std::pair<int64_t, int64_t>> shard1, prefix;
        for (const auto& l : lengths) {
            if ((l.first / 8) % 3 == 1) shard1.push_back(l);
            if (l.first < 20) prefix.push_back(l);
        }
        QCOMPARE(scanPlan(shard1), (std::vector<std::vector<int64_t>>{plan[1]}));
        QCOMPARE(scanPlan(prefix), (std::vector<std::vector<int64_t>>{plan[0], plan[1], {16, 17, 18, 19}}));
        QCOMPARE(scanPlan({{3, 600}, {4, 500}, {5, 1024}, {6, 1}, {8, 2}}),
                 (std::vector<std::vector<int64_t>>{{3}, {4}, {5}, {6}, {8}}));
        QCOMPARE(scanPlan({{0, 500}, {1, 524}, {2, 1}}), (std::vector<std::vector<int64_t>>{{0, 1}, {2}}));

        // A shard reads whole blocks of shardBlock consecutive indices, dealt round-robin.
        CorpusOptions blocks = o.corpus;
        blocks.shardBlock = 8;
        blocks.shardCount = 2;
        blocks.shardIndex = 1;
        std::vector<int64_t> read;
        CorpusReader shardReader = CorpusReader::open(corpus, blocks);
        while (shardReader.next(d)) read.push_back(d.index);
        QCOMPARE(read, (std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29}));
        blocks.shardBlock = 0;
        HL_EXPECT_ERROR(CorpusReader::open(corpus, blocks), "corpus option shard block: must be at least 1, got 0");

        // Shards (whole groups) merged equal the single run bit for bit.
        ScanResult merged;
        for (int i = 0; i < 3; ++i) {
            ScanOptions s = o;
            s.corpus.shardCount = 3;
            s.corpus.shardIndex = i;
            ScanResult r = runActivationScan(m, tok, corpus, s);
            if (i == 0) merged = std::move(r);
            else merged.top.merge(r.top), merged.documents += r.documents;
        }
        compareTop(merged.top, batched.top);
        QCOMPARE(merged.documents, batched.documents);
    }

    void scanResumesAndShardsExactly() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(corpus);
        const Transformer m = Transformer::load(model);
        const Tokenizer tok = Tokenizer::fromFolder(model);
        ScanOptions o;
        for (int n = 0; n < 40; n += 3) o.neurons.push_back({4, n});
        o.neurons.push_back({2, 7});
        o.topDocuments = 5;
        o.corpus.maxDocuments = 24;
        const ScanResult full = runActivationScan(m, tok, corpus, o);
        QCOMPARE(full.documents, int64_t(24));
        // The histogram sketch of the same pass equals a histogram of every activation (positions after
        // BOS) over the corpus, each document run again on its own.
        {
            std::vector<std::vector<float>> values(o.neurons.size());
            CorpusOptions co;
            co.maxDocuments = 24;
            CorpusReader reader = CorpusReader::open(corpus, co);
            Document doc;
            while (reader.next(doc)) {
                const std::vector<int> ids = documentTokens(m, tok, doc.text);
                if (ids.size() < 2) continue;
                HookSet hooks;
                hooks.capture("blocks.4.mlp.hook_post").capture("blocks.2.mlp.hook_post");
                const ActivationCache cache = m.run(TokenBatch::single(ids), hooks);
                for (std::size_t i = 0; i < o.neurons.size(); ++i) {
                    const at::Tensor post = cache.at("blocks." + std::to_string(o.neurons[i].layer) + ".mlp.hook_post");
                    for (std::size_t t = 1; t < ids.size(); ++t) values[i].push_back(post[0][int64_t(t)][o.neurons[i].neuron].item<float>());
                }
            }
            int64_t seen = 0;
            for (std::size_t i = 0; i < o.neurons.size(); ++i) {
                const ActivationHistogram h = full.histogram.of(int64_t(i));
                // The scan packs documents (same values within float rounding, not bit for bit), so a value
                // within 1e-5 relative of a bin edge may land in the neighbouring bin: the counts may differ
                // by at most those values, the total not at all.
                const std::vector<int64_t> want = histogramByEdges(values[i]);
                int64_t nearEdge = 0, moved = 0, total = 0, wantTotal = 0;
                for (float v : values[i])
                    if (histogramBin(v * (1 + 1e-5f)) != histogramBin(v * (1 - 1e-5f))) ++nearEdge;
                for (std::size_t b = 0; b < want.size(); ++b) {
                    moved += std::abs(h.counts[b] - want[b]);
                    total += h.counts[b];
                    wantTotal += want[b];
                }
                QCOMPARE(total, wantTotal);
                QVERIFY2(moved <= 2 * nearEdge, qPrintable(QStringLiteral("%1 moved, %2 near an edge").arg(moved).arg(nearEdge)));
                QCOMPARE(h.min, *std::min_element(values[i].begin(), values[i].end()));
                QCOMPARE(h.max, *std::max_element(values[i].begin(), values[i].end()));
                QCOMPARE(h.max, full.top.sorted(int64_t(i)).front().value);  // the top document's maximum
                seen += h.total();
            }
            QCOMPARE(seen, (full.tokens - full.documents) * int64_t(o.neurons.size()));  // every token but BOS
        }
        QVERIFY(full.tokens > 1000);
        QCOMPARE(full.top.count(0), 5);
        // The best entry is a real maximum: rerun its document and check.
        const TopKEntry best = full.top.sorted(0).front();
        QVERIFY(best.position >= 1);

        // Interrupted after the first checkpoint, then resumed: identical.
        ScanOptions c = o;
        c.checkpointPath = tmp_.filePath(QStringLiteral("scan.ckpt"));
        c.checkpointEveryDocuments = 1;
        CancellationToken token;
        int reports = 0;
        const Progress cancelSoon([&](int64_t, int64_t, const std::string&) {
            if (++reports == 2) token.cancel();
        }, &token);
        bool cancelled = false;
        try {
            runActivationScan(m, tok, corpus, c, cancelSoon);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QVERIFY(QFileInfo::exists(c.checkpointPath));
        const ScanResult resumed = runActivationScan(m, tok, corpus, c);
        QVERIFY(resumed.resumed);
        QCOMPARE(resumed.documents, full.documents);
        QCOMPARE(resumed.tokens, full.tokens);
        compareTop(resumed.top, full.top);
        compareHistograms(resumed.histogram, full.histogram);  // the checkpoint carries the histogram

        // A checkpoint of another scan is refused.
        ScanOptions other = c;
        other.topDocuments = 6;
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, other), "another scan");

        // Two shards merged equal the single run.
        ScanOptions s0 = o, s1 = o;
        s0.corpus.shardCount = s1.corpus.shardCount = 2;
        s1.corpus.shardIndex = 1;
        ScanResult a = runActivationScan(m, tok, corpus, s0);
        const ScanResult b = runActivationScan(m, tok, corpus, s1);
        a.top.merge(b.top);
        compareTop(a.top, full.top);
        a.histogram.merge(b.histogram);
        compareHistograms(a.histogram, full.histogram);
        QCOMPARE(a.documents + b.documents, full.documents);

        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, ScanOptions{}), "no neurons");
        ScanOptions bad = o;
        bad.neurons = {{9, 0}};
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, bad), "L9N0");
    }

    void damagedCheckpointIsRefused() {
        // A checkpoint is validated like a bundle: a tensor of a wider dtype used to overflow a heap
        // buffer, and positions outside the context were read 8 GB out of bounds later.
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(corpus);
        const Transformer m = Transformer::load(model);
        const Tokenizer tok = Tokenizer::fromFolder(model);
        ScanOptions o;
        o.neurons = {{4, 1}, {4, 2}};
        o.topDocuments = 3;
        o.corpus.maxDocuments = 6;
        o.checkpointPath = tmp_.filePath(QStringLiteral("damaged.ckpt"));
        runActivationScan(m, tok, corpus, o);  // leaves the final checkpoint
        const QByteArray good = [&] {
            QFile f(o.checkpointPath);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
        }();
        QVERIFY(!good.isEmpty());
        auto damage = [&](const std::function<void(const io::SafetensorsFile&, io::SafetensorsWriter&)>& change) {
            QFile f(o.checkpointPath);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(good);
            f.close();
            const io::SafetensorsFile st = io::SafetensorsFile::open(o.checkpointPath);
            io::SafetensorsWriter w;
            for (const auto& t : st.tensors()) w.addCopy(t.name, t.dtype, t.shape, t.data, t.nbytes);
            for (const auto& [k, v] : st.metadata()) w.setMetadata(k, v);
            change(st, w);
            w.write(o.checkpointPath);
        };
        damage([](const io::SafetensorsFile&, io::SafetensorsWriter& w) {
            w.add("positions", io::DType::I64, {2, 3}, std::vector<int64_t>(6, 1));
        });
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, o), "damaged.ckpt", "tensor 'positions' is I64 [2, 3], expected I32 [2, 3]");
        damage([](const io::SafetensorsFile&, io::SafetensorsWriter& w) {
            w.add("values", io::DType::F32, {2, 4}, std::vector<float>(8, 1.f));
        });
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, o), "tensor 'values'", "expected F32 [2, 3]");
        damage([](const io::SafetensorsFile& st, io::SafetensorsWriter& w) {
            std::vector<int32_t> positions = readAs<int32_t>(st.at("positions"));
            positions[0] = 1 << 30;
            w.add("positions", io::DType::I32, {2, 3}, positions);
        });
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, o), "damaged.ckpt", "position 1073741824", "outside the model's context");
        damage([](const io::SafetensorsFile&, io::SafetensorsWriter& w) {
            w.setMetadata("headlight.scan_checkpoint", "{\"identity\": 1");
        });
        HL_EXPECT_ERROR(runActivationScan(m, tok, corpus, o), "damaged.ckpt", "not valid JSON");
        damage([](const io::SafetensorsFile&, io::SafetensorsWriter&) {});  // intact again: resumes
        QVERIFY(runActivationScan(m, tok, corpus, o).resumed);
    }

    void checkpointPositionPastTheDocumentIsRefused() {
        // A position inside n_ctx but past its document's end (a damaged checkpoint of the same scan)
        // used to read out of bounds in the pipeline (analyzeNeurons); now it is a clear error.
        const QString model = test::fixture(QStringLiteral("stories260k"));
        HL_REQUIRE_FIXTURE(model);
        const Transformer m = Transformer::load(model);
        const Tokenizer tok = Tokenizer::fromFolder(model);
        const QString corpus = tmp_.filePath(QStringLiteral("short.jsonl"));  // documents far shorter than n_ctx
        {
            QFile f(corpus);
            QVERIFY(f.open(QIODevice::WriteOnly));
            for (const char* text : {"Once upon a time there was a cat.", "The dog ran to the park to play.",
                                     "Lily saw a big tree and she liked it.", "Tom had a red ball and a blue hat.",
                                     "The sun was hot and the kids swam.", "Mom made a sweet cake for them.",
                                     "A bird sang in the tall green tree.", "They were happy and went home."})
                f.write("{\"text\": \"" + QByteArray(text) + "\"}\n");
        }
        PipelineOptions o;
        o.corpus = corpus;
        o.parameters.layers = {4};
        o.parameters.topK = 2;
        o.parameters.topDocuments = 3;
        o.parameters.maxDocuments = 8;
        o.checkpointPath = tmp_.filePath(QStringLiteral("pipeline.ckpt"));
        runStudyPipeline(m, tok, o);
        QVERIFY(QFileInfo::exists(o.checkpointPath));
        // Token counts of the documents as the scan ran them.
        std::vector<int64_t> lengths;
        CorpusOptions co;
        co.maxDocuments = 8;
        CorpusReader reader = CorpusReader::open(corpus, co);
        Document doc;
        while (reader.next(doc)) lengths.push_back(static_cast<int64_t>(documentTokens(m, tok, doc.text).size()));
        const io::SafetensorsFile st = io::SafetensorsFile::open(o.checkpointPath);
        std::vector<int32_t> positions = readAs<int32_t>(st.at("positions"));
        const std::vector<int64_t> documents = readAs<int64_t>(st.at("documents"));
        std::size_t slot = positions.size();
        for (std::size_t i = 0; i < positions.size(); ++i)
            if (documents[i] >= 0 && lengths.at(static_cast<std::size_t>(documents[i])) < m.config().nCtx) slot = i;
        QVERIFY(slot < positions.size());
        positions[slot] = static_cast<int32_t>(lengths[static_cast<std::size_t>(documents[slot])]);  // one past the end
        io::SafetensorsWriter w;
        for (const auto& t : st.tensors()) w.addCopy(t.name, t.dtype, t.shape, t.data, t.nbytes);
        for (const auto& [k, v] : st.metadata()) w.setMetadata(k, v);
        w.add("positions", io::DType::I32, st.at("positions").shape, positions);
        w.write(o.checkpointPath);
        HL_EXPECT_ERROR(runStudyPipeline(m, tok, o), "has no token at position " + QString::number(positions[slot]));
    }

    void batchedTruncationEqualsOneByOne() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const Transformer m = Transformer::load(model);
        const Tokenizer tok = Tokenizer::fromFolder(model);
        const std::vector<std::string> texts = {
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
            "Tom had a red ball. He was happy and he played with his dog all day long in the sun.",
            "The cat sat on the mat."};
        std::vector<ContextInput> contexts;
        for (const std::string& t : texts)
            for (int neuron : {3, 50, 100}) {
                std::vector<int> ids = documentTokens(m, tok, t);
                // Cut at the max of this neuron, as the scan would.
                HookSet hooks;
                hooks.capture("blocks.4.mlp.hook_post");
                const at::Tensor acts = m.run(std::vector<int64_t>(ids.begin(), ids.end()), hooks)
                                            .at("blocks.4.mlp.hook_post")[0]
                                            .select(1, neuron)
                                            .slice(0, 1);
                const int pos = int(acts.argmax().item<int64_t>()) + 1;
                ids.resize(pos + 1);
                contexts.push_back({{4, neuron}, ids, acts.max().item<float>()});
            }
        const auto batched = truncateContexts(m, contexts, 0.8, 256);
        auto lastAct = [&](const ContextInput& c, int from) {
            std::vector<int64_t> ids(c.tokens.begin() + 1 + from, c.tokens.end());
            HookSet hooks;
            hooks.capture("blocks.4.mlp.hook_post").atLastTokens();
            return m.run(ids, hooks).at("blocks.4.mlp.hook_post")[0][c.neuron.neuron].item<float>();
        };
        for (std::size_t i = 0; i < contexts.size(); ++i) {
            const ContextInput& c = contexts[i];
            int start = 0, end = int(c.tokens.size()) - 2, mid = (start + end) / 2;
            while (start != mid) {
                if (lastAct(c, mid) > 0.8 * c.maxActivation)
                    start = mid;
                else
                    end = mid;
                mid = (start + end) / 2;
            }
            QCOMPARE(batched[i].start, start + 1);
            QVERIFY(std::abs(batched[i].truncatedActivation - lastAct(c, start)) < 1e-5);
        }
        // Token activations: the value at the max position is the scan's maximum.
        const auto acts = tokenActivations(m, contexts);
        for (std::size_t i = 0; i < contexts.size(); ++i) {
            QCOMPARE(acts[i].size(), contexts[i].tokens.size() - 1);
            QVERIFY(std::abs(acts[i].back() - contexts[i].maxActivation) < 1e-5);
        }
    }
};

QTEST_GUILESS_MAIN(TestAnalysis)
#include "test_analysis.moc"
