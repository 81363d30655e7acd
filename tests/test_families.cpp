// The engine on the 2026 model families (shared/fixtures/FAMILIES.md): Llama 3.2, Qwen 2.5, Qwen 3,
// Gemma 2, Gemma 3, Mistral, OLMo 2, Phi-3. Every raw golden (Hugging Face transformers 4.51.3, eager,
// float32) and every processed golden (TransformerLens 2.18 weight processing) is checked within the
// tolerance the fixtures' golden.md give (atol 1e-4 + rtol 1e-4, patterns 1e-5, argmax exact); a golden
// tensor that no rule handles fails the test. Then each family piece is switched off in turn (a config
// override or a weight edit) and must break the match: the piece is really exercised.
#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <map>
#include <set>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "tests/golden_check.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::test;

namespace {

constexpr double kAtol = 1e-4, kRtol = 1e-4, kPatternAtol = 1e-5;

struct Fixture {
    QString dir;
    io::SafetensorsFile golden;
    std::map<std::string, std::vector<int64_t>> prompts;  // pN -> ids as given to the model
    std::string longest;                                    // the longest prompt's name

    explicit Fixture(const QString& name)
        : dir(test::fixture(name)), golden(io::SafetensorsFile::open(test::fixture(name) + "/golden.safetensors")) {
        for (const io::TensorView& t : golden.tensors()) {
            if (!startsWith(t.name, "prompt.")) continue;
            const std::string p = t.name.substr(7, t.name.find('.', 7) - 7);
            prompts[p] = toIds(goldenTensor(t));
            if (longest.empty() || prompts[p].size() > prompts[longest].size()) longest = p;
        }
    }
    at::Tensor at(const std::string& name) const { return goldenTensor(golden.at(name)); }
};

std::string lastLayerHook(const ModelConfig& c, const char* rest) {
    return "blocks." + std::to_string(c.nLayers - 1) + "." + rest;
}

// One prompt's golden tensors `{variant}.{p}.*` against a run of `model`; names handled go to `handled`.
void checkPrompt(const Transformer& model, const Fixture& f, const std::string& variant, const std::string& p,
                 Checker& check, std::set<std::string>& handled) {
    const ModelConfig& c = model.config();
    const std::string prefix = variant + "." + p + ".";
    HookSet hooks;
    hooks.capture("logits").capture("ln_final.hook_scale").capture(lastLayerHook(c, "hook_resid_post"));
    for (const io::TensorView& t : f.golden.tensors()) {
        const std::string hook = startsWith(t.name, prefix) ? t.name.substr(prefix.size()) : "";
        if (!hook.empty() && !startsWith(hook, "logits") && hook != "ln_final.out") hooks.capture(hook);
    }
    const ActivationCache cache = model.run(f.prompts.at(p), hooks);
    const at::Tensor logits = cache.at("logits")[0];  // [T, V]
    for (const io::TensorView& t : f.golden.tensors()) {
        if (!startsWith(t.name, prefix)) continue;
        const std::string hook = t.name.substr(prefix.size());
        const at::Tensor want = goldenTensor(t);
        handled.insert(t.name);
        if (hook == "logits") check.close(t.name, logits, want, kAtol, kRtol);
        else if (hook == "logits.argmax") check.exact(t.name, logits.argmax(-1), want);
        else if (hook == "logits.col_ids") check.exact(t.name, want, want);  // the index list itself
        else if (hook == "logits.cols") check.close(t.name, logits.index_select(1, f.at(prefix + "logits.col_ids")), want, kAtol, kRtol);
        else if (hook == "logits.first512") check.close(t.name, logits.narrow(1, 0, 512), want, kAtol, kRtol);
        else if (hook == "logits.first64") check.close(t.name, logits.narrow(1, 0, 64), want, kAtol, kRtol);
        else if (hook == "logits.logsumexp") check.close(t.name, logits.logsumexp(-1), want, kAtol, kRtol);
        else if (hook == "logits.max") check.close(t.name, std::get<0>(logits.max(-1)), want, kAtol, kRtol);
        else if (hook == "ln_final.out")  // HF's last hidden state: resid / scale * gain (raw weights only)
            check.close(t.name, cache.at(lastLayerHook(c, "hook_resid_post"))[0] / cache.at("ln_final.hook_scale")[0] *
                                    model.weight("ln_final.w"), want, kAtol, kRtol);
        else if (hook.find("hook_pattern") != std::string::npos) check.close(t.name, cache.at(hook)[0], want, kPatternAtol, 0);
        else check.close(t.name, cache.at(hook)[0], want, kAtol, kRtol);
    }
}

// TL's grouped-query names (_W_K, _b_V, ...) are our W_K, b_V.
std::string ourWeightName(std::string tl) {
    const auto at = tl.find("._");
    if (at != std::string::npos) tl.erase(at + 1, 1);
    return tl;
}

Transformer loadModel(const Fixture& f, bool processed) {
    LoadOptions o;
    o.processing = processed ? WeightProcessing::transformerLensDefaults() : WeightProcessing::none();
    return Transformer::load(f.dir, o);
}

// Every golden tensor of a fixture: raw activations and weights, then (where present) processed ones.
void checkFamily(const QString& name) {
    HL_REQUIRE_FIXTURE(test::fixture(name) + "/golden.safetensors");
    const Fixture f(name);
    std::set<std::string> handled;
    for (const io::TensorView& t : f.golden.tensors())
        if (startsWith(t.name, "prompt.")) handled.insert(t.name);
    std::pair<double, double> worst{0, 0};
    for (const bool processed : {false, true}) {
        const std::string variant = processed ? "processed" : "raw";
        Checker check{name.toStdString() + " " + variant};
        const Transformer model = loadModel(f, processed);
        for (const auto& [p, ids] : f.prompts) checkPrompt(model, f, variant, p, check, handled);
        const std::string wprefix = variant + ".weights.";
        const at::Tensor cols = f.golden.find("processed.W_U.col_ids") ? f.at("processed.W_U.col_ids") : at::Tensor();
        for (const io::TensorView& t : f.golden.tensors()) {
            const std::string& n = t.name;
            bool ok = true;
            if (startsWith(n, wprefix)) check.close(n, model.weight(ourWeightName(n.substr(wprefix.size()))), goldenTensor(t), kAtol, kRtol);
            else if (!processed) ok = false;
            else if (n == "processed.W_U.col_ids") check.exact(n, goldenTensor(t), goldenTensor(t));
            else if (n == "processed.W_U.cols") check.close(n, model.weight("unembed.W_U").index_select(1, cols), goldenTensor(t), kAtol, kRtol);
            else if (n == "processed.b_U.cols") check.close(n, model.weight("unembed.b_U").index_select(0, cols), goldenTensor(t), kAtol, kRtol);
            else if (n == "processed.W_U.colnorm") check.close(n, model.weight("unembed.W_U").norm(2, 0), goldenTensor(t), kAtol, kRtol);
            else ok = false;
            if (ok) handled.insert(n);
        }
        if (processed) {
            const bool any = check.checked > 0;
            if (!any) break;  // OLMo 2: no TransformerLens port, so no processed goldens
        }
        check.report();
        (processed ? worst.second : worst.first) = check.worstAbs;
    }
    std::vector<std::string> unhandled;
    for (const io::TensorView& t : f.golden.tensors())
        if (!handled.count(t.name)) unhandled.push_back(t.name);
    QVERIFY2(unhandled.empty(), ("no rule checks golden tensor " + (unhandled.empty() ? "" : unhandled.front())).c_str());
    qInfo("%s: raw worst abs error %.3g, processed %.3g", qPrintable(name), worst.first, worst.second);
}

// ---- negative controls ----------------------------------------------------------------------------

// How far a variant model is from the raw goldens of the longest prompt: max |Δ| over the logits the
// file has, and over the attention patterns and neuron activations.
struct Distance {
    double logits = 0, pattern = 0, post = 0;
    bool breaksMatch() const { return logits > kAtol * 10 || pattern > kPatternAtol * 10 || post > kAtol * 10; }
};

Distance distanceFromGolden(const Transformer& model, const Fixture& f) {
    const std::string p = f.longest, prefix = "raw." + p + ".";
    HookSet hooks;
    hooks.capture("logits");
    for (int l = 0; l < model.config().nLayers; ++l) {
        hooks.capture("blocks." + std::to_string(l) + ".attn.hook_pattern");
        hooks.capture("blocks." + std::to_string(l) + ".mlp.hook_post");
    }
    const ActivationCache cache = model.run(f.prompts.at(p), hooks);
    Distance d;
    const at::Tensor logits = cache.at("logits")[0];
    const at::Tensor want = f.golden.find(prefix + "logits") ? f.at(prefix + "logits") : f.at(prefix + "logits.first512");
    d.logits = (logits.narrow(1, 0, want.size(1)) - want).abs().max().item<double>();
    for (int l = 0; l < model.config().nLayers; ++l) {
        const std::string b = prefix + "blocks." + std::to_string(l) + ".";
        if (f.golden.find(b + "attn.hook_pattern"))
            d.pattern = std::max(d.pattern, (cache.at("blocks." + std::to_string(l) + ".attn.hook_pattern")[0] -
                                             f.at(b + "attn.hook_pattern")).abs().max().item<double>());
        if (f.golden.find(b + "mlp.hook_post"))
            d.post = std::max(d.post, (cache.at("blocks." + std::to_string(l) + ".mlp.hook_post")[0] -
                                       f.at(b + "mlp.hook_post")).abs().max().item<double>());
    }
    return d;
}

using ConfigEdit = std::function<void(ModelConfig&)>;
using WeightEdit = std::function<void(StateDict&)>;

// Loads the fixture's weights (with the edited config's reading of the norm gains, so the 1 + w control
// follows it), applies `weightEdit`, drops the tensors the edited config has no place for (e.g. the QK-norm
// gains when QK-norm is switched off) and runs the edited model; returns how far it lands from the goldens.
Distance variantDistance(const Fixture& f, const ConfigEdit& configEdit, const WeightEdit& weightEdit = {}) {
    const Checkpoint ck = Checkpoint::open(f.dir);
    ModelConfig c = ck.config();
    if (configEdit) configEdit(c);
    ModelConfig reading = ck.config();
    reading.normPlusOne = c.normPlusOne;
    StateDict w = loadWeights(ck, reading);
    if (weightEdit) weightEdit(w);
    std::set<std::string> expected;
    for (const auto& [name, shape] : expectedWeightShapes(c, false)) expected.insert(name);
    for (auto it = w.begin(); it != w.end();) it = expected.count(it->first) ? std::next(it) : w.erase(it);
    LoadOptions o;
    o.processing = WeightProcessing::none();
    return distanceFromGolden(Transformer::fromWeights(c, std::move(w), o, "variant"), f);
}

// Each control must break the match; the unchanged model (the first, empty control) must keep it.
void checkControls(const QString& name, const std::vector<std::tuple<std::string, ConfigEdit, WeightEdit>>& controls) {
    HL_REQUIRE_FIXTURE(test::fixture(name) + "/golden.safetensors");
    const Fixture f(name);
    const Distance base = variantDistance(f, {});
    QVERIFY2(!base.breaksMatch(), qPrintable(name + ": the unchanged model does not match its goldens"));
    for (const auto& [what, configEdit, weightEdit] : controls) {
        const Distance d = variantDistance(f, configEdit, weightEdit);
        qInfo("%s, %s: max |dlogits| %.3g, |dpattern| %.3g, |dhook_post| %.3g", qPrintable(name), what.c_str(), d.logits,
              d.pattern, d.post);
        QVERIFY2(d.breaksMatch(), qPrintable(name + ": switching off '" + QString::fromStdString(what) + "' still matches the goldens"));
    }
}

void swapWeights(StateDict& w, const std::string& a, const std::string& b) { std::swap(w.at(a), w.at(b)); }

void zeroAll(StateDict& w, const std::string& leaf) {
    for (auto& [n, t] : w)
        if (n.size() > leaf.size() && n.compare(n.size() - leaf.size(), leaf.size(), leaf) == 0) t = at::zeros_like(t);
}

}  // namespace

