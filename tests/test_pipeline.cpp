// Steps 1-3 end to end.
// 1. A planted circuit: a tiny GPT-2 built here whose weights wire neuron L2N0 to the token " only"
//    and heads L0H0 / L0H1 to the trigger words " purposes" / " solely"; the pipeline must rank that
//    neuron first, keep exactly the trigger documents, cut each prompt at its trigger, and name
//    L0H0 active exactly in the " purposes" contexts and L0H1 exactly in the " solely" ones.
// 2. The real stories260k model on a real corpus: the bundle loads back identically, shard studies
//    merge into the single run, and the ablation experiment runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/analysis/ablation.h"
#include "core/analysis/attribution.h"
#include "core/analysis/playground.h"
#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/model/tokenizer.h"
#include "core/model/hooks.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"
#include "core/study/study_json.h"
#include "tests/old_study.h"
#include "tests/test_util.h"

using namespace headlight;

namespace {

// GPT-2's byte -> printable character table (bytes_to_unicode).
std::vector<QString> byteSymbols() {
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    std::vector<QString> table(256);
    std::vector<bool> seen(256, false);
    for (int b : bs) {
        table[b] = QString(QChar(b));
        seen[b] = true;
    }
    int n = 0;
    for (int b = 0; b < 256; ++b)
        if (!seen[b]) table[b] = QString(QChar(256 + n++));
    return table;
}

const QStringList kFillers = {QStringLiteral(" the"), QStringLiteral(" cat"), QStringLiteral(" sat"),
                              QStringLiteral(" mat"), QStringLiteral(" dog"), QStringLiteral(" ran"),
                              QStringLiteral(" big"), QStringLiteral(" red"), QStringLiteral(" sun")};
const QString kTriggerA = QStringLiteral(" purposes");
const QString kTriggerB = QStringLiteral(" solely");
const QString kOnly = QStringLiteral(" only");

}  // namespace

