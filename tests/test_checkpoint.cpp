// Checkpoint folders: config.json of the three families, single and sharded safetensors, the hub
// cache layout, and clear errors for broken folders.
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "tests/sharded_weights.h"
#include "tests/test_util.h"

using namespace headlight;

namespace {

void copyFile(const QString& from, const QString& to) { io::writeFileAtomically(to, io::readFile(from)); }

// Writes a sharded copy of `srcDir`'s model.safetensors into `dstDir` (two shards + index).
void writeSharded(const QString& srcDir, const QString& dstDir) {
    const auto st = io::SafetensorsFile::open(QDir(srcDir).filePath(QStringLiteral("model.safetensors")));
    const test::TwoShards shards = test::splitInTwoShards(st);
    shards.first.write(QDir(dstDir).filePath(test::TwoShards::firstName()));
    shards.second.write(QDir(dstDir).filePath(test::TwoShards::secondName()));
    io::writeFileAtomically(QDir(dstDir).filePath(QStringLiteral("model.safetensors.index.json")), shards.indexBytes());
    copyFile(QDir(srcDir).filePath(QStringLiteral("config.json")), QDir(dstDir).filePath(QStringLiteral("config.json")));
}

}  // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;

private Q_SLOTS:
    void gpt2Config() {
        const QString path = test::fixture(QStringLiteral("gpt2-tiny/config.json"));
        HL_REQUIRE_FIXTURE(path);
        const ModelConfig c = ModelConfig::fromFile(path);
        QCOMPARE(c.family, Family::Gpt2);
        QCOMPARE(c.nLayers, 3);
        QCOMPARE(c.dModel, 64);
        QCOMPARE(c.nHeads, 4);
        QCOMPARE(c.dHead, 16);
        QCOMPARE(c.dMlp, 256);
        QCOMPARE(c.dVocab, 50257);
        QCOMPARE(c.nCtx, 128);
        QCOMPARE(c.act, Activation::GeluNew);
        QCOMPARE(c.norm, NormKind::LayerNorm);
        QCOMPARE(c.positional, PositionalKind::Learned);
        QVERIFY(c.tiedEmbeddings);
        QVERIFY(!c.parallelResidual);
        QCOMPARE(c.bosTokenId.value_or(-1), 50256);
    }

    void neoxConfig() {
        const QString path = test::fixture(QStringLiteral("pythia-tiny/config.json"));
        HL_REQUIRE_FIXTURE(path);
        const ModelConfig c = ModelConfig::fromFile(path);
        QCOMPARE(c.family, Family::GptNeoX);
        QCOMPARE(c.dHead, 16);
        QCOMPARE(c.rotaryDim, 4);  // int(16 * 0.25)
        QCOMPARE(c.act, Activation::Gelu);
        QVERIFY(c.parallelResidual);
        QVERIFY(!c.tiedEmbeddings);
        QCOMPARE(c.dVocab, 50304);
        QCOMPARE(c.bosTokenId.value_or(-1), 0);
    }

    void llamaConfig() {
        const QString path = test::fixture(QStringLiteral("stories260k/config.json"));
        HL_REQUIRE_FIXTURE(path);
        const ModelConfig c = ModelConfig::fromFile(path);
        QCOMPARE(c.family, Family::Llama);
        QCOMPARE(c.nLayers, 5);
        QCOMPARE(c.nHeads, 8);
        QCOMPARE(c.nKvHeads, 4);
        QCOMPARE(c.dHead, 8);
        QCOMPARE(c.dMlp, 172);
        QCOMPARE(c.norm, NormKind::RmsNorm);
        QCOMPARE(c.mlp, MlpKind::Gated);
        QCOMPARE(c.act, Activation::Silu);
        QCOMPARE(c.rotaryDim, 8);
        QVERIFY(c.tiedEmbeddings);
        QVERIFY(!c.attnBias);
    }

    void badConfigs_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("needle");
        QTest::newRow("not json") << QByteArray("{") << "not valid JSON";
        QTest::newRow("no model_type") << QByteArray(R"({"n_layer": 2})") << "missing field 'model_type'";
        QTest::newRow("unknown type") << QByteArray(R"({"model_type": "bert"})") << "unsupported model_type 'bert'";
        QTest::newRow("gpt2 missing n_layer")
            << QByteArray(R"({"model_type": "gpt2", "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 4})")
            << "missing field 'n_layer'";
        QTest::newRow("negative size")
            << QByteArray(R"({"model_type": "gpt2", "n_layer": -1, "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 4})")
            << "positive integer";
        QTest::newRow("bad activation")
            << QByteArray(R"({"model_type": "gpt2", "n_layer": 1, "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 4, "activation_function": "mish"})")
            << "unsupported activation 'mish'";
        QTest::newRow("rope scaling")
            << QByteArray(R"({"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10, "max_position_embeddings": 4, "rope_scaling": {"type": "yarn", "factor": 4}})")
            << "unsupported rope_scaling type 'yarn'";
        const QByteArray llama = R"("model_type": "llama", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10, "max_position_embeddings": 4)";
        QTest::newRow("quantised") << "{" + llama + R"(, "quantization_config": {"quant_method": "awq", "bits": 4}})"
                                   << "quantised weights (quantization_config 'awq') are not supported";
        QTest::newRow("moe experts") << "{" + llama + R"(, "num_local_experts": 8})"
                                     << "mixture-of-experts models are not supported (model_type 'llama', num_local_experts 8)";
        QTest::newRow("moe type") << QByteArray(R"({"model_type": "qwen3_moe"})")
                                  << "mixture-of-experts models are not supported (model_type 'qwen3_moe')";
        QTest::newRow("multimodal config") << "{" + llama + R"(, "vision_config": {}})"
                                           << "multimodal checkpoints are not supported (model_type 'llama' has vision_config)";
        QTest::newRow("multimodal gemma3") << QByteArray(R"({"model_type": "gemma3"})")
                                           << "multimodal checkpoints are not supported (model_type 'gemma3')";
        QTest::newRow("gqa mismatch")
            << QByteArray(R"({"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 3, "num_key_value_heads": 2, "intermediate_size": 8, "vocab_size": 10, "max_position_embeddings": 4})")
            << "multiple of num_key_value_heads";
    }
    // The 2026 families' fixtures: each family's named pieces as its config.json sets them.
    void familyConfigs() {
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("phi3-tiny/config.json")));
        auto cfg = [](const char* name) {  // a missing fixture throws: the test fails, never skips
            return ModelConfig::fromFile(test::fixture(QString::fromLatin1(name) + QStringLiteral("/config.json")));
        };
        const ModelConfig llama = cfg("llama3.2-tiny");
        QCOMPARE(llama.family, Family::Llama);
        QCOMPARE(llama.ropeScaling, RopeScaling::Llama3);
        QCOMPARE(llama.ropeFactor, 32.0);
        QCOMPARE(llama.ropeOriginalContext, 8192);
        QCOMPARE(llama.dHead, 16);  // explicit head_dim, != hidden_size / heads
        QCOMPARE(llama.bosTokenId, std::optional<int>(128000));
        const ModelConfig qwen2 = cfg("qwen2.5-tiny");
        QVERIFY(qwen2.attnBias && !qwen2.attnOutBias);
        QVERIFY(qwen2.localLayers.empty());  // use_sliding_window false
        QVERIFY(!qwen2.bosTokenId && qwen2.configBosTokenId == std::optional<int>(151643));
        QCOMPARE(cfg("qwen3-tiny").qkNorm, QkNorm::PerHead);
        const ModelConfig g2 = cfg("gemma2-tiny");
        QVERIFY(g2.normPlusOne && g2.blockNorms == BlockNorms::Sandwich);
        QCOMPARE(g2.embedScale, 8.0);
        QCOMPARE(g2.attnSoftcap, 50.0);
        QCOMPARE(g2.finalSoftcap, 30.0);
        QCOMPARE(g2.attnScale(), 0.25);
        QCOMPARE(g2.localLayers, (std::vector<bool>{true, false, true}));
        QCOMPARE(g2.act, Activation::GeluNew);
        const ModelConfig g3 = cfg("gemma3-tiny");
        QCOMPARE(g3.family, Family::Gemma3);
        QCOMPARE(g3.localLayers, (std::vector<bool>{true, true, false}));
        QCOMPARE(g3.rotaryBaseLocal, 10000.0);
        QCOMPARE(g3.finalSoftcap, 0.0);
        QCOMPARE(cfg("mistral-tiny").localLayers, (std::vector<bool>{true, true, true}));
        QCOMPARE(cfg("mistral-tiny").slidingWindow, 16);
        const ModelConfig olmo = cfg("olmo2-tiny");
        QVERIFY(olmo.blockNorms == BlockNorms::PostOnly && olmo.qkNorm == QkNorm::FullWidth && !olmo.bosTokenId);
        const ModelConfig phi = cfg("phi3-tiny");
        QCOMPARE(phi.family, Family::Phi3);
        QCOMPARE(phi.slidingWindow, 8);
        QVERIFY(!phi.tiedEmbeddings);
        QVERIFY(QString::fromStdString(g2.featureSummary()).contains(QStringLiteral("sliding window 8 on 2/3 layers")));
    }

    void badConfigs() {
        QFETCH(QByteArray, json);
        QFETCH(QString, needle);
        HL_EXPECT_ERROR(ModelConfig::fromJsonText(json.toStdString(), "x/config.json"), "x/config.json",
                        needle);
    }

    void configSizesAreBounded_data() {
        // Sizes are checked before anything is allocated from them (issue 18): max_position_embeddings
        // = 2^30 used to allocate 8 GiB of rotary angles, 4 * n_embd overflowed, rope_theta = 0 gave an
        // empty study with exit 0.
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("needle");
        const QByteArray llama = R"({"model_type": "llama", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10)";
        QTest::newRow("huge context") << llama + R"(, "max_position_embeddings": 1073741824})" << "context length";
        QTest::newRow("rope_theta 0") << llama + R"(, "max_position_embeddings": 4, "rope_theta": 0})" << "rope_theta";
        QTest::newRow("rope_theta -1") << llama + R"(, "max_position_embeddings": 4, "rope_theta": -1.0})" << "rope_theta";
        QTest::newRow("rope_theta inf") << llama + R"(, "max_position_embeddings": 4, "rope_theta": 1e400})" << "not valid JSON";
        QTest::newRow("eps 0") << llama + R"(, "max_position_embeddings": 4, "rms_norm_eps": 0})" << "epsilon";
        QTest::newRow("4 n_embd overflows")
            << QByteArray(R"({"model_type": "gpt2", "n_layer": 1, "n_embd": 1073741824, "n_head": 1, "vocab_size": 10, "n_positions": 4})")
            << "hidden size 1073741824";
        QTest::newRow("many layers")
            << QByteArray(R"({"model_type": "gpt2", "n_layer": 100000, "n_embd": 8, "n_head": 2, "vocab_size": 10, "n_positions": 4})")
            << "number of layers 100000";
        QTest::newRow("huge vocab")
            << QByteArray(R"({"model_type": "gpt2", "n_layer": 1, "n_embd": 8, "n_head": 2, "vocab_size": 1000000000, "n_positions": 4})")
            << "vocabulary size";
        QTest::newRow("neox rotary base 0")
            << QByteArray(R"({"model_type": "gpt_neox", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10, "max_position_embeddings": 4, "rotary_emb_base": 0})")
            << "rotary base";
    }
    void configSizesAreBounded() {
        QFETCH(QByteArray, json);
        QFETCH(QString, needle);
        HL_EXPECT_ERROR(ModelConfig::fromJsonText(json.toStdString(), "x/config.json"), "x/config.json", needle);
    }

    void opensSingleFileCheckpoint() {
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("stories260k/model.safetensors")));
        const Checkpoint ck = Checkpoint::open(test::fixture(QStringLiteral("stories260k")));
        QCOMPARE(ck.weightFiles().size(), std::size_t(1));
        QCOMPARE(ck.at("model.embed_tokens.weight").shape, (std::vector<int64_t>{512, 64}));
        QCOMPARE(ck.parameterCount(), int64_t(260032));  // SOURCE.md: 260,032 parameters (tied head)
        QCOMPARE(ck.dtypeSummary(), std::string("F32"));
        HL_EXPECT_ERROR(ck.at("lm_head.weight"), "missing tensor 'lm_head.weight'");
    }

    void opensShardedCheckpoint() {
        const QString dst = tmp_.filePath(QStringLiteral("sharded"));
        QVERIFY(QDir().mkpath(dst));
        writeSharded(test::fixture(QStringLiteral("stories260k")), dst);
        const Checkpoint ck = Checkpoint::open(dst);
        QCOMPARE(ck.weightFiles().size(), std::size_t(2));
        QCOMPARE(ck.parameterCount(), int64_t(260032));
        const auto& q = ck.at("model.layers.3.self_attn.q_proj.weight");
        QCOMPARE(q.shape, (std::vector<int64_t>{64, 64}));
        // Same bytes as the single-file checkpoint.
        const Checkpoint single = Checkpoint::open(test::fixture(QStringLiteral("stories260k")));
        const auto& q1 = single.at("model.layers.3.self_attn.q_proj.weight");
        QCOMPARE(std::memcmp(q.data, q1.data, q.nbytes), 0);

        // A shard that went missing is named.
        QFile::remove(QDir(dst).filePath(QStringLiteral("model-00002-of-00002.safetensors")));
        HL_EXPECT_ERROR(Checkpoint::open(dst), "model-00002-of-00002.safetensors", "missing");
    }

    void brokenFolders() {
        const QString empty = tmp_.filePath(QStringLiteral("empty"));
        QVERIFY(QDir().mkpath(empty));
        HL_EXPECT_ERROR(Checkpoint::open(empty), "no config.json");
        copyFile(test::fixture(QStringLiteral("stories260k/config.json")), QDir(empty).filePath(QStringLiteral("config.json")));
        HL_EXPECT_ERROR(Checkpoint::open(empty), "no model.safetensors");
        io::writeFileAtomically(QDir(empty).filePath(QStringLiteral("model.safetensors.index.json")), QByteArray("{]"));
        HL_EXPECT_ERROR(Checkpoint::open(empty), "model.safetensors.index.json", "not valid JSON");
        HL_EXPECT_ERROR(Checkpoint::open(tmp_.filePath(QStringLiteral("does/not/exist"))), "does not exist");
    }

    void hubCacheLayout() {
        const QString home = tmp_.filePath(QStringLiteral("hf"));
        const QString repo = QDir(home).filePath(QStringLiteral("hub/models--karpathy--stories260k"));
        const QString snap = QDir(repo).filePath(QStringLiteral("snapshots/0123abcd"));
        QVERIFY(QDir().mkpath(snap));
        QVERIFY(QDir().mkpath(QDir(repo).filePath(QStringLiteral("refs"))));
        io::writeFileAtomically(QDir(repo).filePath(QStringLiteral("refs/main")), QByteArray("0123abcd\n"));
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
            QVERIFY(QFile::link(test::fixture(QStringLiteral("stories260k/") + QLatin1String(f)),
                                QDir(snap).filePath(QLatin1String(f))));
        qputenv("HF_HOME", home.toUtf8());
        qunsetenv("HF_HUB_CACHE");
        QCOMPARE(hubCacheDir(), QDir(home).filePath(QStringLiteral("hub")));
        QCOMPARE(resolveModelDir(QStringLiteral("karpathy/stories260k")), snap);
        QCOMPARE(resolveModelDir(QStringLiteral("karpathy/stories260k@0123abcd")), snap);
        const Checkpoint ck = Checkpoint::open(QStringLiteral("karpathy/stories260k"));
        QCOMPARE(ck.config().family, Family::Llama);
        HL_EXPECT_ERROR(resolveModelDir(QStringLiteral("karpathy/stories260k@v2")), "revision 'v2'");
        HL_EXPECT_ERROR(resolveModelDir(QStringLiteral("EleutherAI/pythia-160m")), "Hugging Face cache",
                        "models--EleutherAI--pythia-160m");
        qunsetenv("HF_HOME");
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
