// The model engine's behaviour beyond the goldens: interventions do what they say, early stops and
// position-restricted captures change nothing, padded batches equal single runs, bf16 is close to
// fp32, models build from given weights, and bad checkpoints or inputs fail with clear errors.
#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/model/processing.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "tests/test_util.h"

using namespace headlight;

namespace {

const std::vector<int64_t> kGpt2Prompt = {50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 11, 290};
const std::vector<int64_t> kPythiaPrompt = {0, 510, 3158, 8516, 30013, 27287, 689, 253, 22658};
const std::vector<int64_t> kLlamaPrompt = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};

QString fixtureDir(const char* name) { return test::fixture(QString::fromLatin1(name)); }

Transformer loadFixture(const char* name, bool processed = true, ComputeDType dtype = ComputeDType::Float32) {
    LoadOptions o;
    o.processing = processed ? WeightProcessing::transformerLensDefaults() : WeightProcessing::none();
    o.dtype = dtype;
    return Transformer::load(fixtureDir(name), o);
}

double maxDiff(const at::Tensor& a, const at::Tensor& b) {
    if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

#define EXPECT_CLOSE(a, b, tol)                                                                               \
    do {                                                                                                     \
        const double d_ = maxDiff((a), (b));                                                                 \
        QVERIFY2(d_ <= (tol), qPrintable(QStringLiteral("%1 vs %2: max diff %3 > %4").arg(#a, #b).arg(d_).arg(tol))); \
    } while (0)

std::string L(int l, const char* rest) { return "blocks." + std::to_string(l) + "." + rest; }

// Writes a copy of a fixture checkpoint into `dst`, letting `edit` drop (return false), rename or
// replace tensors through the writer; `configEdit` may change config.json.
void writeCheckpoint(const QString& src, const QString& dst,
                     const std::function<bool(io::SafetensorsWriter&, const io::TensorView&)>& edit,
                     const std::function<void(nlohmann::json&)>& configEdit = {}) {
    const auto st = io::SafetensorsFile::open(src + "/model.safetensors");
    io::SafetensorsWriter w;
    for (const io::TensorView& t : st.tensors())
        if (edit(w, t)) w.addBorrowed(t.name, t.dtype, t.shape, t.data, t.nbytes);
    w.write(dst + "/model.safetensors");
    nlohmann::json config = nlohmann::json::parse(io::readFile(src + "/config.json").toStdString());
    if (configEdit) configEdit(config);
    io::writeFileAtomically(dst + "/config.json", QByteArray::fromStdString(config.dump(2)));
}

}  // namespace

class TestEngine : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        for (const char* f : {"gpt2-tiny", "pythia-tiny", "stories260k", "gpt2-mini"})
            HL_REQUIRE_FIXTURE(fixtureDir(f) + "/model.safetensors");
    }

    // ---- interventions -------------------------------------------------------------------------------

    void zeroHeadOutput() {
        for (const bool processed : {false, true}) {
            const Transformer model = loadFixture("gpt2-tiny", processed);
            HookSet hooks;
            hooks.capture({L(1, "attn.hook_result"), L(1, "hook_attn_out"), L(1, "attn.hook_z")});
            const ActivationCache full = model.run(kGpt2Prompt, hooks);
            HookSet ablated = hooks;
            ablated.zeroHeadOutput(1, 2);
            const ActivationCache abl = model.run(kGpt2Prompt, ablated);
            const at::Tensor result = abl.at(L(1, "attn.hook_result"));  // [1, T, H, d]
            QVERIFY(at::equal(result.select(2, 2), at::zeros_like(result.select(2, 2))));
            // hook_z is captured before the output ablation (as in TransformerLens: hook_z, then hook_result).
            QVERIFY(at::equal(abl.at(L(1, "attn.hook_z")), full.at(L(1, "attn.hook_z"))));
            // The other heads are untouched, and attn_out loses exactly the head's contribution.
            for (int h : {0, 1, 3}) QVERIFY(at::equal(result.select(2, h), full.at(L(1, "attn.hook_result")).select(2, h)));
            EXPECT_CLOSE(abl.at(L(1, "hook_attn_out")),
                         full.at(L(1, "hook_attn_out")) - full.at(L(1, "attn.hook_result")).select(2, 2), 1e-6);
        }
    }

    void zeroHeadValues() {
        // Standard attention: v, z and hook_result of the head are exactly 0.
        const Transformer gpt2 = loadFixture("gpt2-tiny", false);
        HookSet hooks;
        hooks.capture({L(0, "attn.hook_v"), L(0, "attn.hook_z"), L(0, "attn.hook_result"), L(0, "hook_attn_out")});
        const ActivationCache full = gpt2.run(kGpt2Prompt, hooks);
        hooks.zeroHeadValues(0, 1);
        const ActivationCache abl = gpt2.run(kGpt2Prompt, hooks);
        for (const char* hook : {"attn.hook_v", "attn.hook_z", "attn.hook_result"}) {
            const at::Tensor t = abl.at(L(0, hook)).select(2, 1);
            QVERIFY2(at::equal(t, at::zeros_like(t)), hook);
        }
        EXPECT_CLOSE(abl.at(L(0, "hook_attn_out")),
                     full.at(L(0, "hook_attn_out")) - full.at(L(0, "attn.hook_result")).select(2, 1), 1e-6);

        // Grouped-query attention (stories260k: 8 query heads on 4 key/value heads): zeroing query head 5's
        // values zeroes its z only; head 4, which shares the key/value head, is unchanged.
        const Transformer llama = loadFixture("stories260k");
        HookSet lh;
        lh.capture({L(2, "attn.hook_z"), L(2, "attn.hook_result")});
        const ActivationCache lfull = llama.run(kLlamaPrompt, lh);
        lh.zeroHeadValues(2, 5);
        const ActivationCache labl = llama.run(kLlamaPrompt, lh);
        const at::Tensor z = labl.at(L(2, "attn.hook_z"));
        QVERIFY(at::equal(z.select(2, 5), at::zeros_like(z.select(2, 5))));
        QVERIFY(at::equal(z.select(2, 4), lfull.at(L(2, "attn.hook_z")).select(2, 4)));
        const at::Tensor r = labl.at(L(2, "attn.hook_result"));
        QVERIFY(at::equal(r.select(2, 5), at::zeros_like(r.select(2, 5))));
    }

    void zeroEveryHeadRemovesAttention() {
        for (const char* f : {"gpt2-tiny", "stories260k"}) {
            const Transformer model = loadFixture(f, true);
            const auto& prompt = std::string(f) == "gpt2-tiny" ? kGpt2Prompt : kLlamaPrompt;
            HookSet hooks;
            hooks.capture({L(1, "hook_resid_pre"), L(1, "hook_resid_mid")});
            for (int h = 0; h < model.config().nHeads; ++h) hooks.zeroHeadOutput(1, h);
            const ActivationCache cache = model.run(prompt, hooks);
            const at::Tensor b_O = model.weight(L(1, "attn.b_O"));
            EXPECT_CLOSE(cache.at(L(1, "hook_resid_mid")), cache.at(L(1, "hook_resid_pre")) + b_O, 1e-6);
        }
    }

    void replaceAndEdit() {
        const Transformer model = loadFixture("gpt2-tiny");
        HookSet hooks;
        hooks.capture({L(0, "hook_resid_pre"), L(0, "hook_resid_mid"), L(0, "hook_mlp_out"), L(0, "mlp.hook_post")});
        const int64_t T = static_cast<int64_t>(kGpt2Prompt.size());
        hooks.replace(L(0, "hook_attn_out"), at::zeros({1, T, 64}));
        std::string calledAt;
        hooks.edit(L(0, "mlp.hook_post"), [&calledAt](const at::Tensor& post, const HookId& where) {
            calledAt = where.name();
            return post * 0;
        });
        const ActivationCache cache = model.run(kGpt2Prompt, hooks);
        QCOMPARE(calledAt, std::string("blocks.0.mlp.hook_post"));
        QVERIFY(at::equal(cache.at(L(0, "hook_resid_mid")), cache.at(L(0, "hook_resid_pre"))));
        QVERIFY(at::equal(cache.at(L(0, "mlp.hook_post")), at::zeros({1, T, 256})));  // captured after the edit
        EXPECT_CLOSE(cache.at(L(0, "hook_mlp_out")), model.weight(L(0, "mlp.b_out")).expand({1, T, 64}), 0.0);
        // A replacement of the wrong shape is an error.
        HookSet bad;
        bad.replace(L(0, "hook_attn_out"), at::zeros({1, T + 1, 64}));
        HL_EXPECT_ERROR(model.run(kGpt2Prompt, bad), "blocks.0.hook_attn_out", "shape");
    }

    // ---- early stop, positions, batches ----------------------------------------------------------------

    void earlyStopIsExact() {
        for (const char* f : {"gpt2-tiny", "pythia-tiny", "stories260k"}) {
            const Transformer model = loadFixture(f);
            const auto& prompt = std::string(f) == "gpt2-tiny" ? kGpt2Prompt
                                 : std::string(f) == "pythia-tiny" ? kPythiaPrompt : kLlamaPrompt;
            HookSet hooks;
            hooks.capture({L(1, "mlp.hook_post"), L(0, "attn.hook_pattern")});
            const ActivationCache early = model.run(prompt, hooks);
            QCOMPARE(early.layersRun(), 2);
            QVERIFY(!early.unembedded());
            HookSet all = hooks;
            all.runToEnd().capture("logits");
            const ActivationCache full = model.run(prompt, all);
            QCOMPARE(full.layersRun(), model.config().nLayers);
            QVERIFY(full.unembedded());
            for (const std::string& n : {L(1, "mlp.hook_post"), L(0, "attn.hook_pattern")})
                QVERIFY2(at::equal(early.at(n), full.at(n)), n.c_str());
            // Nothing asked: no layer runs.
            const ActivationCache none = model.run(prompt, HookSet());
            QCOMPARE(none.layersRun(), 0);
            QVERIFY(none.tensors().empty());
        }
    }

    void positionRestrictedCapture() {
        for (const char* f : {"gpt2-tiny", "pythia-tiny", "stories260k"}) {
            const Transformer model = loadFixture(f);
            const auto& prompt = std::string(f) == "gpt2-tiny" ? kGpt2Prompt
                                 : std::string(f) == "pythia-tiny" ? kPythiaPrompt : kLlamaPrompt;
            const TokenBatch batch = TokenBatch::padded(
                std::vector<std::vector<int64_t>>{prompt, std::vector<int64_t>(prompt.begin(), prompt.begin() + 4)});
            const std::vector<std::string> names = {L(0, "hook_resid_pre"), L(1, "attn.hook_pattern"), L(1, "attn.hook_z"),
                                                    L(1, "attn.hook_result"), L(1, "mlp.hook_post"), L(1, "ln2.hook_scale"),
                                                    L(2, "hook_resid_post"), "ln_final.hook_scale", "logits"};
            HookSet fullHooks;
            fullHooks.capture(names);
            const ActivationCache full = model.run(batch, fullHooks);
            for (int mode = 0; mode < 2; ++mode) {
                HookSet hooks;
                hooks.capture(names);
                const std::vector<int64_t> pos = mode == 0 ? std::vector<int64_t>{batch.lengths[0] - 1, batch.lengths[1] - 1}
                                                           : std::vector<int64_t>{2, 1};
                if (mode == 0) hooks.atLastTokens();
                else hooks.atPositions(pos);
                const ActivationCache sel = model.run(batch, hooks);
                for (const std::string& n : names) {
                    for (int64_t b = 0; b < 2; ++b) {
                        const bool pattern = n.find("hook_pattern") != std::string::npos;
                        const at::Tensor want = pattern ? full.at(n)[b].select(1, pos[b]) : full.at(n)[b][pos[b]];
                        EXPECT_CLOSE(sel.at(n)[b], want, 1e-5);
                    }
                }
            }
        }
    }

    void paddedBatchEqualsSingleRuns() {
        for (const char* f : {"gpt2-tiny", "pythia-tiny", "stories260k"}) {
            const Transformer model = loadFixture(f);
            const auto& prompt = std::string(f) == "gpt2-tiny" ? kGpt2Prompt
                                 : std::string(f) == "pythia-tiny" ? kPythiaPrompt : kLlamaPrompt;
            const std::vector<std::vector<int64_t>> rows = {
                std::vector<int64_t>(prompt.begin(), prompt.begin() + 3), prompt,
                std::vector<int64_t>(prompt.begin() + 1, prompt.begin() + 7)};
            const std::vector<std::string> names = {L(1, "hook_resid_pre"), L(0, "attn.hook_pattern"), L(2, "mlp.hook_post"),
                                                    L(1, "attn.hook_result"), "logits"};
            HookSet hooks;
            hooks.capture(names);
            const ActivationCache batched = model.run(TokenBatch::padded(rows, 0), hooks);
            for (std::size_t b = 0; b < rows.size(); ++b) {
                const ActivationCache single = model.run(rows[b], hooks);
                const int64_t n = static_cast<int64_t>(rows[b].size());
                for (const std::string& name : names) {
                    at::Tensor got = batched.at(name)[b];
                    if (name.find("hook_pattern") != std::string::npos) got = got.narrow(1, 0, n).narrow(2, 0, n);
                    else got = got.narrow(0, 0, n);
                    EXPECT_CLOSE(got, single.at(name)[0], 2e-5);
                }
            }
        }
    }

    // Packed sequences (the scan's passes): each computes what it computes alone, learned (gpt2-tiny) and
    // rotary positions (pythia-tiny: parallel residual; stories260k: GQA, a sequence past one query block).
    void packedBatchEqualsSingleRuns() {
        for (const char* f : {"gpt2-tiny", "pythia-tiny", "stories260k"}) {
            const Transformer model = loadFixture(f);
            const auto& prompt = std::string(f) == "gpt2-tiny" ? kGpt2Prompt
                                 : std::string(f) == "pythia-tiny" ? kPythiaPrompt : kLlamaPrompt;
            std::vector<int> longRow;
            for (int i = 0; i < 300 && int64_t(longRow.size()) < model.config().nCtx; ++i)
                longRow.push_back(static_cast<int>(prompt[i % prompt.size()]));
            const std::vector<std::vector<int>> rows = {std::vector<int>(prompt.begin(), prompt.begin() + 3), longRow,
                                                        std::vector<int>(prompt.begin() + 1, prompt.begin() + 7), {7}};
            const std::vector<std::string> names = {L(1, "hook_resid_pre"), L(2, "mlp.hook_post"), L(1, "attn.hook_z")};
            HookSet hooks;
            hooks.capture(names);
            const ActivationCache packed = model.run(TokenBatch::packed(rows), hooks);
            int64_t start = 0;
            for (const std::vector<int>& row : rows) {
                const ActivationCache single = model.run(TokenBatch::single(row), hooks);
                const int64_t n = static_cast<int64_t>(row.size());
                for (const std::string& name : names) EXPECT_CLOSE(packed.at(name)[0].narrow(0, start, n), single.at(name)[0], 2e-5);
                start += n;
            }
            HookSet pattern;
            pattern.capture(L(0, "attn.hook_pattern"));
            HL_EXPECT_ERROR(model.run(TokenBatch::packed(rows), pattern), "hook_pattern", "packed");
            HookSet edit = hooks;
            edit.replace(L(0, "hook_resid_pre"), at::zeros({1, start, model.config().dModel}));
            HL_EXPECT_ERROR(model.run(TokenBatch::packed(rows), edit), "packed sequences take captures only");
        }
        const Transformer gpt2 = loadFixture("gpt2-tiny");
        const std::vector<int> tooLong(size_t(gpt2.config().nCtx + 1), 5);
        HL_EXPECT_ERROR(gpt2.run(TokenBatch::packed({{5, 6}, tooLong}), HookSet{}), "packed sequence of 129 tokens", "n_ctx");
        HL_EXPECT_ERROR(TokenBatch::packed({{5}, {}}), "empty sequence");
    }

    // Long sequences run attention in blocks of query rows against the keys they can see; capturing the
    // pattern switches to one block of all rows. Both must agree (GQA stories260k and a random GPT-2).
    void blockedAttentionEqualsWholePattern() {
        ModelConfig gpt2 = loadFixture("gpt2-tiny").config();
        gpt2.nCtx = 600;
        gpt2.nLayers = 2;
        const Transformer randomGpt2 = Transformer::fromWeights(gpt2, randomWeights(gpt2, 3, 0.1));
        const Transformer llama = loadFixture("stories260k");
        for (const Transformer* model : {&randomGpt2, &llama}) {
            const int64_t T = std::min<int64_t>(model->config().nCtx, 600) - 20;
            const at::Tensor ids = at::randint(3, 500, {2, T}, at::kLong);
            const TokenBatch batch{ids, {T, T - 77}, {}};
            HookSet blocked;
            blocked.capture({L(1, "attn.hook_z"), L(1, "hook_resid_post")});
            HookSet whole = blocked;
            whole.capture({L(0, "attn.hook_pattern"), L(1, "attn.hook_pattern")});
            const ActivationCache a = model->run(batch, blocked), b = model->run(batch, whole);
            for (const std::string& n : {L(1, "attn.hook_z"), L(1, "hook_resid_post")})
                for (int64_t row = 0; row < 2; ++row) {
                    const int64_t len = batch.lengths[row];
                    EXPECT_CLOSE(a.at(n)[row].narrow(0, 0, len), b.at(n)[row].narrow(0, 0, len), 1e-5);
                }
        }
    }

    void bf16CloseToFp32() {
        const Transformer fp32 = loadFixture("gpt2-mini");
        const Transformer bf16 = loadFixture("gpt2-mini", true, ComputeDType::BFloat16);
        QCOMPARE(bf16.identity().computeDType, std::string("bfloat16"));
        HookSet hooks;
        hooks.capture({L(3, "mlp.hook_post"), "logits"});
        const std::vector<int64_t> prompt = {50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 11, 290, 788};
        const ActivationCache a = fp32.run(prompt, hooks), b = bf16.run(prompt, hooks);
        for (const std::string& n : {L(3, "mlp.hook_post"), std::string("logits")}) {
            QCOMPARE(b.at(n).scalar_type(), at::kFloat);  // captures are float32 whatever the compute dtype
            const double scale = a.at(n).abs().max().item<double>();
            const double err = maxDiff(a.at(n), b.at(n));
            QVERIFY2(err < 0.08 * scale, qPrintable(QStringLiteral("%1: bf16 error %2 vs scale %3").arg(n.c_str()).arg(err).arg(scale)));
        }
        // The prediction mostly agrees.
        const double agree = (a.at("logits").argmax(-1) == b.at("logits").argmax(-1)).to(at::kDouble).mean().item<double>();
        QVERIFY2(agree >= 0.75, qPrintable(QString::number(agree)));
    }

    // Device selection: names are checked; a CPU-only libtorch refuses CUDA with a clear message; with
    // a GPU (a CUDA build on a machine with one) the engine's captures equal the CPU's within 1e-4
    // and come back as CPU tensors, with interventions and position-restricted captures too.
    void deviceSelection() {
        QCOMPARE(resolveDevice("cpu").type(), c10::kCPU);
        if (qEnvironmentVariableIsEmpty("HEADLIGHT_DEVICE")) QCOMPARE(resolveDevice("").type(), c10::kCPU);
        HL_EXPECT_ERROR(resolveDevice("tpu"), "device 'tpu'", "cpu, cuda, cuda:N or auto");
        HL_EXPECT_ERROR(resolveDevice("cuda:x"), "device 'cuda:x'");
        const bool gpu = resolveDevice("auto").is_cuda();
        if (!at::hasCUDA()) HL_EXPECT_ERROR(resolveDevice("cuda"), "CPU-only build", "HEADLIGHT_CUDA");
        HL_EXPECT_ERROR(resolveDevice("cuda:99"), "device 'cuda:99'");
        LoadOptions onCpu;
        onCpu.device = "cpu";
        const Transformer cpu = Transformer::load(fixtureDir("gpt2-mini"), onCpu);
        QCOMPARE(cpu.device().type(), c10::kCPU);
        if (!gpu) {
            LoadOptions bad;
            bad.device = "cuda";
            HL_EXPECT_ERROR(Transformer::load(fixtureDir("gpt2-mini"), bad), "device 'cuda'");
            return;  // the GPU half runs where a GPU is (CUDA build: cmake -DHEADLIGHT_CUDA=ON)
        }
        LoadOptions onGpu;
        onGpu.device = "cuda";
        const Transformer cuda = Transformer::load(fixtureDir("gpt2-mini"), onGpu);
        QVERIFY(cuda.device().is_cuda());
        const std::vector<int64_t> prompt = {50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 11, 290, 788};
        HookSet hooks;
        hooks.capture({L(3, "mlp.hook_post"), L(2, "attn.hook_result"), "logits"});
        hooks.zeroHeadValues(1, 0);
        const ActivationCache a = cpu.run(prompt, hooks), b = cuda.run(prompt, hooks);
        for (const std::string& n : {L(3, "mlp.hook_post"), L(2, "attn.hook_result"), std::string("logits")}) {
            QVERIFY(b.at(n).device().is_cpu());
            EXPECT_CLOSE(b.at(n), a.at(n), 1e-4);
        }
        HookSet last;
        last.capture(L(3, "mlp.hook_post"));
        last.atLastTokens();
        EXPECT_CLOSE(cuda.run(prompt, last).at(L(3, "mlp.hook_post")), cpu.run(prompt, last).at(L(3, "mlp.hook_post")), 1e-4);
    }

    // ---- building models -------------------------------------------------------------------------------

    void fromWeightsMatchesCheckpoint() {
        const Checkpoint ck = Checkpoint::open(fixtureDir("pythia-tiny"));
        const Transformer loaded = Transformer::fromCheckpoint(ck);
        const Transformer built = Transformer::fromWeights(ck.config(), loadWeights(ck), {}, "pythia-tiny copy");
        HookSet hooks;
        hooks.capture({L(2, "mlp.hook_post"), "logits"});
        const ActivationCache a = loaded.run(kPythiaPrompt, hooks), b = built.run(kPythiaPrompt, hooks);
        QVERIFY(at::equal(a.at("logits"), b.at("logits")));
        QVERIFY(at::equal(loaded.weight("W_U"), built.weight("unembed.W_U")));
        QCOMPARE(built.identity().modelId, std::string("pythia-tiny copy"));
        QVERIFY(built.weightHash().rfind("xxh64:", 0) == 0);

        // Random weights of a planted shape run, and are deterministic per seed.
        ModelConfig c = ck.config();
        c.nLayers = 2;
        const Transformer r1 = Transformer::fromWeights(c, randomWeights(c, 7));
        const Transformer r2 = Transformer::fromWeights(c, randomWeights(c, 7));
        QCOMPARE(r1.weightHash(), r2.weightHash());
        QVERIFY(r1.weightHash() != Transformer::fromWeights(c, randomWeights(c, 8)).weightHash());
        HookSet logits;
        logits.capture("logits");
        QVERIFY(at::equal(r1.run(kPythiaPrompt, logits).at("logits"), r2.run(kPythiaPrompt, logits).at("logits")));

        // Given weights are checked.
        StateDict w = randomWeights(c, 1);
        w.erase(L(1, "mlp.W_out"));
        HL_EXPECT_ERROR(Transformer::fromWeights(c, w), "missing weight", "blocks.1.mlp.W_out");
        w = randomWeights(c, 1);
        w[L(0, "attn.W_Q")] = at::zeros({4, 64, 15});
        HL_EXPECT_ERROR(Transformer::fromWeights(c, w), "blocks.0.attn.W_Q", "[4, 64, 15]", "[4, 64, 16]");
        w = randomWeights(c, 1);
        w["blocks.5.mlp.W_in"] = at::zeros({64, 256});
        HL_EXPECT_ERROR(Transformer::fromWeights(c, w), "unexpected weight", "blocks.5.mlp.W_in");
    }

    void processedWeightsByName() {
        const Transformer raw = loadFixture("gpt2-tiny", false);
        const Transformer processed = loadFixture("gpt2-tiny", true);
        QVERIFY(raw.hasWeight("blocks.0.ln1.w"));
        QVERIFY(!processed.hasWeight("blocks.0.ln1.w"));  // folded away: LNPre
        HL_EXPECT_ERROR(processed.weight("blocks.0.ln1.w"), "blocks.0.ln1.w", "folded");
        QCOMPARE(processed.weight("W_E").sizes(), at::IntArrayRef({50257, 64}));
        QCOMPARE(processed.weight("W_pos").sizes(), at::IntArrayRef({128, 64}));
        QCOMPARE(processed.weight("blocks.2.attn.W_O").sizes(), at::IntArrayRef({4, 16, 64}));
        QCOMPARE(processed.weight("W_U").sizes(), at::IntArrayRef({64, 50257}));
        // Centred writing weights and a centred unembedding; b_V folded into b_O.
        QVERIFY(processed.weight("W_E").mean(1).abs().max().item<double>() < 1e-6);
        QVERIFY(processed.weight("W_U").mean(1).abs().max().item<double>() < 1e-6);
        QVERIFY(at::equal(processed.weight("blocks.1.attn.b_V"), at::zeros({4, 16})));
        // The identity records what was applied, and the checkpoint hash is the same for both.
        QCOMPARE(processed.processing(), WeightProcessing::transformerLensDefaults());
        QCOMPARE(raw.processing(), WeightProcessing::none());
        QCOMPARE(raw.weightHash(), processed.weightHash());
        QCOMPARE(WeightProcessing::fromJson(processed.processing().toJson()), processed.processing());
        QCOMPARE(QString::fromStdString(raw.processing().describe()), QStringLiteral("none (raw weights)"));
        QVERIFY(processed.identity().describe().find("fold_ln, center_writing_weights") != std::string::npos);
        // Llama: RMSNorm folds gains only and never centres writing weights; W_gate exists.
        const Transformer llama = loadFixture("stories260k");
        QVERIFY(!llama.processing().centerWritingWeights);
        QCOMPARE(llama.weight("blocks.0.mlp.W_gate").sizes(), at::IntArrayRef({64, 172}));
        QCOMPARE(llama.weight("blocks.0.attn.W_K").sizes(), at::IntArrayRef({4, 64, 8}));
        QVERIFY(llama.weight("W_U").mean(1).abs().max().item<double>() < 1e-6);  // center_unembed still applies
    }

    void xxh64KnownValues() {
        QCOMPARE(xxh64("", 0), 0xEF46DB3751D8E999ULL);
        QCOMPARE(xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
        const char* s = "Nobody inspects the spammish repetition";
        QCOMPARE(xxh64(s, std::strlen(s)), 0xFBCEA83C8A378BF1ULL);
    }

    // ---- bad input ---------------------------------------------------------------------------------------

    void brokenCheckpoints() {
        QTemporaryDir tmp;
        const QString src = fixtureDir("gpt2-tiny");
        auto dir = [&](const char* name) {
            QDir(tmp.path()).mkdir(QString::fromLatin1(name));
            return tmp.filePath(QString::fromLatin1(name));
        };
        const QString missing = dir("missing");
        writeCheckpoint(src, missing, [](io::SafetensorsWriter&, const io::TensorView& t) {
            return t.name != "transformer.h.1.mlp.c_fc.bias";
        });
        HL_EXPECT_ERROR(Transformer::load(missing), "missing tensor", "transformer.h.1.mlp.c_fc.bias");

        const QString misnamed = dir("misnamed");
        writeCheckpoint(src, misnamed, [](io::SafetensorsWriter& w, const io::TensorView& t) {
            if (t.name != "transformer.h.2.ln_2.weight") return true;
            w.addBorrowed("transformer.h.2.ln2.weight", t.dtype, t.shape, t.data, t.nbytes);
            return false;
        });
        HL_EXPECT_ERROR(Transformer::load(misnamed), "missing tensor", "transformer.h.2.ln_2.weight");

        const QString extra = dir("extra");
        writeCheckpoint(src, extra, [](io::SafetensorsWriter& w, const io::TensorView& t) {
            if (t.name == "transformer.ln_f.bias") w.addBorrowed("transformer.h.3.ln_1.bias", t.dtype, t.shape, t.data, t.nbytes);
            return true;
        });
        HL_EXPECT_ERROR(Transformer::load(extra), "unexpected tensor", "transformer.h.3.ln_1.bias");

        const QString shape = dir("shape");
        writeCheckpoint(src, shape, [](io::SafetensorsWriter& w, const io::TensorView& t) {
            if (t.name != "transformer.h.0.attn.c_attn.weight") return true;
            w.addBorrowed(t.name, t.dtype, {64, 191}, t.data, 64 * 191 * 4);
            return false;
        });
        HL_EXPECT_ERROR(Transformer::load(shape), "transformer.h.0.attn.c_attn.weight", "[64, 191]", "[64, 192]");

        // A config that says 4 layers for a 3-layer checkpoint.
        const QString layers = dir("layers");
        writeCheckpoint(src, layers, [](io::SafetensorsWriter&, const io::TensorView&) { return true; },
                        [](nlohmann::json& c) { c["n_layer"] = 4; });
        HL_EXPECT_ERROR(Transformer::load(layers), "missing tensor", "h.3.");

        // Integer weights.
        const QString ints = dir("ints");
        writeCheckpoint(src, ints, [](io::SafetensorsWriter& w, const io::TensorView& t) {
            if (t.name != "transformer.ln_f.bias") return true;
            w.addBorrowed(t.name, io::DType::I32, t.shape, t.data, t.nbytes);
            return false;
        });
        HL_EXPECT_ERROR(Transformer::load(ints), "transformer.ln_f.bias", "I32");

        // GPT-2 hub layout: no "transformer." prefix and causal-mask buffers: accepted, same numbers.
        const QString hub = dir("hub");
        writeCheckpoint(src, hub, [](io::SafetensorsWriter& w, const io::TensorView& t) {
            w.addBorrowed(t.name.substr(std::string("transformer.").size()), t.dtype, t.shape, t.data, t.nbytes);
            if (t.name == "transformer.h.0.ln_1.bias") w.addBorrowed("h.0.attn.masked_bias", t.dtype, {1}, t.data, 4);
            return false;
        });
        HookSet hooks;
        hooks.capture("logits");
        QVERIFY(at::equal(Transformer::load(hub).run(kGpt2Prompt, hooks).at("logits"),
                          loadFixture("gpt2-tiny").run(kGpt2Prompt, hooks).at("logits")));
    }

    void unsupportedOptions() {
        QTemporaryDir tmp;
        const QString gated = tmp.filePath(QStringLiteral("gated"));
        QDir().mkpath(gated);
        writeCheckpoint(fixtureDir("stories260k"), gated, [](io::SafetensorsWriter&, const io::TensorView&) { return true; },
                        [](nlohmann::json& c) { c["mlp_bias"] = true; });
        HL_EXPECT_ERROR(Transformer::load(gated), "mlp_bias");
        const QString rope = tmp.filePath(QStringLiteral("rope"));
        QDir().mkpath(rope);
        writeCheckpoint(fixtureDir("stories260k"), rope, [](io::SafetensorsWriter&, const io::TensorView&) { return true; },
                        [](nlohmann::json& c) { c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; });
        HL_EXPECT_ERROR(Transformer::load(rope), "rope_scaling type 'dynamic'");
    }

    void badInputs() {
        const Transformer model = loadFixture("gpt2-tiny");
        HookSet hooks;
        hooks.capture("logits");
        HL_EXPECT_ERROR(model.run(std::vector<int64_t>(129, 11), hooks), "129 tokens", "context of 128");
        HL_EXPECT_ERROR(model.run(std::vector<int64_t>{50256, 50257}, hooks), "token id 50257", "position 1", "vocabulary");
        HL_EXPECT_ERROR(model.run(std::vector<int64_t>{-1}, hooks), "token id -1");
        HL_EXPECT_ERROR(model.run(std::vector<int64_t>{}, hooks), "empty");
        HL_EXPECT_ERROR(HookSet().capture("blocks.0.mlp.hook_postt"), "unknown hook", "blocks.0.mlp.hook_postt");
        HL_EXPECT_ERROR(HookSet().capture("blocks.x.mlp.hook_post"), "unknown hook");
        auto runWith = [&](const std::function<void(HookSet&)>& f) {
            HookSet h;
            f(h);
            return model.run(kGpt2Prompt, h);
        };
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.capture("blocks.3.mlp.hook_post"); }), "layer 3", "3 layers");
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.capture("blocks.0.attn.hook_rot_q"); }), "rotary");
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.capture("blocks.0.mlp.hook_pre_linear"); }), "gated");
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.zeroHeadValues(0, 4); }), "L0H4");
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.capture("logits").atPositions({12}); }), "position 12");
        HL_EXPECT_ERROR(runWith([](HookSet& h) { h.capture("logits").atPositions({1, 2}); }), "2 positions for 1 rows");
        const Transformer pythia = loadFixture("pythia-tiny");
        HookSet mid;
        mid.capture("blocks.0.hook_resid_mid");
        HL_EXPECT_ERROR(pythia.run(kPythiaPrompt, mid), "parallel-residual");
        HookSet pos;
        pos.capture("hook_pos_embed");
        HL_EXPECT_ERROR(pythia.run(kPythiaPrompt, pos), "rotary");
    }
};

QTEST_GUILESS_MAIN(TestEngine)
#include "test_engine.moc"