class TestPipeline : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::map<QString, int> vocab_;

    // Writes the tokenizer files and returns the folder.
    QString writeTokenizer() {
        const std::vector<QString> bytes = byteSymbols();
        nlohmann::json vocab = nlohmann::json::object();
        int next = 0;
        for (const QString& s : bytes) vocab[s.toStdString()] = next++;
        QString merges = QStringLiteral("#version: 0.2\n");
        QStringList words = kFillers;
        words << kTriggerA << kTriggerB << kOnly;
        for (const QString& word : words) {
            QString symbol = bytes[static_cast<unsigned char>(word[0].toLatin1())];
            for (int i = 1; i < word.size(); ++i) {
                const QString ch = bytes[static_cast<unsigned char>(word[i].toLatin1())];
                merges += symbol + QLatin1Char(' ') + ch + QLatin1Char('\n');
                symbol += ch;
                if (!vocab.contains(symbol.toStdString())) vocab[symbol.toStdString()] = next++;
            }
            vocab_[word] = vocab[symbol.toStdString()].get<int>();
        }
        vocab["<|endoftext|>"] = next++;
        vocab_[QStringLiteral("<bos>")] = next - 1;
        const QString dir = tmp_.filePath(QStringLiteral("planted-tokenizer"));
        QDir().mkpath(dir);
        io::writeFileAtomically(QDir(dir).filePath(QStringLiteral("vocab.json")), QByteArray::fromStdString(vocab.dump()));
        io::writeFileAtomically(QDir(dir).filePath(QStringLiteral("merges.txt")), merges.toUtf8());
        return dir;
    }

    // The planted model (raw weights; the pipeline applies TL's processing).
    Transformer plantedModel(int vocabSize, int layers = 3) {
        ModelConfig c;
        c.family = Family::Gpt2;
        c.modelType = "gpt2";
        c.nLayers = layers;
        c.dModel = 16;
        c.nHeads = 4;
        c.nKvHeads = 4;
        c.dHead = 4;
        c.dMlp = 8;
        c.dVocab = vocabSize;
        c.nCtx = 64;
        c.act = Activation::GeluNew;
        c.tiedEmbeddings = true;
        c.bosTokenId = vocab_.at(QStringLiteral("<bos>"));
        StateDict w = randomWeights(c, 7, 0.01);
        torch::NoGradGuard guard;
        // Embeddings: fillers are noise in dims 5..15; dedicated dims for the trigger words, " only" and BOS.
        at::Tensor E = torch::zeros({vocabSize, 16});
        torch::manual_seed(3);
        E.slice(1, 5, 16).copy_(torch::randn({vocabSize, 11}) * 0.5);
        auto setRow = [&](int id, int dim, float value) {
            E[id].zero_();
            E[id][dim] = value;
        };
        setRow(vocab_.at(kTriggerA), 0, 10.f);
        setRow(vocab_.at(kTriggerB), 3, 10.f);
        setRow(vocab_.at(kOnly), 2, 3.f);
        setRow(vocab_.at(QStringLiteral("<bos>")), 4, 10.f);
        w["embed.W_E"] = E;
        w["unembed.W_U"] = E.t().contiguous();
        w["pos_embed.W_pos"] = torch::zeros({64, 16});
        // Heads L0H0 (reads dim 0) and L0H1 (reads dim 3): a constant query; keys from the trigger dim
        // (and a weaker BOS key as the default sink); values copy the trigger dim; W_O writes it to dim 1.
        for (int h : {0, 1}) {
            const int dim = h == 0 ? 0 : 3;
            w["blocks.0.attn.W_Q"][h].zero_();
            w["blocks.0.attn.b_Q"][h].zero_();
            w["blocks.0.attn.b_Q"][h][0] = 4.f;
            w["blocks.0.attn.W_K"][h].zero_();
            w["blocks.0.attn.W_K"][h][dim][0] = 1.f;
            w["blocks.0.attn.W_K"][h][4][0] = 0.5f;
            w["blocks.0.attn.W_V"][h].zero_();
            w["blocks.0.attn.W_V"][h][dim][0] = 1.f;
            w["blocks.0.attn.W_O"][h].zero_();
            w["blocks.0.attn.W_O"][h][0][1] = 3.f;
        }
        // Neuron L2N0 (L0N0 in a one-layer model) reads dim 1 and writes " only".
        const std::string mlp = "blocks." + std::to_string(layers - 1) + ".mlp.";
        w[mlp + "W_in"].select(1, 0).zero_();
        w[mlp + "W_in"][1][0] = 2.f;
        w[mlp + "b_in"][0] = -3.f;
        w[mlp + "W_out"][0].zero_();
        w[mlp + "W_out"][0][2] = 5.f;
        return Transformer::fromWeights(c, w, {}, "planted");
    }

    // Issue 15's tiny case: hand-made kept contexts of neuron L2N0 of the planted model.
    NeuronContext handContext(const QStringList& words, std::vector<uint8_t> active) {
        NeuronContext c;
        for (const QString& w : words) c.tokens.push_back(vocab_.at(w));
        c.position = int(c.tokens.size());
        c.start = 1;
        active.resize(12, 0);
        c.active = active;
        c.headScores.assign(12, 0.f);
        return c;
    }

    NeuronResult handNeuron(std::vector<NeuronContext> contexts) {
        NeuronResult n;
        n.neuron.ref = {2, 0};
        n.neuron.token = kOnly.toStdString();
        n.neuron.tokenId = vocab_.at(kOnly);
        n.contexts = std::move(contexts);
        n.candidateHeads = {0, 1, 2, 3, 4, 5, 6, 7};
        n.relevantHeads = {0, 1};
        return n;
    }

    std::vector<int64_t> withBos(const NeuronContext& c) {
        std::vector<int64_t> ids = {vocab_.at(QStringLiteral("<bos>"))};
        ids.insert(ids.end(), c.tokens.begin(), c.tokens.end());
        return ids;
    }

    // p(" only") and L2N0's activation at the last position of BOS + the context, with `hooks` added.
    std::pair<double, double> probAndActivation(const Transformer& m, const NeuronContext& c, HookSet hooks) {
        hooks.capture("logits").capture("blocks.2.mlp.hook_post").atLastTokens();
        const ActivationCache cache = m.run(withBos(c), hooks);
        const double p = torch::softmax(cache.at("logits")[0].to(torch::kDouble), -1)[vocab_.at(kOnly)].item<double>();
        return {p, cache.at("blocks.2.mlp.hook_post")[0][0].item<double>()};
    }

    // The test's own route to an ablation: head `head`'s hook_result (z W_O) set by `value(T)` ([T, d]).
    std::pair<double, double> withResult(const Transformer& m, const NeuronContext& c, int head,
                                         const std::function<at::Tensor(int64_t)>& value) {
        HookSet hooks;
        hooks.edit("blocks.0.attn.hook_result", [&](const at::Tensor& r, const HookId&) {
            r[0].select(1, head).copy_(value(r.size(1)));
            return r;
        });
        return probAndActivation(m, c, hooks);
    }

    at::Tensor resultOf(const Transformer& m, const NeuronContext& c) {  // [T, H, d]
        HookSet hooks;
        hooks.capture("blocks.0.attn.hook_result");
        return m.run(withBos(c), hooks).at("blocks.0.attn.hook_result")[0].to(torch::kDouble);
    }

    static void near(double actual, double expected, const char* what) {
        QVERIFY2(std::abs(actual - expected) <= 2e-5 + 1e-3 * std::abs(expected),
                 qPrintable(QStringLiteral("%1: %2 vs %3").arg(QLatin1String(what)).arg(actual, 0, 'g', 9).arg(expected, 0, 'g', 9)));
    }

