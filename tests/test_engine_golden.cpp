// The model engine against reference data: every tensor of every fixture's golden.safetensors
// (TransformerLens v1.14 for gpt2-tiny, pythia-tiny and gpt2-mini, raw and processed; llama2.c's run.c
// for stories260k) is mapped to a hook, a weight or a derived quantity and compared. A golden tensor
// that no rule handles fails the test, so nothing in the files goes unchecked.
#include <ATen/ATen.h>
#include <QtTest>

#include <functional>
#include <set>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "tests/golden_check.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::test;

namespace {

Transformer loadModel(const QString& dir, bool processed) {
    LoadOptions o;
    o.processing = processed ? WeightProcessing::transformerLensDefaults() : WeightProcessing::none();
    return Transformer::load(dir, o);
}

// Runs every prompt of a TransformerLens golden file (both variants) and checks every tensor.
void checkTransformerLensGolden(const QString& fixtureName) {
    const QString dir = test::fixture(fixtureName);
    HL_REQUIRE_FIXTURE(dir + "/golden.safetensors");
    const io::SafetensorsFile golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
    Checker check{fixtureName.toStdString()};
    const double atol = 1e-4, rtol = 1e-3;

    // Prompt tokens (BOS first): prompt.pN.tokens (tiny fixtures) or pN.ids (gpt2-mini).
    std::map<std::string, std::vector<int64_t>> prompts;
    std::set<std::string> handled;
    for (const io::TensorView& t : golden.tensors()) {
        if (startsWith(t.name, "prompt.") && t.name.size() > 7) {
            const std::string rest = t.name.substr(7);
            const std::string p = rest.substr(0, rest.find('.'));
            handled.insert(t.name);
            if (rest == p + ".tokens") prompts[p] = toIds(goldenTensor(t));
        } else if (t.name.size() > 4 && t.name[0] == 'p' && t.name.find(".ids") == t.name.find('.')) {
            prompts[t.name.substr(0, t.name.find('.'))] = toIds(goldenTensor(t));
            handled.insert(t.name);
        }
    }
    QVERIFY(!prompts.empty());

    for (const bool processed : {false, true}) {
        const std::string variant = processed ? "processed" : "raw";
        const Transformer model = loadModel(dir, processed);
        const ModelConfig& c = model.config();
        // Activations: {variant}.{pN}.{hook}; one run per prompt capturing every hook the file has.
        std::map<std::string, ActivationCache> caches;
        for (const auto& [p, ids] : prompts) {
            HookSet hooks;
            for (int l = 0; l < c.nLayers; ++l) {
                hooks.capture("blocks." + std::to_string(l) + ".attn.hook_result");
                hooks.capture("blocks." + std::to_string(l) + ".mlp.hook_post");
            }
            const std::string prefix = variant + "." + p + ".";
            for (const io::TensorView& t : golden.tensors()) {
                if (!startsWith(t.name, prefix)) continue;
                const std::string hook = t.name.substr(prefix.size());
                hooks.capture(startsWith(hook, "logits.") ? std::string("logits") : hook);
            }
            caches[p] = model.run(ids, hooks);
            for (const io::TensorView& t : golden.tensors()) {
                if (!startsWith(t.name, prefix)) continue;
                handled.insert(t.name);
                const std::string hook = t.name.substr(prefix.size());
                const at::Tensor want = goldenTensor(t);
                if (startsWith(hook, "logits.")) {
                    const at::Tensor logits = caches[p].at("logits")[0];  // [T, V]
                    if (hook == "logits.first512") check.close(t.name, logits.narrow(1, 0, 512), want, atol, rtol);
                    else if (hook == "logits.argmax") check.exact(t.name, logits.argmax(-1), want);
                    else if (hook == "logits.logsumexp") check.close(t.name, logits.logsumexp(-1), want, atol, rtol);
                    else check.fail(t.name, "unknown logits summary");
                } else {
                    check.close(t.name, caches[p].at(hook)[0], want, atol, rtol);
                }
            }
        }
        // Weights: {variant}.weights.{TL name}.
        const std::string wprefix = variant + ".weights.";
        for (const io::TensorView& t : golden.tensors()) {
            if (!startsWith(t.name, wprefix)) continue;
            handled.insert(t.name);
            check.close(t.name, model.weight(t.name.substr(wprefix.size())), goldenTensor(t), atol, rtol);
        }
        if (!processed) continue;

        // Processed matrices and the quantities derived from them (congruence, W_U columns).
        const at::Tensor W_U = model.weight("unembed.W_U");  // [d, V]
        std::vector<at::Tensor> congruence;                  // per layer [m, V]
        for (int l = 0; l < c.nLayers; ++l)
            congruence.push_back(at::matmul(model.weight("blocks." + std::to_string(l) + ".mlp.W_out"), W_U));
        auto layerOf = [](const std::string& s) { return std::stoi(s); };
        for (const io::TensorView& t : golden.tensors()) {
            const std::string& n = t.name;
            const at::Tensor want = goldenTensor(t);
            auto stacked = [&](const char* w) {
                std::vector<at::Tensor> parts;
                for (int l = 0; l < c.nLayers; ++l) parts.push_back(model.weight("blocks." + std::to_string(l) + ".mlp." + w));
                return at::stack(parts);
            };
            bool ok = true;
            if (n == "processed.W_in") check.close(n, stacked("W_in"), want, atol, rtol);
            else if (n == "processed.W_out") check.close(n, stacked("W_out"), want, atol, rtol);
            else if (startsWith(n, "processed.W_in.")) check.close(n, model.weight("blocks." + n.substr(15) + ".mlp.W_in"), want, atol, rtol);
            else if (startsWith(n, "processed.W_out.")) check.close(n, model.weight("blocks." + n.substr(16) + ".mlp.W_out"), want, atol, rtol);
            else if (n == "processed.W_U.colnorm") check.close(n, W_U.norm(2, 0), want, atol, rtol);
            else if (n == "processed.W_U.col_ids") check.exact(n, want, want);  // the index list itself
            else if (n == "processed.W_U.cols")
                check.close(n, W_U.index_select(1, goldenTensor(golden.at("processed.W_U.col_ids"))), want, atol, rtol);
            else if (n == "processed.b_U.cols")
                check.close(n, model.weight("unembed.b_U").index_select(0, goldenTensor(golden.at("processed.W_U.col_ids"))), want, atol, rtol);
            else if (n == "processed.congruence.max") check.close(n, at::stack(congruence).amax(-1), want, atol, rtol);
            else if (n == "processed.congruence.argmax") check.exact(n, at::stack(congruence).argmax(-1), want);
            else if (startsWith(n, "processed.congruence.") && n.size() > 25 && n.substr(n.size() - 4) == ".max")
                check.close(n, congruence[layerOf(n.substr(21))].amax(-1), want, atol, rtol);
            else if (startsWith(n, "processed.congruence.") && n.size() > 25 && n.substr(n.size() - 7) == ".argmax")
                check.exact(n, congruence[layerOf(n.substr(21))].argmax(-1), want);
            else ok = false;
            if (ok) handled.insert(n);
        }

        // Head attribution (METHOD.md section 3) for the top-congruence neurons of layer 2.
        if (golden.find("attrib.L2.neurons")) {
            const int L = 2;
            const at::Tensor cmax = congruence[L].amax(-1), cargmax = congruence[L].argmax(-1);
            const at::Tensor neurons = goldenTensor(golden.at("attrib.L2.neurons"));
            check.exact("attrib.L2.neurons", std::get<1>(cmax.topk(neurons.size(0))), neurons);
            check.close("attrib.L2.congruence", cmax.index_select(0, neurons), goldenTensor(golden.at("attrib.L2.congruence")), atol, rtol);
            check.exact("attrib.L2.token", cargmax.index_select(0, neurons), goldenTensor(golden.at("attrib.L2.token")));
            handled.insert({"attrib.L2.neurons", "attrib.L2.congruence", "attrib.L2.token"});
            const at::Tensor W_in = model.weight("blocks.2.mlp.W_in").index_select(1, neurons);  // [d, 5]
            for (const auto& [p, ids] : prompts) {
                const std::string a = "attrib." + p + ".L2.";
                const int64_t last = static_cast<int64_t>(ids.size()) - 1;
                std::vector<at::Tensor> heads;
                for (int l = 0; l <= L; ++l) heads.push_back(caches[p].at("blocks." + std::to_string(l) + ".attn.hook_result")[0][last]);
                const at::Tensor all = at::matmul(at::cat(heads), W_in).t();  // [5, (L+1) H]
                const at::Tensor scores = all.narrow(1, 0, L * c.nHeads);
                const at::Tensor mean = scores.mean(1), std = scores.std(1, /*unbiased=*/true);
                const at::Tensor threshold = mean + 2 * std;
                check.exact(a + "last_pos", at::tensor({last}, at::kLong), goldenTensor(golden.at(a + "last_pos")));
                check.close(a + "scores", scores, goldenTensor(golden.at(a + "scores")), atol, rtol);
                check.close(a + "scores_all_heads", all, goldenTensor(golden.at(a + "scores_all_heads")), atol, rtol);
                check.close(a + "mean", mean, goldenTensor(golden.at(a + "mean")), atol, rtol);
                check.close(a + "std", std, goldenTensor(golden.at(a + "std")), atol, rtol);
                check.close(a + "threshold", threshold, goldenTensor(golden.at(a + "threshold")), atol, rtol);
                check.exact(a + "active", (scores > threshold.unsqueeze(1)).to(at::kLong), goldenTensor(golden.at(a + "active")));
                const at::Tensor act = caches[p].at("blocks.2.mlp.hook_post")[0][last].index_select(0, neurons);
                check.close(a + "neuron_act", act, goldenTensor(golden.at(a + "neuron_act")), atol, rtol);
                for (const char* s : {"last_pos", "scores", "scores_all_heads", "mean", "std", "threshold", "active", "neuron_act"})
                    handled.insert(a + s);
            }
        }
    }
    for (const io::TensorView& t : golden.tensors())
        if (!handled.count(t.name)) check.fail(t.name, "no rule checks this golden tensor");
    check.report();
}

}  // namespace