// Post norms (Gemma 2/3, OLMo 2): the heads' contributions as written sum to hook_attn_out, and the neurons'
// activations through residualWOut, divided by the frozen RMS of the MLP output, sum to hook_mlp_out.
void checkPostNormReadings(const QString& name) {
    HL_REQUIRE_FIXTURE(test::fixture(name) + "/golden.safetensors");
    const Fixture f(name);
    for (const bool processed : {false, true}) {
        const Transformer model = loadModel(f, processed);
        QVERIFY(model.config().hasPostNorms());
        QVERIFY(!model.postNormReading().empty());
        HookSet hooks;
        for (int l = 0; l < model.config().nLayers; ++l) {
            const std::string b = "blocks." + std::to_string(l) + ".";
            model.captureHeadContributions(hooks, l);
            hooks.capture(b + "hook_attn_out").capture(b + "hook_mlp_out").capture(b + "mlp.hook_post").capture(b + "ln2_post.hook_scale");
        }
        const ActivationCache cache = model.run(f.prompts.at(f.longest), hooks);
        for (int l = 0; l < model.config().nLayers; ++l) {
            const std::string b = "blocks." + std::to_string(l) + ".";
            const at::Tensor bias = model.weight(b + "attn.b_O") * model.weight(b + "ln1_post.w") /
                                    cache.at(b + "ln1_post.hook_scale");  // b_O's share [B, T, d]
            const at::Tensor heads = model.headContributions(cache, l).sum(-2) + bias;
            QVERIFY2(at::allclose(heads, cache.at(b + "hook_attn_out"), 1e-4, 1e-5), qPrintable(name + " heads " + QString::number(l)));
            const at::Tensor neurons = at::matmul(cache.at(b + "mlp.hook_post"), model.residualWOut(l)) / cache.at(b + "ln2_post.hook_scale");
            QVERIFY2(at::allclose(neurons, cache.at(b + "hook_mlp_out"), 1e-4, 1e-4), qPrintable(name + " neurons " + QString::number(l)));
        }
    }
}

