// The .headlight bundle: exact round trip of a Study, lazy access, and clear errors for corrupt,
// truncated, foreign and future files.
#include <cmath>

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/analysis/activation_histogram.h"
#include "core/study/bundle.h"
#include "core/study/bundle_texts.h"
#include "core/study/head_view.h"
#include "core/study/study_export.h"
#include "tests/test_util.h"

using namespace headlight;

namespace {

Study makeStudy() {
    Study s;
    s.nLayers = 3;
    s.nHeads = 2;
    s.dMlp = 4;
    s.provenance.modelId = "gpt2-tiny";
    s.provenance.modelFamily = "gpt2";
    s.provenance.weightHash = "abc123";
    s.provenance.processing = "fold_ln,center_writing_weights,center_unembed,fold_value_biases";
    s.provenance.corpus = "tiny.jsonl";
    s.provenance.corpusHash = "ff00";
    s.provenance.corpusDocuments = 42;
    s.provenance.corpusTokens = 1234;
    s.provenance.createdAt = "2026-11-24T07:00:00Z";
    s.parameters.layers = {1, 2};
    s.parameters.rejectTokens = {" the", "ünï"};
    s.parameters.truncationRatio = 0.7;
    s.congruence.push_back({2, {0.5f, 0.25f, -1.f, 3.f}, {7, 8, 9, 10}});
    for (int k = 0; k < 3; ++k) {
        NeuronResult r;
        r.neuron = {{2, k}, 100 + k, k == 1 ? " <b>bold</b>" : " tok\u00e9n", 1.5f - k, k == 2};
        r.candidateHeads = {0, 1, 2, 3};
        r.relevantHeads = {k % 4};
        r.activeFraction = {0.1f, 0.2f, 0.3f, 0.4f, 0.f, 0.f};
        for (int c = 0; c < k + 1; ++c) {
            NeuronContext x;
            x.doc = 10 * k + c;
            x.docSource = c % 2 ? "a.jsonl" : "b.jsonl";
            x.docLine = x.doc;
            x.position = 3 + c;
            x.start = 2;
            x.activation = 2.5f - c;
            x.truncatedActivation = 2.f - c;
            for (int t = 0; t < x.position; ++t) {
                x.tokens.push_back(1000 + t);
                x.tokenActivations.push_back(0.5f * t);
            }
            x.text = "context \u2581 " + std::to_string(c);
            x.headScores = {0.1f, -0.2f, 0.3f, 0.4f, NAN, NAN};
            x.active = {0, 0, 1, 0, 0, 0};
            x.kept = c != 1;
            r.contexts.push_back(std::move(x));
        }
        s.neurons.push_back(std::move(r));
    }
    AblationResult a;  // as bundles before issue 15 held them: zero ablation of one head
    a.neuron = {2, 0};
    a.head = 3;
    a.dropActive = {0.1f, 0.2f};
    a.dropInactive = {0.01f};
    a.ksStatistic = 0.5;
    a.ksPValue = 0.25;
    s.ablations.push_back(a);
    s.extra["note"] = "{\"x\": 1}";
    return s;
}

// Issue 13, item 4: a study whose head L1H0 (flat 2) has planted look-ups. Neuron L2N0: active in both
// kept contexts; L2N1: active in one of two, relevant, explained (E 0.8, baseline 0.6); L2N2: active only
// in a dropped context (so not listed). Tokens are 1000 + document position; look-ups start with BOS.
HeadLookup plantedLookup(int head, std::vector<float> contributions) {
    HeadLookup l;
    l.head = head;
    for (float c : contributions) l.score += c;
    l.attention.assign(contributions.size(), 1.f / float(contributions.size()));
    l.contributions = std::move(contributions);
    return l;
}

Study headViewStudy() {
    Study s;
    s.nLayers = 3;
    s.nHeads = 2;
    s.dMlp = 4;
    s.parameters.layers = {2};
    auto context = [](int position, int start, bool kept, std::vector<uint8_t> active) {
        NeuronContext c;
        c.position = position;
        c.start = start;
        c.kept = kept;
        for (int t = 0; t < position; ++t) {
            c.tokens.push_back(1000 + t);
            c.tokenActivations.push_back(0.1f * t);
        }
        c.headScores.assign(6, NAN);
        for (int h = 0; h < 4; ++h) c.headScores[std::size_t(h)] = active[std::size_t(h)] ? 1.f : 0.f;
        active.resize(6, 0);
        c.active = active;
        return c;
    };
    for (int k = 0; k < 3; ++k) {
        NeuronResult r;
        r.neuron = {{2, k}, 7, " x", 1.f, false};
        r.candidateHeads = {0, 1, 2, 3};
        r.activeFraction.assign(6, 0.f);
        s.neurons.push_back(std::move(r));
    }
    NeuronResult& a = s.neurons[0];
    a.contexts.push_back(context(4, 2, true, {0, 0, 1, 0}));   // prompt 1001 1002 1003
    a.contexts.back().lookups = {plantedLookup(2, {0.5f, 1.0f, -0.2f, 0.3f})};
    a.contexts.push_back(context(5, 3, true, {0, 0, 1, 0}));   // prompt 1002 1003 1004
    a.contexts.back().lookups = {plantedLookup(2, {0.f, 0.25f, 2.0f, 0.1f})};
    a.activeFraction[2] = 1.f;
    NeuronResult& b = s.neurons[1];
    b.contexts.push_back(context(3, 2, true, {0, 0, 1, 0}));   // prompt 1001 1002
    b.contexts.back().lookups = {plantedLookup(2, {0.1f, 0.f, 0.6f})};
    b.contexts.push_back(context(3, 2, true, {0, 0, 0, 0}));
    b.activeFraction[2] = 0.5f;
    b.relevantHeads = {2};
    NeuronResult& c = s.neurons[2];
    c.contexts.push_back(context(3, 2, true, {0, 0, 0, 1}));
    c.contexts.back().lookups = {plantedLookup(3, {0.f, 0.f, 5.f})};
    c.contexts.push_back(context(3, 2, false, {0, 0, 1, 0}));   // dropped: does not count
    c.activeFraction[3] = 1.f;
    for (const char* source : {"llm", "baseline"}) {
        HeadExplanation e;
        e.neuron = b.neuron.ref;
        e.head = 2;
        e.source = source;
        e.score = std::string(source) == "llm" ? 0.8 : 0.6;
        s.explanations.push_back(e);
    }
    return s;
}

// Runs headlight-cli; stdout goes to `stdoutFile` when given (e.g. /dev/full). Returns {exit code, stderr}.
std::pair<int, QString> runCli(const QStringList& args, const QString& stdoutFile = {}) {
    QProcess p;
    if (!stdoutFile.isEmpty()) p.setStandardOutputFile(stdoutFile);
    p.start(QStringLiteral(HEADLIGHT_CLI_PATH), args);
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardError())};
}