class TestEngineGolden : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void gpt2Tiny() { checkTransformerLensGolden(QStringLiteral("gpt2-tiny")); }
    void pythiaTiny() { checkTransformerLensGolden(QStringLiteral("pythia-tiny")); }
    void gpt2Mini() { checkTransformerLensGolden(QStringLiteral("gpt2-mini")); }

    // llama2.c's own forward pass (run.c) on stories260K: hooks and logits of three prompts, raw weights
    // and processed (RMSNorm: only the gains fold, so every hook is unchanged and the logits lose their mean).
    void stories260k() {
        const QString dir = test::fixture(QStringLiteral("stories260k"));
        HL_REQUIRE_FIXTURE(dir + "/golden.safetensors");
        const io::SafetensorsFile golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
        for (const bool processed : {false, true}) {
            Checker check{std::string("stories260k ") + (processed ? "processed" : "raw")};
            const Transformer model = loadModel(dir, processed);
            QCOMPARE(model.processing().centerWritingWeights, false);  // never for RMSNorm
            QCOMPARE(model.processing().foldLn, processed);
            for (const std::string p : {"p1", "p2", "p3"}) {
                const std::vector<int64_t> ids = toIds(goldenTensor(golden.at(p + ".ids")));
                HookSet hooks;
                hooks.capture("logits");
                for (const io::TensorView& t : golden.tensors())
                    if (startsWith(t.name, p + ".blocks.")) hooks.capture(t.name.substr(p.size() + 1));
                const ActivationCache cache = model.run(ids, hooks);
                for (const io::TensorView& t : golden.tensors()) {
                    if (!startsWith(t.name, p + ".") || t.name == p + ".ids") continue;
                    const std::string hook = t.name.substr(p.size() + 1);
                    at::Tensor want = goldenTensor(t);
                    double atol = 5e-5;
                    if (hook == "logits") {
                        atol = 1e-4;
                        if (processed) want = want - want.mean(-1, true);  // center_unembed
                        check.exact(t.name + ".argmax", cache.at(hook)[0].argmax(-1), want.argmax(-1));
                    } else if (hook.find("hook_pattern") != std::string::npos) {
                        atol = 1e-5;
                    }
                    check.close(t.name, cache.at(hook)[0], want, atol, 0.0);
                }
            }
            check.report();
        }
    }

    // 200 greedy steps from BOS reproduce run.c's generation exactly.
    void stories260kGreedy() {
        const QString dir = test::fixture(QStringLiteral("stories260k"));
        HL_REQUIRE_FIXTURE(dir + "/golden.safetensors");
        const io::SafetensorsFile golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
        const std::vector<int64_t> want = toIds(goldenTensor(golden.at("greedy.ids")));
        const Transformer model = loadModel(dir, true);
        std::vector<int64_t> ids = {model.bosTokenId().value_or(1)};
        HookSet hooks;
        hooks.capture("logits").atLastTokens();
        while (ids.size() < want.size()) ids.push_back(model.run(ids, hooks).at("logits")[0].argmax().item<int64_t>());
        QCOMPARE(ids, want);
    }
};

QTEST_GUILESS_MAIN(TestEngineGolden)
#include "test_engine_golden.moc"