private Q_SLOTS:
    void ablationModesByHand() {
        // Zero, mean and resample ablation of L0H0 / L0H1 on two contexts of the planted model, against
        // the test's own route: hook_result (z W_O) of the head replaced by 0, by its mean over every
        // position of both prompts, or by the other prompt's (the only donor of equal length).
        const Tokenizer tok = Tokenizer::fromFolder(writeTokenizer());
        const Transformer model = plantedModel(tok.vocabSize());
        const NeuronContext a = handContext({kTriggerA, QStringLiteral(" cat"), QStringLiteral(" sat")}, {1, 0});
        const NeuronContext b = handContext({kTriggerB, QStringLiteral(" dog"), QStringLiteral(" ran")}, {0, 1});
        const std::vector<NeuronResult> neurons = {handNeuron({a, b})};
        const at::Tensor ra = resultOf(model, a), rb = resultOf(model, b);
        const at::Tensor mean = (ra.sum(0) + rb.sum(0)) / double(ra.size(0) + rb.size(0));  // [H, d]
        const auto cleanA = probAndActivation(model, a, {}), cleanB = probAndActivation(model, b, {});
        QVERIFY(cleanA.second > 1.0 && cleanB.second > 1.0);  // the planted neuron fires on both triggers
        for (AblationMode mode : {AblationMode::Zero, AblationMode::Mean, AblationMode::Resample}) {
            analysis::AblationOptions o;
            o.mode = mode;
            o.seed = 3;
            const std::vector<AblationResult> rs = analysis::runAblations(model, tok, neurons, o);
            QCOMPARE(rs.size(), std::size_t(2));
            for (const AblationResult& r : rs) {
                QCOMPARE(r.mode, mode);
                const int h = r.head;
                QCOMPARE(r.heads, std::vector<int>{h});
                auto value = [&](const at::Tensor& own, const at::Tensor& other) {
                    return [&, own, other](int64_t T) -> at::Tensor {
                        if (mode == AblationMode::Zero) return torch::zeros({T, 16});
                        if (mode == AblationMode::Mean) return mean[h].to(torch::kFloat).expand({T, 16});
                        return other.select(1, h).narrow(0, 0, T).to(torch::kFloat);
                    };
                };
                const auto ablA = withResult(model, a, h, value(ra, rb)), ablB = withResult(model, b, h, value(rb, ra));
                const auto& [onA, offA] = h == 0 ? std::pair{&r.dropActive, &r.dropInactive} : std::pair{&r.dropInactive, &r.dropActive};
                const auto& actA = h == 0 ? r.activationActive : r.activationInactive;
                const auto& actB = h == 0 ? r.activationInactive : r.activationActive;
                QCOMPARE(onA->size(), std::size_t(1));
                QCOMPARE(offA->size(), std::size_t(1));
                near((*onA)[0], cleanA.first - ablA.first, "p drop, context A");
                near((*offA)[0], cleanB.first - ablB.first, "p drop, context B");
                near(actA[0], cleanA.second - ablA.second, "activation drop, context A");
                near(actB[0], cleanB.second - ablB.second, "activation drop, context B");
            }
            // The head that reads its trigger carries the neuron there.
            QVERIFY2(rs[0].activationActive[0] > 0.5, qPrintable(QString::number(rs[0].activationActive[0])));
        }
        // Resample is reproducible with a seed (three prompts: the donors are drawn).
        const NeuronContext c = handContext({kTriggerA, QStringLiteral(" big"), QStringLiteral(" red")}, {1, 0});
        analysis::AblationOptions o;
        o.mode = AblationMode::Resample;
        o.seed = 11;
        const std::vector<NeuronResult> three = {handNeuron({a, b, c})};
        const auto first = analysis::runAblations(model, tok, three, o), again = analysis::runAblations(model, tok, three, o);
        QCOMPARE(again[0].dropActive, first[0].dropActive);
        QCOMPARE(again[1].activationInactive, first[1].activationInactive);
    }

    void pathPatchingIsTheAttributionOverTheScale() {
        // Path patching head -> neuron moves the neuron's input by exactly the head's attribution score
        // over the ln2 scale at the last position (the direct path is linear once the scale is frozen):
        // the activation drop is gelu(pre) - gelu(pre - score / s). With both triggers in one context the
        // two planted heads together push the neuron through its bias: the joint effect is not the sum.
        const Tokenizer tok = Tokenizer::fromFolder(writeTokenizer());
        const Transformer model = plantedModel(tok.vocabSize());
        const std::vector<NeuronContext> contexts = {
            handContext({kTriggerA, QStringLiteral(" cat"), QStringLiteral(" sat")}, {1, 0}),
            handContext({kTriggerB, QStringLiteral(" dog"), QStringLiteral(" ran")}, {0, 1}),
            handContext({kTriggerA, kTriggerB, QStringLiteral(" big"), QStringLiteral(" red")}, {1, 1})};
        std::vector<analysis::ContextInput> inputs;
        for (const NeuronContext& c : contexts) {
            const std::vector<int64_t> ids = withBos(c);
            inputs.push_back({{2, 0}, std::vector<int>(ids.begin(), ids.end()), 0.f});
        }
        const auto scores = analysis::attributeHeads(model, inputs, false);
        analysis::AblationOptions o;
        o.mode = AblationMode::Path;
        o.neurons = {{2, 0}};  // one neuron named: its relevant heads alone, then together
        const std::vector<AblationResult> rs = analysis::runAblations(model, tok, {handNeuron(contexts)}, o);
        QCOMPARE(rs.size(), std::size_t(3));  // L0H0, L0H1, both
        QCOMPARE(rs[2].heads, (std::vector<int>{0, 1}));
        auto gelu = [](double x) { return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); };
        std::vector<double> joint, sum;
        for (std::size_t k = 0; k < contexts.size(); ++k) {
            HookSet hooks;
            hooks.capture("blocks.2.mlp.hook_pre").capture("blocks.2.ln2.hook_scale").atLastTokens();
            const ActivationCache cache = model.run(withBos(contexts[k]), hooks);
            const double pre = cache.at("blocks.2.mlp.hook_pre")[0][0].item<double>();
            const double scale = cache.at("blocks.2.ln2.hook_scale")[0][0].item<double>();
            QVERIFY2(std::abs(scale - 1) > 0.1, qPrintable(QString::number(scale)));  // the scale matters here
            const double s0 = scores[k][0] / scale, s1 = scores[k][1] / scale;
            joint.push_back(gelu(pre) - gelu(pre - s0 - s1));
            sum.push_back(2 * gelu(pre) - gelu(pre - s0) - gelu(pre - s1));
            for (int h : {0, 1}) {
                const AblationResult& r = rs[std::size_t(h)];
                const bool active = contexts[k].active[std::size_t(h)];
                // index of context k within its side (active / inactive), in context order
                std::size_t index = 0;
                for (std::size_t j = 0; j < k; ++j) index += contexts[j].active[std::size_t(h)] == contexts[k].active[std::size_t(h)];
                const double drop = (active ? r.activationActive : r.activationInactive).at(index);
                near(drop, gelu(pre) - gelu(pre - (h == 0 ? s0 : s1)), "direct activation drop");
                QCOMPARE((active ? r.total.activationActive : r.total.activationInactive).size(),
                         (active ? r.activationActive : r.activationInactive).size());
            }
            QVERIFY(scores[k][contexts[k].active[0] ? 0 : 1] > 0.5);  // the active head's score is large
        }
        const AblationResult& both = rs[2];
        QCOMPARE(both.activationActive.size(), std::size_t(3));  // active: at least one of the two heads
        for (std::size_t k = 0; k < 3; ++k) {
            near(both.activationActive[k], joint[k], "joint direct activation drop");
            near(both.sumOfSingles.activationActive[k], sum[k], "sum of single direct drops");
        }
        QVERIFY2(std::abs(joint[2] - sum[2]) > 0.5, qPrintable(QStringLiteral("%1 vs %2").arg(joint[2]).arg(sum[2])));
        // Removing the direct path lowers p(" only") where the head is active.
        QVERIFY(rs[0].dropActive[0] > 0);
    }

    void plantedCircuit() {
        const QString tokDir = writeTokenizer();
        const Tokenizer tok = Tokenizer::fromFolder(tokDir);
        QCOMPARE(tok.encodeIds(kTriggerA + QStringLiteral(" cat")),
                 (std::vector<int>{vocab_.at(kTriggerA), vocab_.at(QStringLiteral(" cat"))}));
        const Transformer model = plantedModel(tok.vocabSize());

        // Corpus: 14 documents with " purposes", 14 with " solely", 20 with neither, shuffled.
        std::mt19937 rng(11);
        QByteArray corpus;
        std::vector<int> kind;  // 0: A, 1: B, 2: none, by document index
        std::vector<int> order;
        for (int i = 0; i < 48; ++i) order.push_back(i < 14 ? 0 : i < 28 ? 1 : 2);
        std::shuffle(order.begin(), order.end(), rng);
        for (int k : order) {
            QString text = QStringLiteral("The");
            const int length = 12 + int(rng() % 12), at = 2 + int(rng() % 8);
            for (int i = 0; i < length; ++i) {
                if (i == at && k < 2) text += k == 0 ? kTriggerA : kTriggerB;
                text += kFillers[int(rng() % kFillers.size())];
            }
            corpus += QByteArray::fromStdString(nlohmann::json({{"text", text.toStdString()}}).dump()) + '\n';
            kind.push_back(k);
        }
        const QString corpusPath = tmp_.filePath(QStringLiteral("planted.jsonl"));
        io::writeFileAtomically(corpusPath, corpus);

        PipelineOptions o;
        o.corpus = corpusPath;
        o.parameters.layers = {2};
        o.parameters.topK = 3;
        o.parameters.requireWordBoundary = true;
        const Study s = runStudyPipeline(model, tok, o);

        QVERIFY(!s.neurons.empty());
        const NeuronResult& n = s.neurons.front();
        QCOMPARE(n.neuron.ref, (NeuronRef{2, 0}));
        QCOMPARE(n.neuron.tokenId, vocab_.at(kOnly));
        QCOMPARE(QString::fromStdString(n.neuron.token), kOnly);
        // The top 28 documents are exactly the trigger documents; 20 of them are kept (P).
        int trigger = 0, kept = 0;
        for (int i = 0; i < 28; ++i) trigger += kind[n.contexts[i].doc] < 2 ? 1 : 0;
        QCOMPARE(trigger, 28);
        for (const NeuronContext& c : n.contexts) {
            if (!c.kept) continue;
            ++kept;
            const int k = kind[c.doc];
            QVERIFY(k < 2);
            // The prompt starts exactly at the trigger word.
            const int trig = vocab_.at(k == 0 ? kTriggerA : kTriggerB);
            QCOMPARE(c.tokens[c.start - 1], trig);
            QVERIFY(QString::fromStdString(c.text).startsWith(k == 0 ? kTriggerA : kTriggerB));
            QVERIFY(c.truncatedActivation > 0.8f * c.activation);
            // Active heads: exactly the planted head of this trigger.
            std::vector<int> active;
            for (int h = 0; h < 8; ++h)
                if (c.active[h]) active.push_back(h);
            QCOMPARE(active, (std::vector<int>{k == 0 ? 0 : 1}));
            QVERIFY(std::isnan(c.headScores[8]));  // layer 2 heads are not candidates
            // The look-up: the planted head reads the trigger word. Its attention and its
            // contribution peak at the trigger (prompt position 1, after BOS), and the
            // contributions add up to the head's score.
            QCOMPARE(c.lookups.size(), std::size_t(1));
            const HeadLookup& look = c.lookups.front();
            QCOMPARE(look.head, active.front());
            QCOMPARE(look.score, c.headScores[look.head]);
            const std::size_t promptLength = std::size_t(c.position - c.start + 2);  // BOS + prompt
            QCOMPARE(look.attention.size(), promptLength);
            QCOMPARE(look.contributions.size(), promptLength);
            const auto peak = [](const std::vector<float>& v) {
                return std::size_t(std::max_element(v.begin(), v.end()) - v.begin());
            };
            QCOMPARE(peak(look.attention), std::size_t(1));
            QCOMPARE(peak(look.contributions), std::size_t(1));
            double sum = 0;
            for (float x : look.contributions) sum += x;
            QVERIFY2(std::abs(sum - look.score) <= 1e-5 * std::abs(look.score), qPrintable(QString::number(sum - look.score)));
            QVERIFY(look.contributions[1] > 0.9 * look.score);
        }
        QCOMPARE(kept, 20);
        QCOMPARE(n.candidateHeads, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(n.relevantHeads, (std::vector<int>{0, 1}));
        QVERIFY(std::abs(n.activeFraction[0] + n.activeFraction[1] - 1.f) < 1e-6);
        // Neuron facts: the neuron promotes " only" first; its histogram covers every scanned token
        // after BOS and tops out at its best context.
        QCOMPARE(n.promoted.size(), std::size_t(10));
        QCOMPARE(n.promoted.front().token, vocab_.at(kOnly));
        QCOMPARE(QString::fromStdString(n.promoted.front().text), kOnly);
        QCOMPARE(n.suppressed.size(), std::size_t(10));
        QVERIFY(n.suppressed.front().value <= n.suppressed.back().value);
        QCOMPARE(n.histogram.total(), s.provenance.corpusTokens - s.provenance.corpusDocuments);
        QCOMPARE(n.histogram.max, n.contexts.front().activation);

        // A study of given neurons: exactly those, in that order, layers taken from them.
        PipelineOptions given = o;
        given.parameters.layers.clear();
        given.parameters.neurons = {"L2N3", "L2N0"};
        const Study g = runStudyPipeline(model, tok, given);
        QCOMPARE(g.neurons.size(), std::size_t(2));
        QCOMPARE(g.neurons[0].neuron.ref, (NeuronRef{2, 3}));
        QCOMPARE(g.neurons[1].neuron.ref, (NeuronRef{2, 0}));
        QCOMPARE(g.neurons[1].neuron.tokenId, vocab_.at(kOnly));
        QCOMPARE(g.parameters.layers, (std::vector<int>{2}));
        QCOMPARE(g.neurons[1].relevantHeads, (std::vector<int>{0, 1}));
        given.parameters.neurons = {"L7N0"};
        HL_EXPECT_ERROR(runStudyPipeline(model, tok, given), "L7N0", "not in this model");
        given.parameters.neurons = {"L2N0"};
        given.parameters.layers = {1};
        HL_EXPECT_ERROR(runStudyPipeline(model, tok, given), "L2N0", "not among the studied layers");
    }

    // The playground switches a planted head off (issue 15): the neuron's activation at the last token
    // changes by the amount computed by hand from the clean pass (resid_mid minus the head's output, plus
    // its mean value vector times W_O for mean ablation; LayerNorm without gain (folded), W_in, b_in,
    // gelu_new), and p(" only") drops. The look-up of the head on the typed text sums to its score.
    void playgroundSwitchesHeadsOff() {
        const QString tokDir = writeTokenizer();
        const Tokenizer tok = Tokenizer::fromFolder(tokDir);
        const Transformer model = plantedModel(tok.vocabSize(), 1);
        const auto pg = analysis::Playground::fromModel(plantedModel(tok.vocabSize(), 1), Tokenizer::fromFolder(tokDir));
        const std::string text = (QStringLiteral(" the") + kTriggerA + QStringLiteral(" cat sat")).toStdString();
        const std::vector<int> ids = {vocab_.at(QStringLiteral("<bos>")), vocab_.at(QStringLiteral(" the")), vocab_.at(kTriggerA),
                                      vocab_.at(QStringLiteral(" cat")), vocab_.at(QStringLiteral(" sat"))};
        HookSet hooks;
        hooks.capture("blocks.0.hook_resid_mid").capture("blocks.0.attn.hook_result").capture("blocks.0.attn.hook_v");
        const ActivationCache cache = model.run(TokenBatch::single(ids), hooks);
        const at::Tensor residMid = cache.at("blocks.0.hook_resid_mid")[0][4].to(torch::kDouble);  // last position
        const at::Tensor result = cache.at("blocks.0.attn.hook_result")[0][4][0].to(torch::kDouble);  // head 0 there
        const at::Tensor meanV = cache.at("blocks.0.attn.hook_v")[0].select(1, 0).slice(0, 1).mean(0).to(torch::kDouble);
        const at::Tensor W_O = model.weight("blocks.0.attn.W_O")[0].to(torch::kDouble);
        QVERIFY(!model.hasWeight("blocks.0.ln2.w"));  // folded: LayerNorm is centre and scale only
        auto byHand = [&](const at::Tensor& x) {
            const at::Tensor centred = x - x.mean();
            const at::Tensor normed = centred / torch::sqrt((centred * centred).mean() + model.config().normEps);
            const double pre = (normed * model.weight("blocks.0.mlp.W_in").select(1, 0).to(torch::kDouble)).sum().item<double>() +
                               model.weight("blocks.0.mlp.b_in")[0].item<double>();
            return 0.5 * pre * (1 + std::tanh(std::sqrt(2 / M_PI) * (pre + 0.044715 * pre * pre * pre)));
        };
        const double clean = byHand(residMid), zero = byHand(residMid - result);
        const double mean = byHand(residMid - result + torch::matmul(meanV, W_O));

        analysis::PlaygroundRequest q;
        q.neuron = {0, 0};
        q.sameLayerHeads = true;
        q.lookupHead = 0;
        q.offHeads = {0};
        const analysis::PlaygroundResult z = pg.run(text, q);
        QCOMPARE(z.tokens.size(), std::size_t(4));
        QCOMPARE(z.tokenId, vocab_.at(kOnly));
        QVERIFY(std::abs(z.activations[3] - clean) < 1e-4);
        QVERIFY2(std::abs((z.ablatedActivations[3] - z.activations[3]) - (zero - clean)) < 1e-4,
                 qPrintable(QStringLiteral("%1 vs %2").arg(z.ablatedActivations[3] - z.activations[3]).arg(zero - clean)));
        QVERIFY(zero - clean < -0.5);  // the planted head carries the neuron
        QVERIFY(z.ablatedProbability < z.probability);
        q.mode = analysis::HeadSwitchOff::Mean;
        const analysis::PlaygroundResult m = pg.run(text, q);
        QVERIFY2(std::abs((m.ablatedActivations[3] - m.activations[3]) - (mean - clean)) < 1e-4,
                 qPrintable(QStringLiteral("%1 vs %2").arg(m.ablatedActivations[3] - m.activations[3]).arg(mean - clean)));
        QVERIFY(std::abs(mean - zero) > 1e-3);  // the mean is not zero here
        // The look-up: contributions sum to the head's score and peak on the trigger (position 2 after BOS).
        QCOMPARE(z.lookup.head, 0);
        QCOMPARE(z.lookup.contributions.size(), std::size_t(5));
        double sum = 0;
        for (float x : z.lookup.contributions) sum += x;
        QVERIFY(std::abs(sum - z.headScores[0]) <= 1e-5 * std::abs(z.headScores[0]) + 1e-7);
        QCOMPARE(std::size_t(std::max_element(z.lookup.contributions.begin(), z.lookup.contributions.end()) -
                             z.lookup.contributions.begin()), std::size_t(2));
        // Any neuron of the model; bad heads are refused.
        q.neuron = {0, 5};
        q.offHeads = {9};
        HL_EXPECT_ERROR(pg.run(text, q), "head 9");
        q.neuron = {0, 8};
        HL_EXPECT_ERROR(pg.run(text, q), "L0N8", "not in this model");
    }

    // A small study of stories260k (a real trained Llama-form model) on 20 documents of tiny_en.
    static PipelineOptions storiesStudy() {
        PipelineOptions o;
        o.model = test::fixture(QStringLiteral("stories260k"));
        o.corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        o.parameters.layers = {3, 4};
        o.parameters.topK = 3;
        o.parameters.randomPerLayer = 1;
        o.parameters.randomSeed = 5;
        o.parameters.topDocuments = 8;
        o.parameters.promptsPerNeuron = 6;
        o.parameters.maxDocuments = 20;
        return o;
    }

    void realModelEndToEnd() {
        const PipelineOptions o = storiesStudy();
        HL_REQUIRE_FIXTURE(o.corpus);
        const Study single = runStudyPipeline(o);
        QCOMPARE(single.neurons.size(), std::size_t(8));
        QCOMPARE(single.provenance.corpusDocuments, int64_t(20));
        QVERIFY(single.neurons.back().neuron.baseline);
        for (const NeuronResult& n : single.neurons) {
            QCOMPARE(n.contexts.size(), std::size_t(8));
            int kept = 0;
            for (const NeuronContext& c : n.contexts) {
                kept += c.kept;
                QVERIFY(c.start >= 1 && c.start <= c.position);
                QCOMPARE(int(c.tokens.size()), c.position);
                QCOMPARE(c.tokenActivations.size(), c.tokens.size());
                if (c.kept) QVERIFY(std::abs(c.tokenActivations.back() - c.activation) < 1e-4);
            }
            QVERIFY(kept <= 6);
            for (const NeuronContext& c : n.contexts) {
                // A look-up for exactly the active heads of each kept context, none elsewhere.
                std::vector<int> active, looked;
                for (std::size_t h = 0; h < c.active.size(); ++h)
                    if (c.active[h]) active.push_back(int(h));
                for (const HeadLookup& l : c.lookups) looked.push_back(l.head);
                QCOMPARE(looked, c.kept ? active : std::vector<int>{});
            }
        }

        // The bundle loads back identically (and re-saves to the same bytes).
        const QString path = tmp_.filePath(QStringLiteral("real.headlight"));
        saveBundle(single, path);
        const Study loaded = loadStudy(path);
        const QString again = tmp_.filePath(QStringLiteral("again.headlight"));
        saveBundle(loaded, again);
        QCOMPARE(io::readFile(again), io::readFile(path));
        QCOMPARE(loaded.neurons.size(), single.neurons.size());
        QCOMPARE(loaded.neurons[0].contexts[0].text, single.neurons[0].contexts[0].text);
        int64_t lookups = 0;
        for (std::size_t i = 0; i < single.neurons.size(); ++i)
            for (std::size_t k = 0; k < single.neurons[i].contexts.size(); ++k) {
                const auto &a = single.neurons[i].contexts[k].lookups, &b = loaded.neurons[i].contexts[k].lookups;
                QCOMPARE(b.size(), a.size());
                for (std::size_t j = 0; j < a.size(); ++j) {
                    QCOMPARE(b[j].head, a[j].head);
                    QCOMPARE(b[j].score, a[j].score);
                    QCOMPARE(b[j].attention, a[j].attention);
                    QCOMPARE(b[j].contributions, a[j].contributions);
                    ++lookups;
                }
            }
        QVERIFY(lookups > 0);
        QVERIFY(Bundle::open(path).hasLookups());

        // Look-ups on demand (the GUI's "Compute"): the stored look-up of an active head comes back, and
        // a head that was not active in a context gets one whose contributions sum to its stored score.
        const NeuronResult& first = single.neurons[0];
        int stored = -1;
        for (std::size_t k = 0; k < first.contexts.size() && stored < 0; ++k)
            if (!first.contexts[k].lookups.empty()) stored = int(k);
        QVERIFY(stored >= 0);
        const HeadLookup& want = first.contexts[std::size_t(stored)].lookups.front();
        int inactive = -1;
        for (int h : first.candidateHeads)
            if (!first.contexts[std::size_t(stored)].active[std::size_t(h)]) inactive = h;
        QVERIFY(inactive >= 0);
        const std::vector<HeadLookup> again1 = computeLookups(single.provenance, single.parameters, first, {stored}, want.head);
        QCOMPARE(again1.size(), std::size_t(1));
        QCOMPARE(again1[0].head, want.head);
        QVERIFY(std::abs(again1[0].score - want.score) <= 1e-5f * std::max(1.f, std::abs(want.score)));
        QCOMPARE(again1[0].contributions.size(), want.contributions.size());
        for (std::size_t j = 0; j < want.contributions.size(); ++j) {
            QVERIFY(std::abs(again1[0].contributions[j] - want.contributions[j]) <= 1e-5f * std::max(1.f, std::abs(want.score)));
            QVERIFY(std::abs(again1[0].attention[j] - want.attention[j]) <= 1e-6f);
        }
        const std::vector<HeadLookup> other = computeLookups(single.provenance, single.parameters, first, {stored}, inactive);
        const float storedScore = first.contexts[std::size_t(stored)].headScores[std::size_t(inactive)];
        double sum = 0;
        for (float x : other[0].contributions) sum += x;
        QVERIFY2(std::abs(sum - storedScore) <= 1e-5 * std::max(1.0, double(std::abs(storedScore))), qPrintable(QString::number(sum)));
        QVERIFY_THROWS_EXCEPTION(Error, computeLookups(single.provenance, single.parameters, first, {stored}, 4 * 8));

        // Two shards merged equal the single run.
        std::vector<Study> shards;
        for (int i = 0; i < 2; ++i) {
            PipelineOptions so = o;
            so.parameters.shardIndex = i;
            so.parameters.shardCount = 2;
            shards.push_back(runStudyPipeline(so));
        }
        const Study merged = mergeStudies(shards);
        QCOMPARE(merged.provenance.corpusDocuments, single.provenance.corpusDocuments);
        QCOMPARE(merged.provenance.corpusTokens, single.provenance.corpusTokens);
        for (std::size_t i = 0; i < single.neurons.size(); ++i) {
            const NeuronResult &a = single.neurons[i], &b = merged.neurons[i];
            QCOMPARE(b.neuron.ref, a.neuron.ref);
            QCOMPARE(b.relevantHeads, a.relevantHeads);
            // Neuron facts: the shards' histograms add up to the single run's exactly.
            QVERIFY(a.histogram.total() > 0);
            QCOMPARE(b.histogram.counts, a.histogram.counts);
            QCOMPARE(b.histogram.min, a.histogram.min);
            QCOMPARE(b.histogram.max, a.histogram.max);
            QCOMPARE(b.promoted.size(), a.promoted.size());
            QCOMPARE(b.promoted.front().token, a.promoted.front().token);
            QCOMPARE(b.contexts.size(), a.contexts.size());
            for (std::size_t k = 0; k < a.contexts.size(); ++k) {
                QCOMPARE(b.contexts[k].doc, a.contexts[k].doc);
                QCOMPARE(b.contexts[k].position, a.contexts[k].position);
                QCOMPARE(b.contexts[k].start, a.contexts[k].start);
                QCOMPARE(b.contexts[k].kept, a.contexts[k].kept);
                QCOMPARE(b.contexts[k].active, a.contexts[k].active);
                QCOMPARE(b.contexts[k].activation, a.contexts[k].activation);
                QCOMPARE(b.contexts[k].truncatedActivation, a.contexts[k].truncatedActivation);
                QCOMPARE(b.contexts[k].text, a.contexts[k].text);
                // Bit for bit (NaN where not attributed).
                QCOMPARE(b.contexts[k].headScores.size(), a.contexts[k].headScores.size());
                QCOMPARE(std::memcmp(b.contexts[k].headScores.data(), a.contexts[k].headScores.data(),
                                     a.contexts[k].headScores.size() * sizeof(float)), 0);
                QCOMPARE(std::memcmp(b.contexts[k].tokenActivations.data(), a.contexts[k].tokenActivations.data(),
                                     a.contexts[k].tokenActivations.size() * sizeof(float)), 0);
            }
        }
        HL_EXPECT_ERROR(mergeStudies({shards[0]}), "shards of 2");
        HL_EXPECT_ERROR(mergeStudies({shards[0], shards[0]}), "given twice");
        // A shard made before shards were dealt in blocks of 8 (its bundle has no shard_block: 1)
        // never merges with one made after: they hold other documents.
        Study oldShard = shards[1];
        oldShard.parameters.shardBlock = 1;
        HL_EXPECT_ERROR(mergeStudies({shards[0], oldShard}), "differs from shard 0 in its parameters");
        nlohmann::json oldParameters = toJson(shards[0].parameters);
        QCOMPARE(oldParameters.at("shard_block").get<int64_t>(), int64_t(8));
        oldParameters.erase("shard_block");
        QCOMPARE(parametersFromJson(oldParameters, "old").shardBlock, int64_t(1));

        // The ablation experiment: one result per relevant (neuron, head), drops split by activity.
        Study withAblation = loaded;
        addAblations(withAblation);
        std::size_t relevant = 0;
        for (const NeuronResult& n : loaded.neurons) relevant += n.relevantHeads.size();
        QCOMPARE(withAblation.ablations.size(), relevant);
        for (const AblationResult& a : withAblation.ablations) {
            QVERIFY(!a.dropActive.empty() || !a.dropInactive.empty());
            if (!a.dropActive.empty() && !a.dropInactive.empty()) QVERIFY(a.ksPValue >= 0 && a.ksPValue <= 1);
        }

        // Bad parameters are refused before any work.
        PipelineOptions bad = o;
        bad.parameters.layers = {9};
        HL_EXPECT_ERROR(runStudyPipeline(bad), "layer 9");
        bad = o;
        bad.parameters.truncationRatio = 1.5;
        HL_EXPECT_ERROR(runStudyPipeline(bad), "truncation ratio");
    }

    // A bundle made before look-ups, token facts and histograms existed gets them back from the model
    // and the corpus (completeStudy, `study complete`) equal to what a fresh run stores.
    void completingAnOldStudy() {
        const PipelineOptions o = storiesStudy();
        HL_REQUIRE_FIXTURE(o.corpus);
        const Study fresh = runStudyPipeline(o);
        Study old = test::asMadeBeforeFacts(fresh);
        const Completion missing = missingFromStudy(old);
        QCOMPARE(missing.tokenFacts, int64_t(old.neurons.size()));
        QCOMPARE(missing.histograms, int64_t(old.neurons.size()));
        int64_t lookups = 0;
        for (const NeuronResult& n : fresh.neurons)
            for (const NeuronContext& c : n.contexts) lookups += int64_t(c.lookups.size());
        QVERIFY(lookups > 0);
        QCOMPARE(missing.lookups, lookups);

        // Inputs that are not the study's change nothing and say why.
        Study tampered = old;
        for (NeuronContext& c : tampered.neurons[0].contexts)
            for (std::size_t h = 0; h < c.active.size(); ++h)
                if (c.kept && c.active[h]) c.headScores[h] += 1.f;
        CompletionOptions lookupsOnly;
        lookupsOnly.tokenFacts = lookupsOnly.histograms = false;
        HL_EXPECT_ERROR(completeStudy(tampered, lookupsOnly), "in the study", "not the study's");
        QCOMPARE(missingFromStudy(tampered, lookupsOnly).lookups, lookups);
        CompletionOptions otherCorpus;
        otherCorpus.corpus = test::fixture(QStringLiteral("corpora/mix_en/heldout.jsonl"));
        HL_REQUIRE_FIXTURE(otherCorpus.corpus);
        otherCorpus.lookups = otherCorpus.tokenFacts = false;
        Study kept = old;
        HL_EXPECT_ERROR(completeStudy(kept, otherCorpus), "not the study's corpus", "SHA-256");
        QVERIFY(!kept.neurons[0].histogram.recorded());

        const Completion added = completeStudy(old, CompletionOptions{});
        QCOMPARE(added.lookups, missing.lookups);
        QCOMPARE(added.tokenFacts, missing.tokenFacts);
        QCOMPARE(added.histograms, missing.histograms);
        QCOMPARE(missingFromStudy(old).total(), int64_t(0));
        for (std::size_t i = 0; i < fresh.neurons.size(); ++i) {
            const NeuronResult &a = fresh.neurons[i], &b = old.neurons[i];
            QCOMPARE(b.histogram.counts, a.histogram.counts);   // the same scan plan: the same numbers
            QCOMPARE(b.histogram.max, a.histogram.max);
            QCOMPARE(b.histogram.min, a.histogram.min);
            QCOMPARE(b.promoted.size(), a.promoted.size());
            for (std::size_t k = 0; k < a.promoted.size(); ++k) {
                QCOMPARE(b.promoted[k].token, a.promoted[k].token);
                QCOMPARE(b.suppressed[k].token, a.suppressed[k].token);
                QCOMPARE(b.promoted[k].text, a.promoted[k].text);
            }
            for (std::size_t k = 0; k < a.contexts.size(); ++k) {
                const auto &x = a.contexts[k].lookups, &y = b.contexts[k].lookups;
                QCOMPARE(y.size(), x.size());
                for (std::size_t j = 0; j < x.size(); ++j) {
                    QCOMPARE(y[j].head, x[j].head);
                    const float tol = 1e-5f * std::max(1.f, std::abs(x[j].score));
                    QVERIFY(std::abs(y[j].score - x[j].score) <= tol);
                    for (std::size_t t = 0; t < x[j].contributions.size(); ++t)
                        QVERIFY(std::abs(y[j].contributions[t] - x[j].contributions[t]) <= tol);
                }
            }
        }

        // The CLI: --dry-run names what is missing, then the bundle is completed in place.
        const QString path = tmp_.filePath(QStringLiteral("old.headlight"));
        Study bare = fresh;
        for (NeuronResult& n : bare.neurons) n.histogram = {};
        saveBundle(bare, path);
        QVERIFY(!Bundle::open(path).hasHistograms());
        const auto cli = [](const QStringList& args) {
            QProcess p;
            p.start(QStringLiteral(HEADLIGHT_CLI_PATH), args);
            p.waitForFinished(120000);
            return std::make_pair(p.exitCode(), QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError()));
        };
        auto [rc, text] = cli({QStringLiteral("study"), QStringLiteral("complete"), path, QStringLiteral("--dry-run")});
        QCOMPARE(rc, 0);
        QVERIFY2(text.contains(QStringLiteral("histograms of 8 neurons")), qPrintable(text));
        std::tie(rc, text) = cli({QStringLiteral("study"), QStringLiteral("complete"), path, QStringLiteral("--only"), QStringLiteral("tokens,x")});
        QCOMPARE(rc, 1);
        QVERIFY2(text.contains(QStringLiteral("--only: 'x'")), qPrintable(text));
        std::tie(rc, text) = cli({QStringLiteral("study"), QStringLiteral("complete"), path});
        QVERIFY2(rc == 0 && text.contains(QStringLiteral("added 0 look-ups")), qPrintable(text));
        QVERIFY(Bundle::open(path).hasHistograms());
        const Study back = loadStudy(path);
        for (std::size_t i = 0; i < fresh.neurons.size(); ++i) QCOMPARE(back.neurons[i].histogram.counts, fresh.neurons[i].histogram.counts);
    }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "test_pipeline.moc"