class TestFamilies : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void llama32() { checkFamily(QStringLiteral("llama3.2-tiny")); }
    void qwen25() { checkFamily(QStringLiteral("qwen2.5-tiny")); }
    void qwen3() { checkFamily(QStringLiteral("qwen3-tiny")); }
    void gemma2() { checkFamily(QStringLiteral("gemma2-tiny")); }
    void gemma3() { checkFamily(QStringLiteral("gemma3-tiny")); }
    void mistral() { checkFamily(QStringLiteral("mistral-tiny")); }
    void olmo2() { checkFamily(QStringLiteral("olmo2-tiny")); }
    void phi3() { checkFamily(QStringLiteral("phi3-tiny")); }

    void postNormReadings() {
        for (const char* name : {"gemma2-tiny", "gemma3-tiny", "olmo2-tiny"}) checkPostNormReadings(QString::fromLatin1(name));
        const Fixture f(QStringLiteral("llama3.2-tiny"));  // no post norms: the readings are W_out and hook_result
        const Transformer model = loadModel(f, true);
        QVERIFY(model.postNormReading().empty());
        QVERIFY(at::equal(model.residualWOut(1), model.weight("blocks.1.mlp.W_out")));
    }

    // Which families prepend BOS, and what the loader refuses.
    void bosAndRefusals() {
        QCOMPARE(Checkpoint::open(test::fixture("llama3.2-tiny")).config().bosTokenId, std::optional<int>(128000));
        QCOMPARE(Checkpoint::open(test::fixture("gemma3-tiny")).config().bosTokenId, std::optional<int>(2));
        for (const char* name : {"qwen2.5-tiny", "qwen3-tiny", "olmo2-tiny"})
            QVERIFY(!Checkpoint::open(test::fixture(name)).config().bosTokenId);
    }

    // Steps 1-3 on each family (a few documents of the shared corpus), saved and read back as a bundle.
    void studyOnEachFamily() {
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(corpus);
        QTemporaryDir tmp;
        for (const char* name : {"llama3.2-tiny", "qwen2.5-tiny", "qwen3-tiny", "gemma2-tiny", "gemma3-tiny", "mistral-tiny",
                                 "olmo2-tiny", "phi3-tiny"}) {
            PipelineOptions o;
            o.model = test::fixture(QString::fromLatin1(name));
            o.corpus = corpus;
            o.parameters.layers = {2};
            o.parameters.topK = 2;
            o.parameters.topDocuments = 3;
            o.parameters.promptsPerNeuron = 3;
            o.parameters.maxDocuments = 4;
            o.parameters.maxContextTokens = 40;
            o.parameters.minTokenChars = 1;
            o.parameters.requireWordBoundary = false;
            const Study s = runStudyPipeline(o);
            const ModelConfig c = Checkpoint::open(o.model).config();
            QCOMPARE(s.provenance.modelFamily, std::string(familyName(c.family)));
            QCOMPARE(s.provenance.processing.find("post norms") != std::string::npos, c.hasPostNorms());
            QCOMPARE(s.neurons.size(), std::size_t(2));
            for (const NeuronResult& n : s.neurons) {
                QVERIFY2(!n.contexts.empty(), name);
                for (const NeuronContext& ctx : n.contexts) QCOMPARE(ctx.tokenActivations.size(), ctx.tokens.size());
            }
            const QString bundle = tmp.filePath(QString::fromLatin1(name) + QStringLiteral(".headlight"));
            saveBundle(s, bundle);
            QCOMPARE(loadStudy(bundle).neurons.size(), std::size_t(2));
        }
    }

    // Linear RoPE scaling divides the positions by the factor: with one token repeated (so q is the same
    // at every position), position 2t scaled by 2 rotates exactly as position t unscaled.
    void linearRopeScaling() {
        const std::string base = R"({"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 16, "num_attention_heads": 2,
            "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 16, "rope_theta": 100.0)";
        const ModelConfig plain = ModelConfig::fromJsonText(base + R"(, "rope_scaling": {"rope_type": "default"}})", "plain");
        const ModelConfig linear = ModelConfig::fromJsonText(base + R"(, "rope_scaling": {"rope_type": "linear", "factor": 2.0}})", "linear");
        QCOMPARE(plain.ropeScaling, RopeScaling::None);
        QCOMPARE(linear.ropeScaling, RopeScaling::Linear);
        LoadOptions o;
        o.processing = WeightProcessing::none();
        auto rotQ = [&](const ModelConfig& c) {
            HookSet hooks;
            hooks.capture("blocks.0.attn.hook_rot_q");
            return Transformer::fromWeights(c, randomWeights(c, 7, 0.5), o).run(std::vector<int64_t>(7, 3), hooks)
                .at("blocks.0.attn.hook_rot_q")[0];  // [T, H, dh]
        };
        const at::Tensor p = rotQ(plain), l = rotQ(linear);
        for (int t : {1, 2, 3}) QVERIFY(at::allclose(l[2 * t], p[t], 1e-5, 1e-6));
        QVERIFY(!at::allclose(l[1], p[1], 1e-3, 1e-3));
    }

    // Gemma 1 (model_type gemma): 1 + w gains, sqrt(d) embedding scale, tanh GELU whatever hidden_act says.
    void gemmaOneConfig() {
        const ModelConfig c = ModelConfig::fromJsonText(
            R"({"model_type": "gemma", "num_hidden_layers": 2, "hidden_size": 16, "num_attention_heads": 2, "num_key_value_heads": 1,
                "head_dim": 32, "intermediate_size": 32, "vocab_size": 10, "max_position_embeddings": 16, "hidden_act": "gelu",
                "hidden_activation": null})", "gemma");
        QVERIFY(c.normPlusOne && c.tiedEmbeddings && c.blockNorms == BlockNorms::Pre && c.localLayers.empty());
        QCOMPARE(c.embedScale, 4.0);
        QCOMPARE(c.act, Activation::GeluNew);
        QCOMPARE(c.dHead, 32);
        const Transformer model = Transformer::fromWeights(c, randomWeights(c, 3), {});
        HookSet hooks;
        hooks.capture("logits");
        QCOMPARE(model.run(std::vector<int64_t>{2, 5, 7}, hooks).at("logits").sizes(), (at::IntArrayRef{1, 3, 10}));
    }

    // A float16 copy of gemma2-tiny (float32) loads like the original, and bfloat16 compute on it keeps
    // only bfloat16 weights while weight() still hands out float32; both stay near the goldens.
    void halfPrecision() {
        const Fixture f(QStringLiteral("gemma2-tiny"));
        QTemporaryDir tmp;
        const Checkpoint ck = Checkpoint::open(f.dir);
        io::SafetensorsWriter writer;
        for (const std::string& name : ck.tensorNames()) {
            const at::Tensor h = tensorFromView(ck.at(name)).to(at::kHalf).contiguous();
            writer.addCopy(name, io::DType::F16, h.sizes().vec(), h.data_ptr(), h.numel() * 2);
        }
        writer.write(tmp.filePath(QStringLiteral("model.safetensors")));
        QVERIFY(QFile::copy(f.dir + QStringLiteral("/config.json"), tmp.filePath(QStringLiteral("config.json"))));
        QCOMPARE(Checkpoint::open(tmp.path()).dtypeSummary(), std::string("F16"));
        const at::Tensor want = f.at("raw." + f.longest + ".logits");
        for (const bool bf16 : {false, true}) {
            LoadOptions o;
            o.processing = WeightProcessing::none();
            if (bf16) o.dtype = ComputeDType::BFloat16;
            const Transformer model = Transformer::load(tmp.path(), o);
            QCOMPARE(model.weight("blocks.0.mlp.W_in").scalar_type(), at::kFloat);
            HookSet hooks;
            hooks.capture("logits");
            const at::Tensor logits = model.run(f.prompts.at(f.longest), hooks).at("logits")[0];
            const double diff = (logits - want).abs().max().item<double>();
            const double agree = (logits.argmax(-1) == want.argmax(-1)).to(at::kDouble).mean().item<double>();
            qInfo("gemma2-tiny as float16, %s compute: max |dlogits| %.3g, argmax agreement %.3f", bf16 ? "bfloat16" : "float32", diff, agree);
            QVERIFY(diff < (bf16 ? 1.5 : 0.05));
            QVERIFY(agree >= (bf16 ? 0.9 : 1.0));
        }
    }

    // OLMo 2 has no TransformerLens port, so no processed goldens: processing folds only the final norm
    // (there are no input norms) and centres the unembedding, so the logits are the raw goldens minus
    // their mean, and every activation is unchanged.
    void olmo2Processed() {
        const Fixture f(QStringLiteral("olmo2-tiny"));
        const Transformer model = loadModel(f, true);
        QVERIFY(model.processing().foldLn && model.processing().centerUnembed && !model.processing().centerWritingWeights);
        QVERIFY(!model.hasWeight("ln_final.w") && model.hasWeight("blocks.0.ln1_post.w"));
        HookSet hooks;
        hooks.capture("logits").capture("blocks.2.mlp.hook_post");
        const ActivationCache cache = model.run(f.prompts.at(f.longest), hooks);
        const at::Tensor raw = f.at("raw." + f.longest + ".logits");
        QVERIFY(at::allclose(cache.at("logits")[0], raw - raw.mean(-1, true), 1e-4, 1e-4));
        QVERIFY(at::allclose(cache.at("blocks.2.mlp.hook_post")[0], f.at("raw." + f.longest + ".blocks.2.mlp.hook_post"), 1e-4, 1e-4));
    }

    void llama32Controls() {
        checkControls(QStringLiteral("llama3.2-tiny"),
                      {{"rope_scaling llama3 ignored", [](ModelConfig& c) { c.ropeScaling = RopeScaling::None; }, {}}});
    }
    void qwen25Controls() {
        checkControls(QStringLiteral("qwen2.5-tiny"),
                      {{"q bias dropped", {}, [](StateDict& w) { zeroAll(w, "attn.b_Q"); }},
                       {"k bias dropped", {}, [](StateDict& w) { zeroAll(w, "attn.b_K"); }},
                       {"v bias dropped", {}, [](StateDict& w) { zeroAll(w, "attn.b_V"); }}});
    }
    void qwen3Controls() {
        checkControls(QStringLiteral("qwen3-tiny"),
                      {{"QK-norm dropped", [](ModelConfig& c) { c.qkNorm = QkNorm::None; }, {}}});
    }
    void gemma2Controls() {
        checkControls(
            QStringLiteral("gemma2-tiny"),
            {{"RMSNorm gain w instead of 1+w", [](ModelConfig& c) { c.normPlusOne = false; }, {}},
             {"no sqrt(d_model) embedding scale", [](ModelConfig& c) { c.embedScale = 1; }, {}},
             {"no attention soft-cap", [](ModelConfig& c) { c.attnSoftcap = 0; }, {}},
             {"no final logit soft-cap", [](ModelConfig& c) { c.finalSoftcap = 0; }, {}},
             {"1/sqrt(head_dim) instead of query_pre_attn_scalar", [](ModelConfig& c) { c.queryPreAttnScalar = 0; }, {}},
             {"no sliding window", [](ModelConfig& c) { c.localLayers.clear(); }, {}},
             {"sliding window on odd layers", [](ModelConfig& c) { c.localLayers = {false, true, false}; }, {}},
             {"window sees W+1 keys", [](ModelConfig& c) { c.slidingWindow += 1; }, {}},
             {"exact GELU instead of tanh GELU", [](ModelConfig& c) { c.act = Activation::Gelu; }, {}},
             {"post-attention/post-feedforward norms dropped", [](ModelConfig& c) { c.blockNorms = BlockNorms::Pre; }, {}}});
    }
    void gemma3Controls() {
        checkControls(
            QStringLiteral("gemma3-tiny"),
            {{"QK-norm dropped", [](ModelConfig& c) { c.qkNorm = QkNorm::None; }, {}},
             {"one RoPE base (global) for all layers", [](ModelConfig& c) { c.rotaryBaseLocal = 0; }, {}},
             {"one RoPE base (local) for all layers", [](ModelConfig& c) { c.rotaryBase = c.rotaryBaseLocal; }, {}},
             {"no sliding window", [](ModelConfig& c) { c.localLayers.clear(); }, {}},
             {"sliding pattern shifted (layer 0 global)", [](ModelConfig& c) { c.localLayers = {false, true, true}; }, {}},
             {"window sees W+1 keys", [](ModelConfig& c) { c.slidingWindow += 1; }, {}},
             {"RMSNorm gain w instead of 1+w", [](ModelConfig& c) { c.normPlusOne = false; }, {}},
             {"no sqrt(d_model) embedding scale", [](ModelConfig& c) { c.embedScale = 1; }, {}}});
    }
    void mistralControls() {
        checkControls(QStringLiteral("mistral-tiny"),
                      {{"no sliding window", [](ModelConfig& c) { c.localLayers.clear(); }, {}},
                       {"window sees W+1 keys", [](ModelConfig& c) { c.slidingWindow += 1; }, {}}});
    }
    void olmo2Controls() {
        checkControls(QStringLiteral("olmo2-tiny"),
                      {{"QK-norm dropped", [](ModelConfig& c) { c.qkNorm = QkNorm::None; }, {}},
                       {"post norms used as pre norms (Llama wiring)", [](ModelConfig& c) { c.blockNorms = BlockNorms::Pre; },
                        [](StateDict& w) {
                            for (int l = 0; l < 3; ++l) {
                                const std::string b = "blocks." + std::to_string(l) + ".";
                                w[b + "ln1.w"] = w.at(b + "ln1_post.w");
                                w[b + "ln2.w"] = w.at(b + "ln2_post.w");
                            }
                        }}});
    }
    void phi3Controls() {
        checkControls(QStringLiteral("phi3-tiny"),
                      {{"gate/up halves of gate_up_proj swapped", {},
                        [](StateDict& w) {
                            for (int l = 0; l < 3; ++l)
                                swapWeights(w, "blocks." + std::to_string(l) + ".mlp.W_gate", "blocks." + std::to_string(l) + ".mlp.W_in");
                        }},
                       {"no sliding window", [](ModelConfig& c) { c.localLayers.clear(); }, {}},
                       {"window sees W+1 keys", [](ModelConfig& c) { c.slidingWindow += 1; }, {}}});
    }
};

QTEST_GUILESS_MAIN(TestFamilies)
#include "test_families.moc"