bool sameFloat(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void compareStudies(const Study& a, const Study& b) {
    QCOMPARE(b.nLayers, a.nLayers);
    QCOMPARE(b.nHeads, a.nHeads);
    QCOMPARE(b.dMlp, a.dMlp);
    QCOMPARE(b.provenance.weightHash, a.provenance.weightHash);
    QCOMPARE(b.provenance.corpusTokens, a.provenance.corpusTokens);
    QCOMPARE(b.parameters.layers, a.parameters.layers);
    QCOMPARE(b.parameters.rejectTokens, a.parameters.rejectTokens);
    QCOMPARE(b.parameters.truncationRatio, a.parameters.truncationRatio);
    QCOMPARE(b.congruence.size(), a.congruence.size());
    QCOMPARE(b.congruence[0].maxValue, a.congruence[0].maxValue);
    QCOMPARE(b.congruence[0].argmaxToken, a.congruence[0].argmaxToken);
    QCOMPARE(b.neurons.size(), a.neurons.size());
    for (std::size_t i = 0; i < a.neurons.size(); ++i) {
        const NeuronResult &x = a.neurons[i], &y = b.neurons[i];
        QCOMPARE(y.neuron.ref, x.neuron.ref);
        QCOMPARE(y.neuron.tokenId, x.neuron.tokenId);
        QCOMPARE(y.neuron.token, x.neuron.token);
        QCOMPARE(y.neuron.congruence, x.neuron.congruence);
        QCOMPARE(y.neuron.baseline, x.neuron.baseline);
        QCOMPARE(y.candidateHeads, x.candidateHeads);
        QCOMPARE(y.relevantHeads, x.relevantHeads);
        QCOMPARE(y.activeFraction, x.activeFraction);
        QCOMPARE(y.contexts.size(), x.contexts.size());
        for (std::size_t c = 0; c < x.contexts.size(); ++c) {
            const NeuronContext &p = x.contexts[c], &q = y.contexts[c];
            QCOMPARE(q.doc, p.doc);
            QCOMPARE(q.docSource, p.docSource);
            QCOMPARE(q.docLine, p.docLine);
            QCOMPARE(q.position, p.position);
            QCOMPARE(q.start, p.start);
            QCOMPARE(q.activation, p.activation);
            QCOMPARE(q.truncatedActivation, p.truncatedActivation);
            QCOMPARE(q.tokens, p.tokens);
            QCOMPARE(q.tokenActivations, p.tokenActivations);
            QCOMPARE(q.text, p.text);
            QCOMPARE(q.active, p.active);
            QCOMPARE(q.kept, p.kept);
            QCOMPARE(q.headScores.size(), p.headScores.size());
            for (std::size_t k = 0; k < p.headScores.size(); ++k) QVERIFY(sameFloat(q.headScores[k], p.headScores[k]));
        }
    }
    QCOMPARE(b.ablations.size(), a.ablations.size());
    QCOMPARE(b.ablations[0].dropActive, a.ablations[0].dropActive);
    QCOMPARE(b.ablations[0].ksPValue, a.ablations[0].ksPValue);
    QCOMPARE(b.extra, a.extra);
}

}  // namespace

class TestBundle : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    QString path(const char* name) { return dir_.filePath(QLatin1String(name)); }

