// The .headlight bundle: exact round trip of a Study, lazy access, and clear errors for corrupt,
// truncated, foreign and future files.
#include <cmath>

#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/study/bundle.h"
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
    s.ablations.push_back({{2, 0}, 3, {0.1f, 0.2f}, {0.01f}, 0.5, 0.25});
    s.extra["note"] = "{\"x\": 1}";
    return s;
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