private Q_SLOTS:
    void roundTrip() {
        const Study s = makeStudy();
        saveBundle(s, path("a.headlight"));
        const Bundle b = Bundle::open(path("a.headlight"));
        QCOMPARE(b.neuronCount(), 3);
        QCOMPARE(b.contextCount(), int64_t(6));
        QCOMPARE(b.neuron(1).token, std::string(" <b>bold</b>"));
        QCOMPARE(b.contextCountOf(2), 3);
        compareStudies(s, b.toStudy());
        // Saving what was loaded gives the same bytes: the format is canonical.
        saveBundle(b.toStudy(), path("b.headlight"));
        QCOMPARE(io::readFile(path("b.headlight")), io::readFile(path("a.headlight")));
        // It is a plain safetensors file with the documented names.
        const auto st = io::SafetensorsFile::open(path("a.headlight"));
        QVERIFY(st.find("contexts.head_scores"));
        QCOMPARE(st.at("contexts.head_scores").shape, (std::vector<int64_t>{6, 6}));
        QVERIFY(st.metadata().count("headlight"));
    }

    // Neuron facts (issue 13): optional columns that round-trip exactly, absent in older bundles (which
    // still open), exported with near-dead marking.
    void neuronFactsRoundTripAndOldBundles() {
        Study s = makeStudy();
        saveBundle(s, path("old.headlight"));  // no facts: what a bundle made before them holds
        for (int k = 0; k < 2; ++k) {
            NeuronResult& r = s.neurons[std::size_t(k)];
            for (int j = 0; j < 10; ++j) {
                r.promoted.push_back({500 + j, 3.f - 0.25f * j, " p" + std::to_string(j)});
                r.suppressed.push_back({900 + j, -2.f + 0.125f * j, " s\u00e9" + std::to_string(j)});
            }
            r.histogram = analysis::histogramOf({0.5f, 0.5f, -0.1f, 0.f, 2.f + k, 1e-6f, NAN});
        }
        s.neurons[0].contexts[0].activation = 0.005f;  // neuron 0: near-dead (histogram max 2 wins: not)
        s.neurons[2].contexts[0].activation = 0.004f;  // neuron 2: no histogram, best context 0.004: near-dead
        s.neurons[2].contexts[1].activation = 0.003f;
        s.neurons[2].contexts[2].activation = 0.002f;
        saveBundle(s, path("facts.headlight"));
        const Bundle b = Bundle::open(path("facts.headlight"));
        QVERIFY(b.hasTokenFacts());
        QVERIFY(b.hasHistograms());
        const Study t = b.toStudy();
        for (int k = 0; k < 3; ++k) {
            const NeuronResult &x = s.neurons[std::size_t(k)], &y = t.neurons[std::size_t(k)];
            QCOMPARE(y.promoted.size(), x.promoted.size());
            for (std::size_t j = 0; j < x.promoted.size(); ++j) {
                QCOMPARE(y.promoted[j].token, x.promoted[j].token);
                QCOMPARE(y.promoted[j].value, x.promoted[j].value);
                QCOMPARE(y.suppressed[j].text, x.suppressed[j].text);
                QCOMPARE(y.suppressed[j].value, x.suppressed[j].value);
            }
            QCOMPARE(y.histogram.counts, x.histogram.counts);
            QCOMPARE(y.histogram.nan, x.histogram.nan);
            QCOMPARE(y.histogram.min, x.histogram.min);
            QCOMPARE(y.histogram.max, x.histogram.max);
        }
        QCOMPARE(t.neurons[0].histogram.total(), int64_t(6));
        QCOMPARE(t.neurons[0].histogram.nan, int64_t(1));
        QCOMPARE(t.neurons[1].histogram.max, 3.f);
        QVERIFY(!t.neurons[2].histogram.recorded());
        // The same bytes again (canonical), and the export with the facts and the near-dead marks.
        saveBundle(t, path("facts2.headlight"));
        QCOMPARE(io::readFile(path("facts2.headlight")), io::readFile(path("facts.headlight")));
        const auto j = exportStudyJson(t);
        QCOMPARE(j["neurons"][0]["promoted_tokens"][2]["token_id"].get<int>(), 502);
        QCOMPARE(j["neurons"][0]["promoted_tokens"][2]["congruence"].get<float>(), 2.5f);
        QCOMPARE(j["neurons"][1]["suppressed_tokens"][0]["token"].get<std::string>(), std::string(" s\u00e90"));
        QCOMPARE(j["neurons"][0]["activation_histogram"]["total"].get<int64_t>(), int64_t(6));
        QCOMPARE(j["neurons"][0]["activation_histogram"]["bins"].size(), std::size_t(4));  // -0.1, ~0 (x2), 0.5 (x2), 2
        QCOMPARE(j["neurons"][0]["activation_histogram"]["bins"][2]["count"].get<int64_t>(), int64_t(2));
        QCOMPARE(j["neurons"][0]["activation_histogram"]["bins"][2]["lower"].get<double>(), 0.5);
        QCOMPARE(j["neurons"][0]["near_dead"].get<bool>(), false);
        QCOMPARE(j["neurons"][2]["near_dead"].get<bool>(), true);
        QVERIFY(j["neurons"][2]["activation_histogram"].is_null());
        QCOMPARE(studySummaryJson(t)["near_dead_neurons"].get<int>(), 1);
        QVERIFY(QString::fromStdString(studySummaryText(t)).contains(QStringLiteral("promotes \" p0\" 3")));
        QVERIFY(QString::fromStdString(studySummaryText(t)).contains(QStringLiteral("L2N2 [baseline]")));
        // An older bundle opens; the views are told what is missing.
        const Bundle old = Bundle::open(path("old.headlight"));
        QVERIFY(!old.hasTokenFacts());
        QVERIFY(!old.hasHistograms());
        const Study o = old.toStudy();
        QVERIFY(o.neurons[0].promoted.empty());
        QVERIFY(exportStudyJson(o)["neurons"][0]["promoted_tokens"].is_null());
        QVERIFY(QString::fromStdString(studySummaryText(o)).contains(QStringLiteral("bundle made before neuron facts")));
        // A damaged fact column is refused with its name.
        const auto st = io::SafetensorsFile::open(path("facts.headlight"));
        io::SafetensorsWriter w;
        for (const auto& x : st.tensors()) w.addCopy(x.name, x.dtype, x.shape, x.data, x.nbytes);
        for (const auto& [k, v] : st.metadata()) w.setMetadata(k, v);
        std::vector<int16_t> bins(std::size_t(st.at("facts.histogram_bin").numel()), 0);
        bins[0] = 999;
        w.add("facts.histogram_bin", io::DType::I16, st.at("facts.histogram_bin").shape, bins);
        w.write(path("badfacts.headlight"));
        HL_EXPECT_ERROR(Bundle::open(path("badfacts.headlight")), "badfacts.headlight", "facts.histogram_bin", "387 bins");
    }

    void emptyStudy() {
        Study s;
        s.nLayers = 1;
        s.nHeads = 1;
        s.dMlp = 1;
        saveBundle(s, path("empty.headlight"));
        const Study t = loadStudy(path("empty.headlight"));
        QCOMPARE(t.neurons.size(), std::size_t(0));
    }

    void rejectsForeignAndCorruptFiles() {
        saveBundle(makeStudy(), path("good.headlight"));
        const QByteArray good = io::readFile(path("good.headlight"));

        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("stories260k/model.safetensors")));
        HL_EXPECT_ERROR(Bundle::open(test::fixture(QStringLiteral("stories260k/model.safetensors"))),
                        "not a Headlight bundle");
        io::writeFileAtomically(path("text.headlight"), QByteArray("hello, I am not a bundle"));
        HL_EXPECT_ERROR(Bundle::open(path("text.headlight")), "text.headlight", "not readable");
        io::writeFileAtomically(path("trunc.headlight"), good.left(good.size() - 7));
        HL_EXPECT_ERROR(Bundle::open(path("trunc.headlight")), "trunc.headlight", "truncated");
        io::writeFileAtomically(path("half.headlight"), good.left(good.size() / 2));
        HL_EXPECT_ERROR(Bundle::open(path("half.headlight")), "half.headlight");
    }

    void rejectsInconsistentContents() {
        // Rewrite a good bundle with one tensor or the metadata changed.
        saveBundle(makeStudy(), path("src.headlight"));
        const auto st = io::SafetensorsFile::open(path("src.headlight"));
        auto rewrite = [&](const char* name, const std::function<void(io::SafetensorsWriter&)>& change) {
            io::SafetensorsWriter w;
            for (const auto& t : st.tensors()) w.addBorrowed(t.name, t.dtype, t.shape, t.data, t.nbytes);
            for (const auto& [k, v] : st.metadata()) w.setMetadata(k, v);
            change(w);
            w.write(path(name));
            return path(name);
        };
        const std::string meta = st.metadata().at("headlight");
        auto withMeta = [&](const std::function<void(nlohmann::json&)>& edit) {
            return [&, edit](io::SafetensorsWriter& w) {
                nlohmann::json j = nlohmann::json::parse(meta);
                edit(j);
                w.setMetadata("headlight", j.dump());
            };
        };
        HL_EXPECT_ERROR(Bundle::open(rewrite("future.headlight", withMeta([](nlohmann::json& j) { j["schema_version"] = 99; }))),
                        "schema version 99 is newer");
        HL_EXPECT_ERROR(Bundle::open(rewrite("nometa.headlight", [](io::SafetensorsWriter& w) { w.setMetadata("headlight", "{oops"); })),
                        "not valid JSON");
        HL_EXPECT_ERROR(Bundle::open(rewrite("noprov.headlight", withMeta([](nlohmann::json& j) { j["provenance"].erase("weight_hash"); }))),
                        "weight_hash");
        HL_EXPECT_ERROR(Bundle::open(rewrite("nosrc.headlight", withMeta([](nlohmann::json& j) { j["sources"] = nlohmann::json::array(); }))),
                        "source");
        const std::vector<int64_t> badOffsets = {0, 1, 1, 6};
        HL_EXPECT_ERROR(Bundle::open(rewrite("offsets.headlight", [&](io::SafetensorsWriter& w) {
                            w.add("neurons.context_offset", io::DType::I64, {4}, std::vector<int64_t>{0, 3, 2, 6});
                        })),
                        "neurons.context_offset", "decreases");
        HL_EXPECT_ERROR(Bundle::open(rewrite("dtype.headlight", [&](io::SafetensorsWriter& w) {
                            w.add("neurons.layer", io::DType::I64, {3}, std::vector<int64_t>{2, 2, 2});
                        })),
                        "neurons.layer", "dtype I64");
        HL_EXPECT_ERROR(Bundle::open(rewrite("layer.headlight", [&](io::SafetensorsWriter& w) {
                            w.add("neurons.layer", io::DType::I32, {3}, std::vector<int32_t>{2, 7, 2});
                        })),
                        "layer 7 outside");
        HL_EXPECT_ERROR(Bundle::open(rewrite("start.headlight", [&](io::SafetensorsWriter& w) {
                            w.add("contexts.start", io::DType::I32, {6}, std::vector<int32_t>{2, 2, 9, 2, 2, 2});
                        })),
                        "context 2", "inconsistent");
        (void)badOffsets;
    }

    // A good bundle rewritten with one tensor or the metadata document changed.
    QString rewritten(const char* name, const std::function<void(io::SafetensorsWriter&, nlohmann::json&)>& change) {
        if (!QFileInfo::exists(path("base.headlight"))) saveBundle(makeStudy(), path("base.headlight"));
        const auto st = io::SafetensorsFile::open(path("base.headlight"));
        io::SafetensorsWriter w;
        for (const auto& t : st.tensors()) w.addBorrowed(t.name, t.dtype, t.shape, t.data, t.nbytes);
        nlohmann::json meta = nlohmann::json::parse(st.metadata().at("headlight"));
        change(w, meta);
        w.setMetadata("headlight", meta.dump());
        w.write(path(name));
        return path(name);
    }

    void rejectsGarbageValues() {
        // Values are checked, not shown: each error names the tensor and the entry.
        using W = io::SafetensorsWriter;
        HL_EXPECT_ERROR(Bundle::open(rewritten("act.headlight", [](W& w, nlohmann::json&) {
                            w.add("contexts.activation", io::DType::F32, {6}, std::vector<float>{2.5f, 2.5f, 3e38f, 2.5f, 1.5f, 0.5f});
                        })),
                        "act.headlight", "tensor 'contexts.activation' entry 2");
        HL_EXPECT_ERROR(Bundle::open(rewritten("cong.headlight", [](W& w, nlohmann::json&) {
                            w.add("neurons.congruence", io::DType::F32, {3}, std::vector<float>{1.f, NAN, 0.f});
                        })),
                        "tensor 'neurons.congruence' entry 1");
        HL_EXPECT_ERROR(Bundle::open(rewritten("frac.headlight", [](W& w, nlohmann::json&) {
                            std::vector<float> f(18, 0.5f);
                            f[7] = 2.f;
                            w.add("neurons.active_fraction", io::DType::F32, {3, 6}, f);
                        })),
                        "tensor 'neurons.active_fraction' entry 7", "outside [0, 1]");
        HL_EXPECT_ERROR(Bundle::open(rewritten("kept.headlight", [](W& w, nlohmann::json&) {
                            w.add("contexts.kept", io::DType::U8, {6}, std::vector<uint8_t>{1, 0, 1, 7, 1, 1});
                        })),
                        "tensor 'contexts.kept' entry 3");
        HL_EXPECT_ERROR(Bundle::open(rewritten("cmax.headlight", [](W& w, nlohmann::json&) {
                            w.add("congruence.L2.max", io::DType::F32, {4}, std::vector<float>{0.f, INFINITY, 0.f, 0.f});
                        })),
                        "tensor 'congruence.L2.max' entry 1");
        // contexts x heads can be gigabytes: checked when a neuron is materialised.
        const Bundle scores = Bundle::open(rewritten("scores.headlight", [](W& w, nlohmann::json&) {
            std::vector<float> s(36, 0.1f);
            s[6 * 3 + 1] = -3e38f;  // context 3 (neuron 2's first), head 1
            w.add("contexts.head_scores", io::DType::F32, {6, 6}, s);
        }));
        QCOMPARE(scores.neuronResult(1).contexts.size(), std::size_t(2));
        HL_EXPECT_ERROR(scores.neuronResult(2), "tensor 'contexts.head_scores' entry 19");
        HL_EXPECT_ERROR(scores.toStudy(), "contexts.head_scores");
    }

    void invalidUtf8IsRefusedEverywhere() {
        // Texts are stored as bytes: invalid UTF-8 is refused at open, so `study info` and `study export`
        // both fail with the same clear error (export used to exit 0).
        const QString bad = rewritten("utf8.headlight", [](io::SafetensorsWriter& w, nlohmann::json&) {
            std::string text;
            std::vector<int64_t> off = {0};
            for (const char* c : {"0", "0", "1", "0", "1", "2"}) {
                text += std::string(off.size() == 1 ? "context \xff " : "context \xe2\x96\x81 ") + c;
                off.push_back(int64_t(text.size()));
            }
            w.add("contexts.text", io::DType::U8, {int64_t(text.size())}, std::vector<uint8_t>(text.begin(), text.end()));
            w.add("contexts.text_offset", io::DType::I64, {7}, off);
        });
        HL_EXPECT_ERROR(Bundle::open(bad), "utf8.headlight", "tensor 'contexts.text' entry 0", "not valid UTF-8");
        for (const char* sub : {"info", "export"}) {
            const auto [code, err] = runCli({QStringLiteral("study"), QLatin1String(sub), bad, QStringLiteral("--json")});
            QCOMPARE(code, 1);
            QVERIFY2(err.contains(QStringLiteral("contexts.text")) && err.contains(QStringLiteral("not valid UTF-8")), qPrintable(err));
        }
    }

    void metadataErrorsNameTheField() {
        // Every error names the file and the field; none is the JSON library's own text, and no float
        // is ever cast to an int (1e30 layers used to be undefined behaviour).
        using J = nlohmann::json;
        const std::vector<std::tuple<const char*, std::function<void(J&)>, QString>> cases = {
            {"l1", [](J& j) { j["model"]["n_layers"] = 1e30; }, QStringLiteral("field 'n_layers' has the wrong type or is out of range")},
            {"l2", [](J& j) { j["model"]["n_layers"] = 2.5; }, QStringLiteral("field 'n_layers'")},
            {"l3", [](J& j) { j["model"]["n_heads"] = "six"; }, QStringLiteral("field 'n_heads'")},
            {"l4", [](J& j) { j["model"] = 7; }, QStringLiteral("missing field 'n_layers'")},
            {"v1", [](J& j) { j["schema_version"] = "1"; }, QStringLiteral("field 'schema_version'")},
            {"s1", [](J& j) { j["schema"] = 5; }, QStringLiteral("not a Headlight study")},
            {"e1", [](J& j) { j["extra"] = 3; }, QStringLiteral("field 'extra'")},
            {"e2", [](J& j) { j["extra"]["note"] = 3; }, QStringLiteral("field 'extra'")},
            {"p1", [](J& j) { j["parameters"]["top_k"] = 1e300; }, QStringLiteral("parameters: field 'top_k'")},
            {"p2", [](J& j) { j["parameters"]["shard_count"] = 0; }, QStringLiteral("shard_index")},
            {"p3", [](J& j) { j["parameters"]["layers"] = J::array({1, 2.5}); }, QStringLiteral("field 'layers'")},
            {"p4", [](J& j) { j["provenance"]["corpus_tokens"] = -1.5; }, QStringLiteral("field 'corpus_tokens'")},
            {"c1", [](J& j) { j["congruence_layers"] = J::array({2, 2}); }, QStringLiteral("congruence_layers")},
            {"c2", [](J& j) { j["congruence_layers"] = J::array({-1}); }, QStringLiteral("congruence_layers")},
            {"a1", [](J& j) { j["ablations"][0]["head_index"] = 600; }, QStringLiteral("'ablations' entry 0")},
            {"a2", [](J& j) { j["ablations"] = J::object(); }, QStringLiteral("'ablations' is not an array")},
            {"a3", [](J& j) { j["ablations"][0]["ks_p_value"] = "x"; }, QStringLiteral("field 'ks_p_value'")},
            {"a4", [](J& j) { j["ablations"][0]["mode"] = "median"; }, QStringLiteral("field 'mode': ablation mode 'median'")},
            {"a5", [](J& j) { j["ablations"][0]["head_indices"] = J::array({3, 600}); }, QStringLiteral("'ablations' entry 0")},
            {"a6", [](J& j) { j["ablations"][0]["head_indices"] = J::array({1, 3}); }, QStringLiteral("does not start with 'head_index'")},
            {"a7", [](J& j) { j["ablations"][0]["group"] = J::array({"L2N0", "N9"}); }, QStringLiteral("field 'group' names 'N9'")},
            {"a8", [](J& j) { j["ablations"][0]["total"] = J::object(); }, QStringLiteral("total: missing field 'drop_active'")},
            {"x1", [](J& j) { j["explanations"] = J::array({{{"layer", 2}, {"neuron", 0}, {"baseline", false}, {"head_index", 99},
                                                              {"source", "llm"}, {"explanation", "x"}}}); },
             QStringLiteral("'explanations' entry 0")},
            {"x2", [](J& j) { j["explanations"] = J::array({{{"layer", 2}, {"neuron", 0}, {"baseline", false}, {"head_index", 1},
                                                              {"source", "llm"}, {"explanation", "x"}, {"tp", -4}}}); },
             QStringLiteral("negative count")},
            {"x3", [](J& j) { j["explanations"] = J::array({{{"layer", 2}, {"neuron", 0}, {"baseline", false}, {"head_index", 1},
                                                              {"source", "llm"}, {"explanation", "x"}, {"score", 3.0}}}); },
             QStringLiteral("score outside [0, 1]")},
        };
        for (const auto& [name, edit, needle] : cases) {
            const QString file = rewritten(name, [&, edit = edit](io::SafetensorsWriter&, J& j) { edit(j); });
            try {
                Bundle::open(file);
                QFAIL(name);
            } catch (const Error& e) {
                const QString msg = QString::fromStdString(e.what());
                QVERIFY2(msg.contains(file) && msg.contains(needle), qPrintable(msg));
                QVERIFY2(!msg.contains(QStringLiteral("json.exception")), qPrintable(msg));
            }
        }
        HL_EXPECT_ERROR(Bundle::open(rewritten("syntax", [](io::SafetensorsWriter& w, J& j) {
                            j = J::object();
                            (void)w;
                        })),
                        "not a Headlight study");
    }

    void ablationModesRoundTripAndOldRecordsRead() {
        // Issue 15: mode, head sets, activation effects, the total effect, the sum of single effects and
        // the neuron group survive the bundle; export and info say the mode and the heads.
        Study s = makeStudy();
        AblationResult a;
        a.neuron = {2, 0};
        a.head = 1;
        a.heads = {1, 3};
        a.mode = AblationMode::Path;
        a.dropActive = {0.2f};
        a.dropInactive = {0.1f, 0.f};
        a.ksStatistic = 1.0;
        a.ksPValue = 0.5;
        a.activationActive = {1.5f};
        a.activationInactive = {0.25f, -0.5f};
        a.activationKsStatistic = std::nan("");
        a.activationKsPValue = 0.75;
        a.total = {{0.3f}, {0.1f, 0.05f}, {2.f}, {0.5f, 0.f}};
        a.sumOfSingles = {{0.25f}, {0.f, 0.f}, {1.f}, {0.f, 0.f}};
        a.group = {{2, 0}, {2, 1}};
        s.ablations.push_back(a);
        saveBundle(s, path("modes.headlight"));
        const Study t = loadStudy(path("modes.headlight"));
        QCOMPARE(t.ablations.size(), std::size_t(2));
        QCOMPARE(t.ablations[0].mode, AblationMode::Zero);  // a record built without mode or heads
        QCOMPARE(t.ablations[0].heads, std::vector<int>{3});
        const AblationResult& b = t.ablations[1];
        QCOMPARE(b.mode, AblationMode::Path);
        QCOMPARE(b.heads, a.heads);
        QCOMPARE(b.head, 1);
        QCOMPARE(b.dropInactive, a.dropInactive);
        QCOMPARE(b.activationActive, a.activationActive);
        QCOMPARE(b.activationInactive, a.activationInactive);
        QVERIFY(std::isnan(b.activationKsStatistic));
        QCOMPARE(b.activationKsPValue, 0.75);
        QCOMPARE(b.total.activationActive, a.total.activationActive);
        QCOMPARE(b.total.dropInactive, a.total.dropInactive);
        QCOMPARE(b.sumOfSingles.activationActive, a.sumOfSingles.activationActive);
        QVERIFY(b.group == a.group);
        const nlohmann::ordered_json e = exportStudyJson(t)["ablations"];
        QCOMPARE(e[0]["mode"].get<std::string>(), std::string("zero"));
        QCOMPARE(e[0]["heads"], nlohmann::ordered_json::array({"L1H1"}));
        QCOMPARE(e[1]["mode"].get<std::string>(), std::string("path"));
        QCOMPARE(e[1]["heads"], nlohmann::ordered_json::array({"L0H1", "L1H1"}));
        QCOMPARE(e[1]["group"], nlohmann::ordered_json::array({"L2N0", "L2N1"}));
        const std::string info = studySummaryText(t);
        QVERIFY2(info.find("ablations:  2 records (path 1, zero 1)") != std::string::npos, info.c_str());
        QVERIFY2(info.find("L2N0 L0H1+L1H1 path [group of 2]: p drop 0.2 active") != std::string::npos, info.c_str());
        QCOMPARE(studySummaryJson(t)["ablation_records"][1]["heads"], nlohmann::ordered_json::array({"L0H1", "L1H1"}));

        // A bundle written before issue 15: no mode, heads or activation effects.
        const QString old = rewritten("old-ablation.headlight", [](io::SafetensorsWriter&, nlohmann::json& j) {
            for (const char* key : {"mode", "heads", "head_indices", "activation_active", "activation_inactive",
                                    "activation_ks_statistic", "activation_ks_p_value"})
                j["ablations"][0].erase(key);
        });
        const Study o = loadStudy(old);
        QCOMPARE(o.ablations.size(), std::size_t(1));
        QCOMPARE(o.ablations[0].mode, AblationMode::Zero);
        QCOMPARE(o.ablations[0].heads, std::vector<int>{3});
        QVERIFY(o.ablations[0].activationActive.empty());
        QCOMPARE(o.ablations[0].dropActive, (std::vector<float>{0.1f, 0.2f}));
    }

    void hugeDeclaredShapeIsRefusedAtOnce() {
        // A bundle declaring 100,000 layers took 126 s to open; now it is refused before any work.
        QElapsedTimer t;
        t.start();
        HL_EXPECT_ERROR(Bundle::open(rewritten("wide.headlight", [](io::SafetensorsWriter&, nlohmann::json& j) {
                            j["model"]["n_layers"] = 100000;
                        })),
                        "100000 layers", "outside the supported range");
        QVERIFY(t.elapsed() < 2000);
    }

    void longTextsLiveInATensor() {
        // One huge explainer reply used to produce a bundle that no command could open again (the
        // metadata header is capped at the reader's limit). Long texts now live in tensor 'texts':
        // a reply larger than that limit saves, reopens intact, and the header stays small.
        Study s = makeStudy();
        HeadExplanation e;
        e.neuron = {2, 0};
        e.head = 1;
        e.source = "llm";
        e.explanation = "x";
        e.prompt = std::string(300, 'p') + "\xC3\xA9";  // just over the inline limit, with UTF-8
        e.reply.assign(io::SafetensorsFile::kMaxHeaderBytes + 1, 'r');
        ExplanationTest t;
        t.text = std::string(kInlineTextBytes, 't');  // at the limit: stays inline
        t.reply = "Yes";
        t.label = true;
        t.predicted = true;
        e.tests.push_back(t);
        s.explanations.push_back(e);
        saveBundle(s, path("big.headlight"));
        const auto st = io::SafetensorsFile::open(path("big.headlight"));
        QVERIFY(st.metadata().at("headlight").size() < 100000);
        QVERIFY(st.find(kTextsTensor));
        QCOMPARE(st.find(kTextsTensor)->nbytes, e.reply.size() + e.prompt.size());
        const Bundle b = Bundle::open(path("big.headlight"));
        QCOMPARE(b.explanations().size(), std::size_t(1));
        QVERIFY(b.explanations()[0].reply == e.reply);
        QVERIFY(b.explanations()[0].prompt == e.prompt);
        QVERIFY(b.explanations()[0].tests.at(0).text == t.text);
        QCOMPARE(b.explanations()[0].explanation, std::string("x"));
    }

    void metadataOverTheReaderLimitIsNeverWritten() {
        // Many short records can still make a header over the reader's limit: the save is refused with
        // a clear error and the previous bundle stays as it was. 210,000 test contexts of 256 quotes
        // each are 54 MB as text and over 100 MiB once escaped into the header.
        saveBundle(makeStudy(), path("many.headlight"));
        const QByteArray before = io::readFile(path("many.headlight"));
        Study s = makeStudy();
        HeadExplanation e;
        e.neuron = {2, 0};
        e.head = 1;
        e.source = "llm";
        e.explanation = "x";
        ExplanationTest t;
        t.text.assign(kInlineTextBytes, '"');
        e.tests.assign(210000, t);
        s.explanations.push_back(std::move(e));
        HL_EXPECT_ERROR(saveBundle(s, path("many.headlight")), "many.headlight", "over the", "limit");
        QCOMPARE(io::readFile(path("many.headlight")), before);
    }

    void textReferencesAreChecked() {
        using W = io::SafetensorsWriter;
        auto withReference = [](const nlohmann::json& ref, int blobBytes) {
            return [ref, blobBytes](W& w, nlohmann::json& j) {
                j["explanations"] = nlohmann::json::array({{{"layer", 2}, {"neuron", 0}, {"baseline", false}, {"head_index", 1},
                                                           {"source", "llm"}, {"explanation", ref}}});
                std::vector<uint8_t> blob(static_cast<std::size_t>(blobBytes), uint8_t('a'));
                if (blobBytes > 1) blob[1] = 0xFF;
                w.add(kTextsTensor, io::DType::U8, {blobBytes}, blob);
            };
        };
        HL_EXPECT_ERROR(Bundle::open(rewritten("ref1.headlight", withReference({{"text", {0, 99}}}, 8))),
                        "ref1.headlight", "points outside tensor 'texts'", "length 99");
        HL_EXPECT_ERROR(Bundle::open(rewritten("ref2.headlight", withReference({{"text", {0, 4}}}, 8))),
                        "ref2.headlight", "tensor 'texts' bytes 0..4 are not valid UTF-8");
        HL_EXPECT_ERROR(Bundle::open(rewritten("ref3.headlight", withReference({{"text", {-1, 2}}}, 8))),
                        "ref3.headlight", "points outside");
        HL_EXPECT_ERROR(Bundle::open(rewritten("ref4.headlight", withReference({{"text", {"0", 2}}}, 8))),
                        "ref4.headlight", "not [offset, length]");
        const Bundle ok = Bundle::open(rewritten("ref5.headlight", withReference({{"text", {2, 3}}}, 8)));
        QCOMPARE(ok.explanations().at(0).explanation, std::string("aaa"));
    }

    void exportToAFullDiskFails() {
        // `study export --json > file` on a full disk used to exit 0 with truncated JSON.
        saveBundle(makeStudy(), path("export.headlight"));
        const auto [ok, okErr] = runCli({QStringLiteral("study"), QStringLiteral("export"), path("export.headlight"), QStringLiteral("--json")},
                                        path("export.json"));
        QCOMPARE(ok, 0);
        QVERIFY(nlohmann::json::parse(io::readFile(path("export.json")).toStdString(), nullptr, false).is_object());
        QVERIFY(QFileInfo::exists(QStringLiteral("/dev/full")));
        const auto [code, err] = runCli({QStringLiteral("study"), QStringLiteral("export"), path("export.headlight"), QStringLiteral("--json")},
                                        QStringLiteral("/dev/full"));
        QCOMPARE(code, 1);
        QVERIFY2(err.contains(QStringLiteral("cannot write to standard output")), qPrintable(err));
    }

    // Issue 13, item 4: the head view lists the neurons where the head is active (in kept contexts) or
    // relevant, with their fractions and E, and sums the look-ups' top contributions by source token.
    void headViewAggregatesLookups() {
        const Study s = headViewStudy();
        const HeadView v = headView(s, 2);
        QCOMPARE(v.neurons.size(), std::size_t(2));
        QCOMPARE(v.neurons[0].ref, (NeuronRef{2, 0}));
        QCOMPARE(v.neurons[0].activeFraction, 1.f);
        QCOMPARE(v.neurons[0].activeContexts, 2);
        QVERIFY(!v.neurons[0].relevant && !v.neurons[0].score);
        QCOMPARE(v.neurons[1].ref, (NeuronRef{2, 1}));
        QCOMPARE(v.neurons[1].activeFraction, 0.5f);
        QCOMPARE(v.neurons[1].activeContexts, 1);
        QCOMPARE(v.neurons[1].keptContexts, 2);
        QVERIFY(v.neurons[1].relevant);
        QCOMPARE(*v.neurons[1].score, 0.8);
        QCOMPARE(*v.neurons[1].baselineScore, 0.6);
        QCOMPARE(v.lookups, 3);
        // Top 3 positive shares per look-up: {1001: 1.0, BOS: 0.5, 1003: 0.3}, {1003: 2.0, 1002: 0.25,
        // 1004: 0.1}, {1002: 0.6, BOS: 0.1} (BOS first in every look-up).
        const std::vector<std::pair<int, double>> expected = {{1002, 0.85}, {1003, 2.3}, {1001, 1.0}, {-1, 0.6}, {1004, 0.1}};
        const std::vector<int> order = {1003, 1001, 1002, -1, 1004};
        QCOMPARE(v.sources.size(), order.size());
        for (std::size_t k = 0; k < order.size(); ++k) {
            QCOMPARE(v.sources[k].tokenId, order[k]);
            for (const auto& [id, sum] : expected)
                if (id == order[k]) QVERIFY2(std::abs(v.sources[k].contribution - sum) < 1e-6, qPrintable(QString::number(v.sources[k].contribution)));
        }
        QCOMPARE(v.sources[0].lookups, 2);
        QCOMPARE(v.sources[3].lookups, 2);
        QCOMPARE(headView(s, 2, 2).sources.size(), std::size_t(2));
        // Only heads with a neuron are in the export's section: L1H0 (2) and L1H1 (3).
        const std::vector<HeadView> all = headViews(s);
        QCOMPARE(all.size(), std::size_t(2));
        QCOMPARE(all[1].head, 3);
        QCOMPARE(all[1].neurons.front().ref, (NeuronRef{2, 2}));
        QVERIFY_THROWS_EXCEPTION(Error, headView(s, 6));
        const std::vector<int> ids = lookupTokenIds(s.neurons[0].contexts[1], s.neurons[0].contexts[1].lookups[0]);
        QCOMPARE(ids, (std::vector<int>{-1, 1002, 1003, 1004}));
    }

    // The same through the CLI: `study info --head` and the export's `heads` section.
    void headViewInCliAndExport() {
        saveBundle(headViewStudy(), path("heads.headlight"));
        const auto [code, err] = runCli({QStringLiteral("study"), QStringLiteral("info"), path("heads.headlight"),
                                         QStringLiteral("--head"), QStringLiteral("L1H0"), QStringLiteral("--json")}, path("head.json"));
        QCOMPARE(code, 0);
        const auto j = nlohmann::json::parse(io::readFile(path("head.json")).toStdString());
        QCOMPARE(j["head"].get<std::string>(), std::string("L1H0"));
        QCOMPARE(j["neurons"].size(), std::size_t(2));
        QCOMPARE(j["neurons"][1]["neuron"].get<std::string>(), std::string("L2N1"));
        QCOMPARE(j["neurons"][1]["active_fraction"].get<double>(), 0.5);
        QCOMPARE(j["neurons"][1]["E"].get<double>(), 0.8);
        QVERIFY(j["neurons"][0]["E"].is_null());
        QCOMPARE(j["top_source_tokens"][0]["token_id"].get<int>(), 1003);
        QVERIFY(std::abs(j["top_source_tokens"][0]["contribution"].get<double>() - 2.3) < 1e-6);
        QCOMPARE(j["top_source_tokens"][3]["token"].get<std::string>(), std::string("BOS"));
        const auto [ecode, eerr] = runCli({QStringLiteral("study"), QStringLiteral("export"), path("heads.headlight"), QStringLiteral("--json")},
                                          path("heads-export.json"));
        QCOMPARE(ecode, 0);
        const auto e = nlohmann::json::parse(io::readFile(path("heads-export.json")).toStdString());
        QCOMPARE(e["heads"].size(), std::size_t(2));
        QCOMPARE(e["heads"][0], j);
        const auto [tcode, text] = runCli({QStringLiteral("study"), QStringLiteral("info"), path("heads.headlight"), QStringLiteral("--head"),
                                           QStringLiteral("L1H0")}, path("head.txt"));
        QCOMPARE(tcode, 0);
        const QString out = QString::fromUtf8(io::readFile(path("head.txt")));
        QVERIFY2(out.contains(QStringLiteral("L2N1        1/2 (50 %)   yes       0.800   0.600")), qPrintable(out));
        const auto [bad, badErr] = runCli({QStringLiteral("study"), QStringLiteral("info"), path("heads.headlight"), QStringLiteral("--head"),
                                           QStringLiteral("L3H0")});
        QCOMPARE(bad, 1);
        QVERIFY2(badErr.contains(QStringLiteral("--head: 'L3H0' is not a head of this study's model (L0H0 to L2H1)")), qPrintable(badErr));
    }

    void saveIsAtomic() {
        saveBundle(makeStudy(), path("keep.headlight"));
        const QByteArray before = io::readFile(path("keep.headlight"));
        Study broken = makeStudy();
        broken.neurons[1].contexts[0].headScores.pop_back();  // inconsistent: refused before writing
        HL_EXPECT_ERROR(saveBundle(broken, path("keep.headlight")), "head scores");
        QCOMPARE(io::readFile(path("keep.headlight")), before);
    }
};

QTEST_GUILESS_MAIN(TestBundle)
#include "test_bundle.moc"
