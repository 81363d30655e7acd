// Steps 4-5: prompt templates and reply parsing, the explainer and the scorer against the loopback Chat
// Completions server, the scorer's arithmetic on hand-made confusion matrices, the offline n-gram
// baseline on a planted case, the records in the bundle and in `study export --json`, the API key in
// no output file, and the cache making an interrupted run resume without repeating paid requests.
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <QDirIterator>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/analysis/statistics.h"
#include "core/explain/baseline.h"
#include "core/explain/explainer.h"
#include "core/explain/llm_steps.h"
#include "core/explain/scorer.h"
#include "core/io/atomic_file.h"
#include "core/llm/prompts.h"
#include "core/llm/response_cache.h"
#include "core/study/bundle.h"
#include "core/study/study_export.h"
#include "core/study/study_json.h"
#include "tests/llm_test_server.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::explain;
using headlight::test::LlmTestServer;
using headlight::test::ReceivedRequest;
using headlight::test::ServerAction;

namespace {

const char* kSecretKey = "sk-explain-SECRET-key-42";
constexpr int kLayers = 2, kHeads = 2;  // 4 heads; neurons in layer 1, candidate heads 0 and 1
constexpr int kHead = 1;                // the planted head (L0H1)

const char* kFillers[] = {"the", "river", "quiet", "morning", "library", "several", "green", "letters",
                          "market", "window", "carried", "slowly", "bright", "stone", "garden", "music"};

std::string filler(int seed, int words) {
    std::string s;
    for (int i = 0; i < words; ++i) s += (i ? " " : "") + std::string(kFillers[(seed * 7 + i * 3) % 16]);
    return s;
}

const char* kPurposes[] = {"research", "educational", "illustrative", "testing", "personal", "demonstration"};

// Active: "... for X purposes" (the neuron's token " only" comes next); inactive: other text, with
// "for" and "purposes" apart.
NeuronContext makeContext(int64_t doc, bool active, float activation, int variant) {
    NeuronContext c;
    c.doc = doc;
    c.docLine = doc + 100;
    c.docSource = "planted.jsonl";
    c.position = 3;
    c.start = 1;
    c.tokens = {1, 2, 3};
    c.activation = activation;
    c.truncatedActivation = activation;
    if (active)
        c.text = filler(variant, 4) + " for " + kPurposes[variant % 6] + " purposes";
    else if (variant % 3 == 0)
        c.text = filler(variant, 5) + " waited for the " + filler(variant + 1, 2);
    else if (variant % 3 == 1)
        c.text = "their purposes were " + filler(variant, 5);
    else
        c.text = filler(variant, 6) + "\nand then";
    c.headScores = {0.1f, active ? 3.f : 0.2f, NAN, NAN};
    c.active = {0, static_cast<uint8_t>(active ? 1 : 0), 0, 0};
    return c;
}

NeuronResult makeNeuron(int neuron, bool baseline, int contexts, int64_t docBase) {
    NeuronResult r;
    r.neuron.ref = {1, neuron};
    r.neuron.tokenId = 42;
    r.neuron.token = " only";
    r.neuron.congruence = 3.5f;
    r.neuron.baseline = baseline;
    r.candidateHeads = {0, 1};
    r.relevantHeads = {kHead};
    r.activeFraction = {0.f, 0.5f, 0.f, 0.f};
    for (int i = 0; i < contexts; ++i) {
        r.contexts.push_back(makeContext(docBase + i, i % 2 == 0, 10.f - 0.25f * i, i));
        r.contexts.back().text = "story" + std::to_string(neuron) + " " + r.contexts.back().text;  // distinct prompts
    }
    return r;
}

Study makeStudy() {
    Study s;
    s.nLayers = kLayers;
    s.nHeads = kHeads;
    s.dMlp = 64;
    s.provenance.modelId = "planted";
    s.provenance.createdAt = "2026-11-24T07:00:00Z";
    s.parameters.layers = {1};
    s.neurons.push_back(makeNeuron(3, false, 12, 0));
    s.neurons.push_back(makeNeuron(5, false, 12, 1000));
    s.neurons.push_back(makeNeuron(6, true, 12, 2000));  // random-neuron baseline
    // A context outside the kept P: must not be shown or tested.
    NeuronContext dropped = makeContext(999, true, 20.f, 0);
    dropped.text = "DROPPED context";
    dropped.kept = false;
    s.neurons[0].contexts.insert(s.neurons[0].contexts.begin(), dropped);
    return s;
}

// Held-out contexts of every neuron (as labelHeldOut would return them).
std::vector<NeuronResult> makeHeldOut(const Study& s) {
    std::vector<NeuronResult> out;
    int variant = 50;
    for (const NeuronResult& n : s.neurons) {
        NeuronResult r = n;
        r.contexts.clear();
        for (int i = 0; i < 14; ++i, ++variant)
            r.contexts.push_back(makeContext(5000 + variant, i % 3 != 0, 9.f - 0.5f * i, variant));
        out.push_back(std::move(r));
    }
    return out;
}

llm::Endpoint endpointFor(const LlmTestServer& server, const std::string& model) {
    llm::Endpoint e;
    e.baseUrl = server.baseUrl().toStdString();
    e.model = model;
    e.apiKey = kSecretKey;
    e.promptPricePerMillion = 1.0;
    e.completionPricePerMillion = 2.0;
    return e;
}

llm::ClientOptions fastOptions(int concurrency = 4) {
    llm::ClientOptions o;
    o.concurrency = concurrency;
    o.timeoutMs = 5000;
    o.retry.initialBackoffMs = 10;
    o.retry.maxBackoffMs = 50;
    return o;
}

// The scripted models: the explainer reasons then explains; the classifier says Yes when the
// excerpt has "purposes only", except for excerpts with "demonstration" (an invalid "Maybe").
ServerAction scriptedModels(const ReceivedRequest& r) {
    const std::string prompt = r.lastUserMessage();
    if (r.json.value("max_tokens", 0) == 1) {
        const std::size_t at = prompt.find("Here is a text excerpt");
        const std::string excerpt = at == std::string::npos ? prompt : prompt.substr(at);
        if (excerpt.find("demonstration") != std::string::npos) return ServerAction::ok("Maybe");
        return ServerAction::ok(excerpt.find("purposes only") != std::string::npos ? " Yes." : "no");
    }
    return ServerAction::ok("<think>they all say purposes</think>\nThe head is active when the text says something "
                            "is meant \"for ... purposes\", right before \"only\".");
}

// Runs headlight-cli with OPENAI_API_KEY set and the XDG folders (response cache, settings) in `home`.
int runCli(const QString& home, const QStringList& args, QString* out = nullptr, QString* err = nullptr,
           int timeoutMs = 60000) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("OPENAI_API_KEY", kSecretKey);
    env.insert("XDG_CACHE_HOME", home + "/xdg-cache");
    env.insert("XDG_CONFIG_HOME", home + "/xdg-config");
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(HEADLIGHT_CLI_PATH), args);
    if (!p.waitForFinished(timeoutMs)) return -1;
    if (out) *out = QString::fromUtf8(p.readAllStandardOutput());
    if (err) *err = QString::fromUtf8(p.readAllStandardError());
    return p.exitCode();
}

bool anyFileContains(const QString& dir, const QByteArray& needle) {
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile f(it.next());
        if (f.open(QIODevice::ReadOnly) && f.readAll().contains(needle)) return true;
    }
    return false;
}

}  // namespace

class TestExplain : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void replyParsing() {
        using llm::parseYesNo;
        using llm::stripReasoning;
        QCOMPARE(QString::fromStdString(stripReasoning("<think>a\nb</think>\n Answer.")), QStringLiteral("Answer."));
        QCOMPARE(QString::fromStdString(stripReasoning("still thinking</think>Answer")), QStringLiteral("Answer"));
        QCOMPARE(QString::fromStdString(stripReasoning("X <think>1</think> Y <think>2</think> Z")), QStringLiteral("X  Y  Z"));
        QCOMPARE(QString::fromStdString(stripReasoning("Answer <think>cut off")), QStringLiteral("Answer"));
        QCOMPARE(QString::fromStdString(stripReasoning("plain")), QStringLiteral("plain"));
        QCOMPARE(parseYesNo("Yes"), std::optional<bool>(true));
        QCOMPARE(parseYesNo(" yes.\n"), std::optional<bool>(true));
        QCOMPARE(parseYesNo("YES!"), std::optional<bool>(true));
        QCOMPARE(parseYesNo("\"No\""), std::optional<bool>(false));
        QCOMPARE(parseYesNo("<think>yes or no?</think> no"), std::optional<bool>(false));
        QCOMPARE(parseYesNo("thinking...</think>Yes"), std::optional<bool>(true));
        QVERIFY(!parseYesNo("Maybe"));
        QVERIFY(!parseYesNo("Yes, because"));
        QVERIFY(!parseYesNo(""));
        QVERIFY(!parseYesNo("Y"));
        QVERIFY(!parseYesNo("<think>unterminated yes"));
        QCOMPARE(llm::estimateTokens("abcdefgh"), int64_t(2));
        QCOMPARE(llm::estimateTokens("abcdefghi"), int64_t(3));
    }

    void templates() {
        const llm::PromptTemplate ex = llm::builtInTemplate("explainer");
        QVERIFY(ex.text.find("{{positive_examples}}") != std::string::npos);
        QVERIFY(ex.text.find("{{negative_examples}}") != std::string::npos);
        const llm::PromptTemplate cl = llm::builtInTemplate("classifier");
        QVERIFY(cl.text.find("{{explanation}}") != std::string::npos);
        QVERIFY(cl.text.find("{{context}}") != std::string::npos);
        HL_EXPECT_ERROR(llm::builtInTemplate("nope"), "nope");
        llm::PromptTemplate t{"t", "### system\nYou are {{ who }}.\n### user\nSay {{what}}!\n", "test"};
        const auto msgs = t.renderMessages({{"who", "terse"}, {"what", "hi"}});
        QCOMPARE(int(msgs.size()), 2);
        QCOMPARE(QString::fromStdString(msgs[0].role), QStringLiteral("system"));
        QCOMPARE(QString::fromStdString(msgs[0].content), QStringLiteral("You are terse."));
        QCOMPARE(QString::fromStdString(msgs[1].role), QStringLiteral("user"));
        QCOMPARE(QString::fromStdString(msgs[1].content), QStringLiteral("Say hi!"));
        HL_EXPECT_ERROR(t.render({{"who", "x"}}), "unknown placeholder {{what}}", "'t'");
        llm::PromptTemplate bad{"b", "oops {{open", "test"};
        HL_EXPECT_ERROR(bad.render({}), "unterminated");
        // No role lines: one user message.
        llm::PromptTemplate plain{"p", "just {{x}}", "test"};
        QCOMPARE(int(plain.renderMessages({{"x", "this"}}).size()), 1);
        QCOMPARE(QString::fromStdString(plain.renderMessages({{"x", "this"}})[0].role), QStringLiteral("user"));
        // Overrides: --prompts DIR first, then $XDG_CONFIG_HOME/headlight/prompts, then built-in.
        QTemporaryDir config, custom;
        qputenv("XDG_CONFIG_HOME", config.path().toLocal8Bit());
        QCOMPARE(llm::userTemplateDirectory(), config.path() + "/headlight/prompts");
        QCOMPARE(QString::fromStdString(llm::loadTemplate("explainer").source), QStringLiteral("built-in"));
        QDir(config.path()).mkpath("headlight/prompts");
        io::writeFileAtomically(config.path() + "/headlight/prompts/explainer.txt", QByteArray("user {{token}}"));
        QCOMPARE(QString::fromStdString(llm::loadTemplate("explainer").text), QStringLiteral("user {{token}}"));
        io::writeFileAtomically(custom.path() + "/explainer.txt", QByteArray("custom {{token}}"));
        QCOMPARE(QString::fromStdString(llm::loadTemplate("explainer", custom.path()).text), QStringLiteral("custom {{token}}"));
        QCOMPARE(QString::fromStdString(llm::loadTemplate("classifier", custom.path()).source), QStringLiteral("built-in"));
        io::writeFileAtomically(custom.path() + "/classifier.txt", QByteArray("\xff\xfe bad"));
        HL_EXPECT_ERROR(llm::loadTemplate("classifier", custom.path()), "not valid UTF-8");
        HL_EXPECT_ERROR(llm::loadTemplate("classifier", custom.path() + "/missing"), "does not exist");
        qunsetenv("XDG_CONFIG_HOME");
    }

    void explainerPrompt() {
        const Study s = makeStudy();
        const auto targets = relevantTargets(s);
        QCOMPARE(int(targets.size()), 3);
        QCOMPARE(targets[0].neuronIndex, 0);
        QCOMPARE(targets[0].head, kHead);
        ExplainerSettings settings;
        const llm::ChatRequest r = explainerRequest(s, s.neurons[0], kHead, settings);
        QCOMPARE(r.maxTokens, 200);
        QVERIFY(!r.temperature);
        QCOMPARE(int(r.messages.size()), 1);
        const QString prompt = QString::fromStdString(r.messages[0].content);
        QVERIFY(!prompt.contains("{{"));
        QVERIFY(!prompt.contains("DROPPED"));  // not a kept context
        const QString pos = prompt.section("Excerpts where the head is active:", 1).section("Excerpts where the head is not active:", 0, 0);
        const QString neg = prompt.section("Excerpts where the head is not active:", 1);
        QCOMPARE(pos.count("purposes only"), 6);  // token appended
        QCOMPARE(neg.count("purposes only"), 0);
        QCOMPARE(neg.count("\n- "), 6);           // 6 negatives, one per line
        QVERIFY(!neg.contains("\nand then"));     // newlines shown as spaces
        // Descending activation: context 0 before context 2.
        QVERIFY(pos.indexOf(QString::fromStdString(s.neurons[0].contexts[1].text)) <
                pos.indexOf(QString::fromStdString(s.neurons[0].contexts[3].text)));
    }

    void selectTestsTakesTheFirstByActivation() {
        std::vector<NeuronContext> held;
        for (int i = 0; i < 15; ++i) held.push_back(makeContext(i, i % 2 == 0, float(i), i));  // ascending
        held[3].kept = false;
        const auto tests = selectTests(held, kHead, 10);
        QCOMPARE(int(tests.size()), 10);
        QCOMPARE(tests[0].docIndex, int64_t(14));
        QCOMPARE(tests[0].doc, int64_t(114));
        for (const auto& t : tests) QVERIFY(t.docIndex != 3 && t.docIndex >= 4);
        QCOMPARE(tests[9].docIndex, int64_t(5));
        QCOMPARE(tests[1].label, false);  // doc 13
        QCOMPARE(tests[0].label, true);   // doc 14
        QCOMPARE(int(selectTests(held, kHead, 3).size()), 3);
        QCOMPARE(int(selectTests(held, kHead, 100).size()), 14);
    }

    void scoreArithmetic() {
        // tp 3, fn 1, fp 2, tn 4, invalid 2: E = (3/4 + 4/6) / 2.
        HeadExplanation e;
        auto add = [&](bool label, std::optional<bool> predicted, int n) {
            for (int i = 0; i < n; ++i) e.tests.push_back({0, 0, "x", 0.f, label, predicted, "", "", std::nullopt});
        };
        add(true, true, 3);
        add(true, false, 1);
        add(false, true, 2);
        add(false, false, 4);
        add(true, std::nullopt, 1);
        add(false, std::nullopt, 1);
        // A failed request: counted nowhere, and no score until it is retried.
        HeadExplanation withFailure = e;
        withFailure.tests.push_back({0, 0, "x", 0.f, true, std::nullopt, "", "HTTP 500", std::nullopt});
        tally(withFailure);
        QVERIFY(!withFailure.score);
        QCOMPARE(withFailure.tp + withFailure.fn + withFailure.fp + withFailure.tn + withFailure.invalid, int64_t(12));
        tally(e);
        QCOMPARE(e.tp, int64_t(3));
        QCOMPARE(e.fn, int64_t(1));
        QCOMPARE(e.fp, int64_t(2));
        QCOMPARE(e.tn, int64_t(4));
        QCOMPARE(e.invalid, int64_t(2));
        QVERIFY(e.score);
        QVERIFY(std::abs(*e.score - (0.75 + 4.0 / 6.0) / 2) < 1e-12);
        // Perfect and inverted classifiers.
        HeadExplanation p;
        p.tests = {{0, 0, "", 0.f, true, true, "", "", std::nullopt}, {0, 0, "", 0.f, false, false, "", "", std::nullopt}};
        tally(p);
        QCOMPARE(*p.score, 1.0);
        p.tests = {{0, 0, "", 0.f, true, false, "", "", std::nullopt}, {0, 0, "", 0.f, false, true, "", "", std::nullopt}};
        tally(p);
        QCOMPARE(*p.score, 0.0);
        // All labels one class: no score (not 0, not 0.5), whatever the predictions.
        HeadExplanation one;
        one.tests = {{0, 0, "", 0.f, true, true, "", "", std::nullopt}, {0, 0, "", 0.f, true, false, "", "", std::nullopt}, {0, 0, "", 0.f, false, std::nullopt, "", "", std::nullopt}};
        tally(one);
        QVERIFY(!one.score);
        QCOMPARE(one.invalid, int64_t(1));
        HeadExplanation none;
        tally(none);
        QVERIFY(!none.score);
        // Summary: real neurons and the random baseline apart; histogram on [0, 1] with 10 bins.
        Study s;
        for (double v : {0.5, 0.75, 1.0, 0.95}) {
            HeadExplanation x;
            x.source = "llm";
            x.score = v;
            s.explanations.push_back(x);
        }
        HeadExplanation unscored;
        unscored.source = "llm";
        s.explanations.push_back(unscored);
        HeadExplanation base;
        base.source = "llm";
        base.baseline = true;
        base.score = 0.25;
        s.explanations.push_back(base);
        const ScoreSummary real = summarizeScores(s, "llm", false);
        QCOMPARE(real.scored, int64_t(4));
        QCOMPARE(real.unscored, int64_t(1));
        QVERIFY(std::abs(real.summary.mean - 0.8) < 1e-12);
        QCOMPARE(int(real.histogram.counts.size()), 10);
        QCOMPARE(real.histogram.counts[5], int64_t(1));
        QCOMPARE(real.histogram.counts[7], int64_t(1));
        QCOMPARE(real.histogram.counts[9], int64_t(2));  // 0.95 and 1.0 (last bin closed)
        const ScoreSummary rnd = summarizeScores(s, "llm", true);
        QCOMPARE(rnd.scored, int64_t(1));
        QCOMPARE(rnd.summary.mean, 0.25);
        QCOMPARE(rnd.histogram.counts[2], int64_t(1));
    }

    // Step 5 with log-probabilities (OpenAI format over loopback): each test's p_yes, the AUC of a head
    // equal to rocAuc of its tests, a reproducible bootstrap interval around E; bundle, old bundles,
    // export. A Yes/No-only server: no p_yes, AUC null, the interval still there.
    void logprobsGiveAucAndIntervals() {
        LlmTestServer server;
        // The classifier answers Yes for "purposes only" with p(Yes) 0.6 + 0.03 * (length % 10), else
        // No with p(Yes) 0.05 + 0.04 * (length % 10).
        server.setHandler([](const ReceivedRequest& r) {
            if (r.json.value("max_tokens", 0) != 1) return scriptedModels(r);
            const std::string prompt = r.lastUserMessage();
            const std::string excerpt = prompt.substr(std::min(prompt.size(), prompt.find("Here is a text excerpt")));
            const bool yes = excerpt.find("purposes only") != std::string::npos;
            const double p = (yes ? 0.6 : 0.05) + (yes ? 0.03 : 0.04) * double(excerpt.size() % 10);
            return ServerAction::withLogprobs(yes ? "Yes" : "No", ServerAction::Logprobs::OpenAi,
                                              {{yes ? "Yes" : "No", std::log(yes ? p : 1 - p)}, {yes ? " No" : " Yes", std::log(yes ? 1 - p : p)}});
        });
        QTemporaryDir dir;
        LlmStepsOptions options;
        options.explainer = endpointFor(server, "explainer-model");
        options.classifier = endpointFor(server, "classifier-model");
        options.client = fastOptions();
        options.cacheDir = dir.path() + "/cache";
        Study study = makeStudy();
        explainStudy(study, options);
        HeldOutProvenance provenance;
        provenance.corpus = "heldout.jsonl";
        scoreStudy(study, makeHeldOut(study), provenance, options);
        int withAuc = 0;
        for (const HeadExplanation& e : study.explanations) {
            if (e.source != "llm") {
                QVERIFY(!e.auc);  // the offline classifier gives no probabilities
                continue;
            }
            QVERIFY(QString::fromStdString(e.classifierParameters).contains("\"top_logprobs\":10"));
            std::vector<double> p;
            std::vector<bool> labels;
            for (const ExplanationTest& t : e.tests) {
                QVERIFY(t.pYes);
                QCOMPARE(*t.pYes > 0.5, t.predicted.value_or(false));
                p.push_back(*t.pYes);
                labels.push_back(t.label);
            }
            QVERIFY(e.auc && e.score && e.ci95);
            QCOMPARE(*e.auc, *analysis::rocAuc(p, labels));
            QVERIFY(e.ci95->low <= *e.score && *e.score <= e.ci95->high);
            ++withAuc;
        }
        QCOMPARE(withAuc, 3);
        // Reproducible: scoring again (from the cache) gives the same intervals.
        Study again = study;
        scoreStudy(again, makeHeldOut(again), provenance, options);
        for (std::size_t i = 0; i < study.explanations.size(); ++i) {
            QCOMPARE(again.explanations[i].ci95.has_value(), study.explanations[i].ci95.has_value());
            if (study.explanations[i].ci95) {
                QCOMPARE(again.explanations[i].ci95->low, study.explanations[i].ci95->low);
                QCOMPARE(again.explanations[i].ci95->high, study.explanations[i].ci95->high);
            }
        }
        // Bundle round trip, and a bundle of before (no ci95 / auc / p_yes keys) gets the same interval.
        const QString path = dir.path() + "/lp.headlight";
        saveBundle(study, path);
        const Study loaded = loadStudy(path);
        for (std::size_t i = 0; i < study.explanations.size(); ++i) {
            const HeadExplanation& a = study.explanations[i];
            const HeadExplanation& b = loaded.explanations[i];
            QCOMPARE(b.auc, a.auc);
            QCOMPARE(b.ci95->low, a.ci95->low);
            QCOMPARE(b.ci95->high, a.ci95->high);
            for (std::size_t t = 0; t < a.tests.size(); ++t) QCOMPARE(b.tests[t].pYes, a.tests[t].pYes);
            nlohmann::json old = nlohmann::json::parse(toJson(a, study.nHeads).dump());
            old.erase("ci95");
            old.erase("auc");
            const HeadExplanation o = headExplanationFromJson(old, "old bundle");
            QCOMPARE(o.ci95->low, a.ci95->low);
            QCOMPARE(o.ci95->high, a.ci95->high);
            QVERIFY(!o.auc);
        }
        const nlohmann::ordered_json exported = exportStudyJson(loaded);
        const auto& je = exported["neurons"][0]["explanations"][1];
        QCOMPARE(QString::fromStdString(je["source"].get<std::string>()), QStringLiteral("llm"));
        QVERIFY(je["ci95"].is_array() && je["ci95"].size() == 2);
        QCOMPARE(je["auc"].get<double>(), *loaded.explanations[1].auc);
        QVERIFY(je["tests"][0]["p_yes"].is_number());
        QVERIFY(exported["neurons"][0]["explanations"][0]["auc"].is_null());  // baseline
        QVERIFY(QString::fromStdString(describeScoreSummary(summarizeScores(loaded, "llm", false))).contains("[95% CI "));
        QVERIFY(QString::fromStdString(describeScoreSummary(summarizeScores(loaded, "llm", false))).contains("mean AUC "));

        // A Yes/No-only server: no p_yes, no AUC; E and its interval as before.
        LlmTestServer plain;
        plain.setHandler(scriptedModels);
        options.explainer = endpointFor(plain, "explainer-model");
        options.classifier = endpointFor(plain, "classifier-model");
        Study yesNo = makeStudy();
        explainStudy(yesNo, options);
        scoreStudy(yesNo, makeHeldOut(yesNo), provenance, options);
        for (const HeadExplanation& e : yesNo.explanations) {
            QVERIFY(e.score && e.ci95);
            QVERIFY(!e.auc);
            for (const ExplanationTest& t : e.tests) QVERIFY(!t.pYes);
        }
        QVERIFY(exportStudyJson(yesNo)["neurons"][0]["explanations"][1]["auc"].is_null());
        QVERIFY(!exportStudyJson(yesNo)["neurons"][0]["explanations"][1]["tests"][0].contains("p_yes"));
    }

    // Detection-style scoring: several mixed test contexts per request, the model names the active ones;
    // fewer requests and prompt tokens per label than one Yes/No request per test, the same E here.
    void detectionScorerNamesActiveContexts() {
        QCOMPARE(parseDetection("2, 5", 5), std::optional<std::vector<int>>(std::vector<int>{2, 5}));
        QCOMPARE(parseDetection("<think>1?</think> Excerpts 3 and 1.", 4), std::optional<std::vector<int>>(std::vector<int>{3, 1}));
        QCOMPARE(parseDetection("None.", 4), std::optional<std::vector<int>>(std::vector<int>{}));
        QVERIFY(!parseDetection("6", 5));       // out of range: the whole request is invalid
        QVERIFY(!parseDetection("maybe", 5));   // neither numbers nor none
        const auto groups = detectionGroups(10, 4);
        QCOMPARE(groups, (std::vector<std::vector<std::size_t>>{{0, 3, 6, 9}, {1, 4, 7}, {2, 5, 8}}));
        QVERIFY(detectionGroups(0, 4).empty());

        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            const std::string prompt = r.lastUserMessage();
            if (prompt.find("numbered text excerpts") == std::string::npos) return scriptedModels(r);
            std::string named;
            std::istringstream lines(prompt);
            for (std::string line; std::getline(lines, line);) {
                const std::size_t dot = line.find(". ");
                if (dot == std::string::npos || dot > 3 || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
                if (line.find("purposes only") != std::string::npos) named += (named.empty() ? "" : ", ") + line.substr(0, dot);
            }
            return ServerAction::ok(named.empty() ? "None" : named);
        });
        QTemporaryDir dir;
        LlmStepsOptions options;
        options.explainer = endpointFor(server, "explainer-model");
        options.classifier = endpointFor(server, "classifier-model");
        options.client = fastOptions();
        options.cacheDir = dir.path() + "/cache";
        Study study = makeStudy();
        explainStudy(study, options);
        const int before = server.requestCount();
        options.scorerSettings.detect = 4;
        HeldOutProvenance provenance;
        const StepReport report = scoreStudy(study, makeHeldOut(study), provenance, options);
        QCOMPARE(report.requests, int64_t(3 * 3));  // 3 explanations x ceil(10 / 4) requests
        QCOMPARE(server.requestCount() - before, 9);
        QCOMPARE(QString::fromStdString(study.heldOut.classifierTemplate), QString::fromStdString(llm::builtInTemplate("detector").text));
        for (const HeadExplanation& e : study.explanations) {
            if (e.source != "llm") continue;
            QCOMPARE(e.score, std::optional<double>(1.0));
            QCOMPARE(e.invalid, int64_t(0));
            QVERIFY(!e.auc);
            QVERIFY(QString::fromStdString(e.classifierParameters).contains("\"max_tokens\":40"));
            for (const ExplanationTest& t : e.tests) QCOMPARE(t.predicted, std::optional<bool>(t.label));
        }
        // Cheaper per label: fewer requests and prompt tokens for the same 30 labels.
        ScorerSettings yesNo, detection;
        detection.detect = 5;
        const auto one = estimateCost(scoreRequests(study, yesNo), options.classifier, QString(), false);
        const auto grouped = estimateCost(scoreRequests(study, detection), options.classifier, QString(), false);
        QCOMPARE(one.requests, int64_t(30));
        QCOMPARE(grouped.requests, int64_t(6));
        QVERIFY2(grouped.promptTokens * 2 < one.promptTokens, qPrintable(QString("%1 vs %2").arg(grouped.promptTokens).arg(one.promptTokens)));
        qInfo("30 labels: Yes/No %lld requests, ~%lld prompt tokens; detection (5 per request) %lld requests, ~%lld prompt tokens",
              (long long)one.requests, (long long)one.promptTokens, (long long)grouped.requests, (long long)grouped.promptTokens);
    }

    void offlineBaselineOnPlantedCase() {
        Study s = makeStudy();
        const HeadExplanation e = baselineExplanation(s.neurons[0], kHead);
        QCOMPARE(QString::fromStdString(e.source), QStringLiteral("baseline"));
        const QString text = QString::fromStdString(e.explanation);
        QVERIFY2(text.startsWith("active when the context contains"), qPrintable(text));
        QVERIFY2(text.contains("'for ... purposes'"), qPrintable(text));
        const BaselineExplanation b = BaselineExplanation::fromJson(nlohmann::json::parse(e.parameters));
        QVERIFY(!b.features.empty() && b.features.size() <= 5);
        QCOMPARE(b.trainingAccuracy, 1.0);
        // Planted held-out contexts: E = 1.
        mergeExplanations(s, explainWithBaseline(s));
        QCOMPARE(int(s.explanations.size()), 3);
        attachTests(s, makeHeldOut(s), 10);
        scoreBaselines(s);
        for (const HeadExplanation& x : s.explanations) {
            QCOMPARE(int(x.tests.size()), 10);
            QVERIFY(x.score);
            QCOMPARE(*x.score, 1.0);
            QCOMPARE(x.invalid, int64_t(0));
        }
        // Words and gapped pairs.
        QCOMPARE(int(baselineWords("It's FOR the Ünïcode, ok?").size()), 5);
        NgramFeature gap{{"for", "only"}, true};
        QVERIFY(gap.matches(baselineWords("for research purposes only")));
        QVERIFY(!gap.matches(baselineWords("for only")));
        QVERIFY(!gap.matches(baselineWords("for a b c d only")));
        // Nothing separates the classes: an explicit non-explanation that predicts inactive.
        const BaselineExplanation empty = fitBaseline({"same text"}, {"same text"});
        QVERIFY(empty.features.empty());
        QVERIFY(!empty.predict("same text"));
    }

    void explainScoreBundleExportAndNoKeyInOutputs() {
        LlmTestServer server;
        server.setHandler(scriptedModels);
        QTemporaryDir dir;
        const QString cacheDir = dir.path() + "/cache";
        auto cache = std::make_shared<llm::ResponseCache>(cacheDir);
        Study study = makeStudy();
        const auto targets = relevantTargets(study);
        {
            llm::CachedLlmClient explainer(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "explainer-model"), fastOptions()), cache);
            mergeExplanations(study, explainWithLlm(study, targets, explainer, ExplainerSettings{}));
            mergeExplanations(study, explainWithBaseline(study));
        }
        QCOMPARE(server.requestCount(), 3);
        QCOMPARE(int(study.explanations.size()), 6);
        const HeadExplanation& first = study.explanations[0];
        QCOMPARE(QString::fromStdString(first.source), QStringLiteral("baseline"));  // "baseline" < "llm"
        const HeadExplanation& llmFirst = study.explanations[1];
        QCOMPARE(QString::fromStdString(llmFirst.source), QStringLiteral("llm"));
        QCOMPARE(QString::fromStdString(llmFirst.model), QStringLiteral("explainer-model"));
        QVERIFY(QString::fromStdString(llmFirst.endpoint).endsWith("/v1/chat/completions"));
        QVERIFY(QString::fromStdString(llmFirst.reply).startsWith("<think>"));
        QVERIFY(QString::fromStdString(llmFirst.explanation).startsWith("The head is active"));
        QVERIFY(QString::fromStdString(llmFirst.prompt).startsWith("### user\n"));
        QVERIFY(QString::fromStdString(llmFirst.prompt).contains("purposes only"));
        QCOMPARE(QString::fromStdString(llmFirst.parameters), QStringLiteral("{\"max_tokens\":200}"));
        QCOMPARE(llmFirst.promptTokens, int64_t(10));
        QVERIFY(llmFirst.error.empty());

        // Step 5: held-out tests, LLM classifier (another model) and the baseline classifier.
        const auto heldOut = makeHeldOut(study);
        attachTests(study, heldOut, 10);
        {
            llm::CachedLlmClient classifier(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "classifier-model"), fastOptions()), cache);
            QCOMPARE(scoreWithLlm(study, classifier, ScorerSettings{}), int64_t(0));
        }
        scoreBaselines(study);
        QCOMPARE(server.requestCount(), 3 + 30);
        for (const ReceivedRequest& r : server.requests())
            if (r.json.value("max_tokens", 0) == 1)
                QCOMPARE(QString::fromStdString(r.json.value("model", std::string())), QStringLiteral("classifier-model"));
        int scored = 0;
        for (const HeadExplanation& e : study.explanations) {
            QCOMPARE(int(e.tests.size()), 10);
            if (e.source != "llm") continue;
            QCOMPARE(QString::fromStdString(e.classifierModel), QStringLiteral("classifier-model"));
            QVERIFY(e.score);
            ++scored;
            // "demonstration" excerpts got "Maybe": invalid, and everything else right.
            int64_t demo = 0;
            for (const ExplanationTest& t : e.tests) {
                if (t.text.find("demonstration") != std::string::npos) {
                    ++demo;
                    QVERIFY(!t.predicted);
                    QCOMPARE(QString::fromStdString(t.reply), QStringLiteral("Maybe"));
                } else {
                    QCOMPARE(t.predicted, std::optional<bool>(t.label));
                }
            }
            QCOMPARE(e.invalid, demo);
            QCOMPARE(*e.score, 1.0);
            QCOMPARE(e.tp + e.fn + e.fp + e.tn + e.invalid, int64_t(10));
            QCOMPARE(e.classifierPromptTokens, int64_t(100));
        }
        QCOMPARE(scored, 3);
        study.heldOut.corpus = "heldout.jsonl";
        study.heldOut.corpusHash = "abc";
        study.heldOut.classifierTemplate = llm::builtInTemplate("classifier").text;

        // Bundle round trip.
        const QString bundlePath = dir.path() + "/study.headlight";
        saveBundle(study, bundlePath);
        const Study loaded = loadStudy(bundlePath);
        QCOMPARE(loaded.explanations.size(), study.explanations.size());
        for (std::size_t i = 0; i < study.explanations.size(); ++i) {
            const HeadExplanation& a = study.explanations[i];
            const HeadExplanation& b = loaded.explanations[i];
            QCOMPARE(b.neuron, a.neuron);
            QCOMPARE(b.baseline, a.baseline);
            QCOMPARE(b.head, a.head);
            QCOMPARE(b.source, a.source);
            QCOMPARE(b.model, a.model);
            QCOMPARE(b.prompt, a.prompt);
            QCOMPARE(b.reply, a.reply);
            QCOMPARE(b.explanation, a.explanation);
            QCOMPARE(b.parameters, a.parameters);
            QCOMPARE(b.score, a.score);
            QCOMPARE(b.invalid, a.invalid);
            QCOMPARE(b.cost, a.cost);
            QCOMPARE(b.tests.size(), a.tests.size());
            for (std::size_t t = 0; t < a.tests.size(); ++t) {
                QCOMPARE(b.tests[t].text, a.tests[t].text);
                QCOMPARE(b.tests[t].label, a.tests[t].label);
                QCOMPARE(b.tests[t].predicted, a.tests[t].predicted);
                QCOMPARE(b.tests[t].doc, a.tests[t].doc);
            }
        }
        QCOMPARE(loaded.heldOut.corpus, study.heldOut.corpus);
        QCOMPARE(loaded.heldOut.classifierTemplate, study.heldOut.classifierTemplate);
        QCOMPARE(int(Bundle::open(bundlePath).explanations().size()), 6);
        // A bundle without explanations still loads (the key is optional) and writes none.
        Study plain = makeStudy();
        saveBundle(plain, dir.path() + "/plain.headlight");
        QVERIFY(loadStudy(dir.path() + "/plain.headlight").explanations.empty());

        // Export.
        const nlohmann::ordered_json exported = exportStudyJson(loaded);
        const auto& jn = exported["neurons"][0];
        QCOMPARE(int(jn["explanations"].size()), 2);
        const auto& je = jn["explanations"][1];
        QCOMPARE(QString::fromStdString(je["head"].get<std::string>()), QStringLiteral("L0H1"));
        QCOMPARE(QString::fromStdString(je["source"].get<std::string>()), QStringLiteral("llm"));
        QCOMPARE(QString::fromStdString(je["model"].get<std::string>()), QStringLiteral("explainer-model"));
        QCOMPARE(je["score"].get<double>(), 1.0);
        for (const char* k : {"explanation", "tp", "fn", "fp", "tn", "invalid"}) QVERIFY2(je.contains(k), k);
        QCOMPARE(int(je["tests"].size()), 10);
        for (const char* k : {"doc", "text", "label", "predicted"}) QVERIFY2(je["tests"][0].contains(k), k);
        bool sawNullPrediction = false;
        for (const auto& n : exported["neurons"])
            for (const auto& x : n["explanations"])
                for (const auto& t : x["tests"]) sawNullPrediction |= t["predicted"].is_null();
        QVERIFY(sawNullPrediction);
        io::writeFileAtomically(dir.path() + "/export.json", QByteArray::fromStdString(exported.dump(1)));

        // The API key is in no file the program wrote: cache, bundle, export.
        QVERIFY(QFileInfo(cacheDir).isDir());
        QVERIFY(!anyFileContains(dir.path(), kSecretKey));
        QVERIFY(!anyFileContains(dir.path(), "SECRET"));

        // Explaining again with the same replies (from the cache) keeps the scores; a new model's
        // explanations start unscored.
        {
            llm::CachedLlmClient explainer(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "explainer-model"), fastOptions()), cache);
            mergeExplanations(study, explainWithLlm(study, targets, explainer, ExplainerSettings{}));
            QCOMPARE(explainer.hits(), int64_t(3));
        }
        for (const HeadExplanation& e : study.explanations) QCOMPARE(e.score, std::optional<double>(1.0));
        {
            llm::OpenAiChatClient other(endpointFor(server, "other-model"), fastOptions());
            mergeExplanations(study, explainWithLlm(study, targets, other, ExplainerSettings{}));
        }
        QCOMPARE(int(study.explanations.size()), 6);
        for (const HeadExplanation& e : study.explanations) {
            if (e.source == "llm") {
                QVERIFY(!e.score);
                QVERIFY(e.tests.empty());
            } else {
                QCOMPARE(e.score, std::optional<double>(1.0));
            }
        }
    }

    void interruptedRunResumesWithoutRepeatingPaidRequests() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            ServerAction a = scriptedModels(r);
            a.latencyMs = 40;
            return a;
        });
        QTemporaryDir dir;
        auto cache = std::make_shared<llm::ResponseCache>(dir.path() + "/cache");
        // Many targets: 24 neurons, one relevant head each.
        Study study = makeStudy();
        study.neurons.resize(1);
        for (int k = 1; k < 24; ++k) study.neurons.push_back(makeNeuron(10 + k, false, 10, 100 * k));
        const auto targets = relevantTargets(study);
        QCOMPARE(int(targets.size()), 24);
        const QString bundlePath = dir.path() + "/study.headlight";
        saveBundle(study, bundlePath);
        const QByteArray before = io::readFile(bundlePath);
        const int concurrency = 2;
        // Run 1: cancelled after some replies; nothing is saved.
        {
            llm::CachedLlmClient client(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "m"), fastOptions(concurrency)), cache);
            CancellationToken token;
            std::atomic<int64_t> done{0};
            Progress progress([&](int64_t d, int64_t, const std::string&) {
                done = d;
                if (d >= 8) token.cancel();
            }, &token);
            bool cancelled = false;
            try {
                Study copy = study;
                mergeExplanations(copy, explainWithLlm(copy, targets, client, ExplainerSettings{}, progress));
                saveBundle(copy, bundlePath);  // not reached
            } catch (const Cancelled&) {
                cancelled = true;
            }
            QVERIFY(cancelled);
            QVERIFY(done >= 8 && done < 24);
        }
        QCOMPARE(io::readFile(bundlePath), before);  // the previous bundle is intact
        const int firstRun = server.requestCount();
        QVERIFY(firstRun < 24);
        // Run 2: completes; requests answered in run 1 come from the cache (only those in flight at
        // the cancellation, at most `concurrency`, are sent again).
        {
            llm::CachedLlmClient client(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "m"), fastOptions(concurrency)), cache);
            mergeExplanations(study, explainWithLlm(study, targets, client, ExplainerSettings{}));
            QVERIFY(client.hits() >= 8);
            saveBundle(study, bundlePath);
        }
        QVERIFY2(server.requestCount() >= 24 && server.requestCount() <= 24 + concurrency,
                 qPrintable(QString::number(server.requestCount())));
        QCOMPARE(int(loadStudy(bundlePath).explanations.size()), 24);
        // Run 3: everything cached, nothing sent, identical results.
        const int afterSecond = server.requestCount();
        Study again = loadStudy(bundlePath);
        {
            llm::CachedLlmClient client(std::make_shared<llm::OpenAiChatClient>(endpointFor(server, "m"), fastOptions(concurrency)), cache);
            const auto fresh = explainWithLlm(again, targets, client, ExplainerSettings{});
            QCOMPARE(client.hits(), int64_t(24));
            for (std::size_t i = 0; i < fresh.size(); ++i) QCOMPARE(fresh[i].reply, study.explanations[i].reply);
        }
        QCOMPARE(server.requestCount(), afterSecond);
    }

    // `study run` with steps 4-5: a real model (stories260K) and corpora, the LLM on loopback. The
    // bundle gets LLM and baseline explanations scored on the held-out corpus; a rerun of the same
    // command sends nothing (every paid reply comes from the cache); the key is in no file.
    void studyRunWithExplainAndScore() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_sample.jsonl");
        const QString heldout = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_heldout.jsonl");
        HL_REQUIRE_FIXTURE(model);
        HL_REQUIRE_FIXTURE(corpus);
        HL_REQUIRE_FIXTURE(heldout);
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.json.value("max_tokens", 0) == 1)  // the classifier: Yes when the excerpt has a comma
                return ServerAction::ok(r.lastUserMessage().substr(r.lastUserMessage().rfind("Here is")).find(',') != std::string::npos ? "Yes" : "No");
            return ServerAction::ok("<think>commas</think>The head is active after a comma.");
        });
        QTemporaryDir dir;
        const QString bundle = dir.path() + "/run.headlight";
        const QStringList args = {"study", "run", "--model", model, "--corpus", corpus, "--layers", "3,4", "--top", "4",
                                  "--docs", "10", "--prompts", "8", "--explain", "--heldout", heldout,
                                  "--llm-base-url", server.baseUrl(), "--llm-model", "explainer-model",
                                  "--classifier-model", "classifier-model", "--concurrency", "4", "--out", bundle};
        QString out, err;
        // Guard rails: --heldout needs step 4; --dry-run sends nothing.
        QVERIFY(runCli(dir.path(), {"study", "run", "--model", model, "--corpus", corpus, "--heldout", heldout, "--out", bundle}, &out, &err) != 0);
        QVERIFY2(err.contains("--explain or --offline-baseline"), qPrintable(err));
        QCOMPARE(runCli(dir.path(), QStringList(args) << "--dry-run", &out, &err, 300000), 0);
        QVERIFY2(out.contains("explain: ") && out.contains("requests to explainer-model"), qPrintable(out + err));
        QCOMPARE(server.requestCount(), 0);

        QCOMPARE(runCli(dir.path(), args, &out, &err, 300000), 0);
        const Study study = loadStudy(bundle);
        int llm = 0, baseline = 0, tests = 0;
        for (const HeadExplanation& e : study.explanations) {
            (e.source == "llm" ? llm : baseline)++;
            if (e.source == "llm") {
                tests += static_cast<int>(e.tests.size());
                QCOMPARE(QString::fromStdString(e.explanation), QStringLiteral("The head is active after a comma."));
                QCOMPARE(QString::fromStdString(e.model), QStringLiteral("explainer-model"));
                QCOMPARE(e.tp + e.fn + e.fp + e.tn + e.invalid, static_cast<int64_t>(e.tests.size()));
            }
        }
        int relevant = 0;
        for (const NeuronResult& n : study.neurons) relevant += static_cast<int>(n.relevantHeads.size());
        QVERIFY2(relevant > 0, "the study should find relevant heads to explain");
        QCOMPARE(llm, relevant);
        QCOMPARE(baseline, relevant);
        QCOMPARE(QString::fromStdString(study.heldOut.corpus), heldout);
        QVERIFY(tests > 0);
        const int sent = server.requestCount();
        QCOMPARE(sent, relevant + tests);  // one per explanation + one per LLM test context
        // study info summarises the scores.
        QCOMPARE(runCli(dir.path(), {"study", "info", bundle}, &out, &err), 0);
        QVERIFY2(out.contains("explained:") && out.contains("LLM") && out.contains("offline") && out.contains("mean E"), qPrintable(out));
        QCOMPARE(runCli(dir.path(), {"study", "info", bundle, "--json"}, &out, &err), 0);
        const auto info = nlohmann::json::parse(out.toStdString());
        QCOMPARE(info["explanations"].get<int>(), llm + baseline);
        QVERIFY(info["scores"].size() >= 2);
        // The same command again: steps 1-3 recomputed, every LLM reply from the cache.
        QCOMPARE(runCli(dir.path(), args, &out, &err, 300000), 0);
        QCOMPARE(server.requestCount(), sent);
        QVERIFY2(out.contains("0 sent"), qPrintable(out));
        QVERIFY(!anyFileContains(dir.path(), kSecretKey));
    }

    // The one study job (core/explain/study_job.h) behind `study run`: when some explainer requests fail
    // for good, the run still scores what was explained, writes the bundle with every failure recorded,
    // exits 1, and a rerun sends only the failed requests.
    void studyRunKeepsGoingPastFailedExplanations() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_sample.jsonl");
        const QString heldout = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_heldout.jsonl");
        HL_REQUIRE_FIXTURE(model);
        LlmTestServer server;
        std::atomic<bool> failing{true};
        std::atomic<int> explainerCalls{0};
        server.setHandler([&](const ReceivedRequest& r) {
            if (r.json.value("max_tokens", 0) == 1) return ServerAction::ok("Yes");
            // The first explainer request fails for good while `failing`; the others succeed.
            if (failing && explainerCalls++ == 0) return ServerAction::error(400, "bad request for this one");
            return ServerAction::ok("Active after a comma.");
        });
        QTemporaryDir dir;
        const QString bundle = dir.path() + "/run.headlight";
        const QStringList args = {"study", "run", "--model", model, "--corpus", corpus, "--layers", "3,4", "--top", "4",
                                  "--docs", "10", "--prompts", "8", "--explain", "--heldout", heldout,
                                  "--llm-base-url", server.baseUrl(), "--llm-model", "m", "--concurrency", "1",
                                  "--attempts", "1", "--out", bundle};
        QString out, err;
        QCOMPARE(runCli(dir.path(), args, &out, &err, 300000), 1);
        QVERIFY2(err.contains("1 of") && err.contains("explainer"), qPrintable(err));
        Study study = loadStudy(bundle);
        int failed = 0, scored = 0;
        for (const HeadExplanation& e : study.explanations) {
            if (e.source != "llm") continue;
            failed += e.error.empty() ? 0 : 1;
            scored += e.tests.empty() ? 0 : 1;
        }
        QCOMPARE(failed, 1);
        QVERIFY2(scored > 0, "the explained heads are scored although one explanation failed");
        QVERIFY(!study.heldOut.corpus.empty());
        const int sent = server.requestCount();
        // The rerun sends the failed explainer request and the classifier requests of its tests only.
        failing = false;
        QCOMPARE(runCli(dir.path(), args, &out, &err, 300000), 0);
        study = loadStudy(bundle);
        for (const HeadExplanation& e : study.explanations) QVERIFY(e.error.empty());
        const int resent = server.requestCount() - sent;
        QVERIFY2(resent >= 1 && resent <= 1 + 10, qPrintable(QString::number(resent)));
    }

    void commandLineExplainScoreExport() {
        LlmTestServer server;
        server.setHandler(scriptedModels);
        QTemporaryDir dir;
        const QString bundle = dir.path() + "/x.headlight";
        const QString heldBundle = dir.path() + "/held.headlight";
        Study study = makeStudy();
        saveBundle(study, bundle);
        Study held = study;
        held.neurons = makeHeldOut(study);
        held.provenance.corpus = "heldout.jsonl";
        held.provenance.corpusHash = "feed";
        saveBundle(held, heldBundle);
        auto run = [&](const QStringList& args, QString* out = nullptr, QString* err = nullptr) {
            return runCli(dir.path(), args, out, err);
        };
        const QStringList llm = {"--llm-base-url", server.baseUrl(), "--llm-model", "explainer-model", "--concurrency", "4",
                                 "--prompt-price", "10", "--completion-price", "30"};
        QString out, err;
        // Dry run: counts and estimates, nothing sent or written.
        const QByteArray before = io::readFile(bundle);
        QCOMPARE(run(QStringList{"study", "explain", bundle, "--dry-run"} + llm, &out, &err), 0);
        QVERIFY2(out.contains("explain: 3 requests to explainer-model") && out.contains("prompt tokens") &&
                     out.contains("estimated cost: at most $"), qPrintable(out + err));
        QCOMPARE(server.requestCount(), 0);
        QCOMPARE(io::readFile(bundle), before);
        // Explain in place (the cache goes to $XDG_CACHE_HOME/headlight/llm).
        QCOMPARE(run(QStringList{"study", "explain", bundle} + llm, &out, &err), 0);
        QVERIFY2(out.contains("3 ok, 0 failed") && out.contains("3 sent, 0 from the cache"), qPrintable(out + err));
        QCOMPARE(server.requestCount(), 3);
        QCOMPARE(int(loadStudy(bundle).explanations.size()), 6);
        // A rerun is free: everything from the cache.
        QCOMPARE(run(QStringList{"study", "explain", bundle} + llm, &out, &err), 0);
        QVERIFY2(out.contains("0 sent, 3 from the cache"), qPrintable(out + err));
        QCOMPARE(server.requestCount(), 3);
        // Score with another classifier model, labels from a held-out bundle, into a new file.
        const QString scored = dir.path() + "/scored.headlight";
        QCOMPARE(run(QStringList{"study", "score", bundle, "--heldout-bundle", heldBundle, "--classifier-model",
                                 "classifier-model", "--out", scored} + llm, &out, &err), 0);
        QVERIFY2(out.contains("mean E 1.000"), qPrintable(out + err));
        QCOMPARE(server.requestCount(), 3 + 30);
        const Study s = loadStudy(scored);
        QCOMPARE(QString::fromStdString(s.heldOut.corpus), QStringLiteral("heldout.jsonl"));
        for (const HeadExplanation& e : s.explanations) QCOMPARE(e.score, std::optional<double>(1.0));
        // Export.
        QCOMPARE(run({"study", "export", scored, "--json", "--out", dir.path() + "/export.json"}, &out, &err), 0);
        const auto doc = nlohmann::json::parse(io::readFile(dir.path() + "/export.json").toStdString());
        QCOMPARE(int(doc["neurons"][0]["explanations"].size()), 2);
        // Errors: a missing --heldout, a bundle without explanations.
        QVERIFY(run({"study", "score", bundle}, &out, &err) != 0);
        QVERIFY2(err.contains("--heldout"), qPrintable(err));
        QVERIFY(run({"study", "score", heldBundle, "--heldout-bundle", heldBundle}, &out, &err) != 0);
        QVERIFY2(err.contains("no explanations"), qPrintable(err));
        // 401: a clear message, exit 1, the bundle keeps its explanations.
        server.setHandler([](const ReceivedRequest&) { return ServerAction::error(401, "Incorrect API key provided"); });
        QCOMPARE(run(QStringList{"study", "explain", bundle, "--no-cache"} + llm, &out, &err), 1);
        QVERIFY2(err.contains("HTTP 401") && err.contains("Incorrect API key provided"), qPrintable(err));
        QCOMPARE(int(loadStudy(bundle).explanations.size()), 6);
        // ... and `study score` records each failed test (no score without every test), exit 1.
        QCOMPARE(run(QStringList{"study", "score", scored, "--heldout-bundle", heldBundle, "--no-cache"} + llm, &out, &err), 1);
        QVERIFY2(err.contains("30 of 30 classifier requests failed") && err.contains("HTTP 401"), qPrintable(err));
        for (const HeadExplanation& e : loadStudy(scored).explanations) {
            if (e.source != "llm") continue;
            QVERIFY(!e.score);
            for (const ExplanationTest& t : e.tests) QVERIFY2(QString::fromStdString(t.error).contains("HTTP 401"), t.error.c_str());
        }
        // No file written anywhere holds the key.
        QVERIFY(QFileInfo(dir.path() + "/xdg-cache/headlight/llm").isDir());
        QVERIFY(!anyFileContains(dir.path(), kSecretKey));
    }

    // The fault matrix through the command line, against a "2026" server that refuses max_tokens and
    // temperature: each fault for good on one explainer request (and on the classifier requests of
    // two explanations); the bundle keeps what succeeded and records each failure; a rerun against
    // the healed server sends only the failed requests; the key is in no file, failure records included.
    void faultMatrixKeepsWhatSucceededAndRerunSendsOnlyFailures() {
        std::atomic<bool> broken{true};
        auto storyOf = [](const std::string& prompt) {
            const std::size_t at = prompt.find("story");
            return at == std::string::npos ? -1 : std::atoi(prompt.c_str() + at + 5);
        };
        auto unsupported = [](const char* param) {
            ServerAction a;
            a.status = 400;
            a.body = QByteArray::fromStdString(nlohmann::json{{"error", {{"message", std::string("Unsupported parameter: '") + param + "' is not supported with this model."},
                                                                          {"param", param}, {"code", "unsupported_parameter"}}}}.dump());
            return a;
        };
        LlmTestServer server;
        server.setHandler([&](const ReceivedRequest& r) {
            if (r.method == "GET") {
                ServerAction a;
                a.body = R"({"data": [{"id": "gpt-5"}, {"id": "gpt-5-mini"}]})";
                return a;
            }
            if (r.json.contains("max_tokens")) return unsupported("max_tokens");
            if (r.json.contains("temperature")) return unsupported("temperature");
            const std::string prompt = r.lastUserMessage();
            const bool classifier = r.json.value("max_completion_tokens", 0) == 1;
            const int story = storyOf(classifier ? prompt.substr(0, prompt.find("Here is a text excerpt")) : prompt);
            ServerAction a;
            if (broken && classifier && story == 10) return ServerAction::of(ServerAction::MalformedJson);
            if (broken && classifier && story == 11) return ServerAction::of(ServerAction::ResetMidBody);
            if (classifier) {
                const std::string excerpt = prompt.substr(prompt.find("Here is a text excerpt"));
                return ServerAction::ok(excerpt.find("purposes only") != std::string::npos ? "Yes" : "No");
            }
            if (broken) {
                switch (story) {
                    case 10: return ServerAction::of(ServerAction::MalformedJson);
                    case 11: a.body = R"({"error": {"message": "upstream overloaded"}})"; return a;
                    case 12: a.body = R"({"choices": []})"; return a;
                    case 13: a.body = "{\"choices\": [{\"message\": {\"content\": \"\xff\"}}]}"; return a;
                    case 14: return ServerAction::of(ServerAction::EndlessDeclared);
                    case 15: return ServerAction::of(ServerAction::ResetMidBody);
                    case 16: return ServerAction::of(ServerAction::Hang);
                    case 17: return ServerAction::error(404, "The model does not exist");
                    case 18: return ServerAction::error(401, std::string("Incorrect API key provided: ") + kSecretKey);
                    default: break;
                }
            }
            return ServerAction::ok("<think>purposes</think>Active on \"for ... purposes\" before \"only\" (story " + std::to_string(story) + ").");
        });
        // POSTs in the accepted form (what a request costs), per story.
        auto accepted = [&](int from) {
            std::multiset<int> stories;
            const auto all = server.requests();
            for (std::size_t i = from; i < all.size(); ++i)
                if (all[i].method == "POST" && !all[i].json.contains("max_tokens") && !all[i].json.contains("temperature"))
                    stories.insert(all[i].json.value("max_completion_tokens", 0) == 1 ? 1000 + storyOf(all[i].lastUserMessage()) : storyOf(all[i].lastUserMessage()));
            return stories;
        };
        // The hanging server must time out; the others answer well within it (AddressSanitizer slows
        // the ten concurrent requests several-fold).
#ifdef __SANITIZE_ADDRESS__
        const QString kFaultTimeout = QStringLiteral("2");
#else
        const QString kFaultTimeout = QStringLiteral("0.3");
#endif
        QTemporaryDir dir;
        Study study = makeStudy();
        study.neurons.clear();
        for (int k = 0; k < 10; ++k) study.neurons.push_back(makeNeuron(10 + k, false, 12, 100 * k));
        const QString bundle = dir.path() + "/faults.headlight";
        saveBundle(study, bundle);
        Study held = study;
        held.neurons = makeHeldOut(study);
        for (NeuronResult& n : held.neurons)
            for (NeuronContext& c : n.contexts) c.text = "story" + std::to_string(n.neuron.ref.neuron) + " " + c.text;
        const QString heldBundle = dir.path() + "/held.headlight";
        saveBundle(held, heldBundle);
        const QStringList llm = {"--llm-base-url", server.baseUrl(), "--llm-model", "explainer-model", "--concurrency", "10",
                                 "--temperature", "0.5", "--attempts", "2", "--timeout", kFaultTimeout};
        QString out, err;
        QCOMPARE(runCli(dir.path(), QStringList{"study", "explain", bundle} + llm, &out, &err), 1);
        QVERIFY2(err.contains("9 of 10 explainer requests failed") && err.contains("rerun"), qPrintable(err));
        std::map<int, std::string> errors;
        int good = 0;
        for (const HeadExplanation& e : loadStudy(bundle).explanations) {
            if (e.source != "llm") continue;
            if (e.error.empty()) {
                ++good;
                QCOMPARE(e.neuron.neuron, 19);
                QCOMPARE(QString::fromStdString(e.parameters), QStringLiteral("{\"max_completion_tokens\":200}"));  // as sent
            } else {
                QVERIFY(e.explanation.empty());
                errors[e.neuron.neuron] = e.error;
            }
        }
        QCOMPARE(good, 1);
        QCOMPARE(int(errors.size()), 9);
        const std::map<int, const char*> reasons = {{10, "not valid JSON"}, {11, "error object: upstream overloaded"},
                                                    {12, "choices[0].message.content"}, {13, "not valid JSON"},
                                                    {14, "larger than 16 MiB"}, {15, "truncated"}, {16, "timeout"},
                                                    {17, "model 'explainer-model' not found"}, {18, "[API key]"}};
        for (const auto& [story, reason] : reasons)
            QVERIFY2(QString::fromStdString(errors[story]).contains(reason) && QString::fromStdString(errors[story]).contains("LLM request to"),
                     qPrintable(QString::number(story) + ": " + QString::fromStdString(errors[story])));
        QVERIFY2(QString::fromStdString(errors[17]).contains("the server offers: gpt-5, gpt-5-mini"), errors[17].c_str());
        // Rerun against the healed server: only the 9 failed requests go out (in the accepted form).
        broken = false;
        const int beforeRerun = server.requestCount();
        QCOMPARE(runCli(dir.path(), QStringList{"study", "explain", bundle} + llm, &out, &err), 0);
        QCOMPARE(accepted(beforeRerun), (std::multiset<int>{10, 11, 12, 13, 14, 15, 16, 17, 18}));
        // + the 2 refusals (400) that teach the new process the parameter form, on its first request only.
        QCOMPARE(server.requestCount() - beforeRerun, 9 + 2);
        qInfo("explain: %d HTTP requests on the first run, %d on the rerun", beforeRerun, server.requestCount() - beforeRerun);
        for (const HeadExplanation& e : loadStudy(bundle).explanations) QVERIFY2(e.error.empty() && !e.explanation.empty(), e.error.c_str());

        // Score: the classifier requests of stories 10 and 11 fail for good.
        broken = true;
        const int beforeScore = server.requestCount();
        QCOMPARE(runCli(dir.path(), QStringList{"study", "score", bundle, "--heldout-bundle", heldBundle} + llm, &out, &err), 1);
        QVERIFY2(err.contains("20 of 100 classifier requests failed"), qPrintable(err));
        const std::multiset<int> firstScore = accepted(beforeScore);
        QVERIFY2(firstScore.size() == 120 && firstScore.count(1010) == 20 && firstScore.count(1011) == 20, qPrintable(QString("%1 sent; story 10: %2, story 11: %3").arg(firstScore.size())
                                                    .arg(firstScore.count(1010)).arg(firstScore.count(1011))));
        int scored = 0;
        for (const HeadExplanation& e : loadStudy(bundle).explanations) {
            if (e.source != "llm") continue;
            const bool failing = e.neuron.neuron == 10 || e.neuron.neuron == 11;
            QCOMPARE(bool(e.score), !failing);
            scored += e.score ? 1 : 0;
            for (const ExplanationTest& t : e.tests) QCOMPARE(t.error.empty(), !failing);
            if (failing) QVERIFY2(QString::fromStdString(e.tests[0].error).contains(e.neuron.neuron == 10 ? "not valid JSON" : "truncated"), e.tests[0].error.c_str());
        }
        QCOMPARE(scored, 8);
        broken = false;
        const int beforeRescore = server.requestCount();
        QCOMPARE(runCli(dir.path(), QStringList{"study", "score", bundle, "--heldout-bundle", heldBundle} + llm, &out, &err), 0);
        const std::multiset<int> rescored = accepted(beforeRescore);
        QCOMPARE(int(rescored.size()), 20);
        QCOMPARE(server.requestCount() - beforeRescore, 20 + 2);
        qInfo("score: %d HTTP requests on the first run, %d on the rerun", beforeRescore - beforeScore, server.requestCount() - beforeRescore);
        QCOMPARE(int(rescored.count(1010) + rescored.count(1011)), 20);
        for (const HeadExplanation& e : loadStudy(bundle).explanations)
            if (e.source == "llm") QVERIFY(e.score);
        // A cache that cannot be written: the run succeeds, and says that a rerun would pay again.
        {
            QFile blocker(dir.path() + "/blocker");
            QVERIFY(blocker.open(QIODevice::WriteOnly));
        }
        QCOMPARE(runCli(dir.path(), QStringList{"study", "explain", bundle, "--cache-dir", dir.path() + "/blocker/llm"} + llm, &out, &err), 0);
        QVERIFY2(err.contains("warning: 10 replies could not be written to the response cache") && err.contains("blocker/llm"), qPrintable(err));
        // The key is in no file the program wrote: bundle (failure records included), cache.
        QVERIFY(!anyFileContains(dir.path(), kSecretKey));
    }

    void malformedExplanationsAreRefused() {
        QTemporaryDir dir;
        Study study = makeStudy();
        mergeExplanations(study, explainWithBaseline(study));
        const QString path = dir.path() + "/x.headlight";
        saveBundle(study, path);
        // Rewrites the metadata document of the bundle with `edit` applied (header padded to 8 bytes).
        auto rewrite = [&](const std::function<void(nlohmann::json&)>& edit) {
            const QByteArray bytes = io::readFile(path);
            uint64_t n = 0;
            std::memcpy(&n, bytes.constData(), 8);
            nlohmann::json header = nlohmann::json::parse(bytes.mid(8, int(n)).toStdString());
            nlohmann::json doc = nlohmann::json::parse(header["__metadata__"]["headlight"].get<std::string>());
            edit(doc);
            header["__metadata__"]["headlight"] = doc.dump();
            std::string text = header.dump();
            while (text.size() % 8) text += ' ';
            uint64_t m = text.size();
            QByteArray out(reinterpret_cast<const char*>(&m), 8);
            out += QByteArray::fromStdString(text) + bytes.mid(int(8 + n));
            const QString bad = dir.path() + "/bad.headlight";
            io::writeFileAtomically(bad, out);
            return bad;
        };
        QCOMPARE(int(loadStudy(rewrite([](nlohmann::json&) {})).explanations.size()), 3);
        HL_EXPECT_ERROR(loadStudy(rewrite([](nlohmann::json& d) { d["explanations"][0].erase("source"); })),
                        "bad.headlight", "missing field 'source'");
        HL_EXPECT_ERROR(loadStudy(rewrite([](nlohmann::json& d) { d["explanations"][1]["tests"] = 3; })), "'tests'");
        HL_EXPECT_ERROR(loadStudy(rewrite([](nlohmann::json& d) { d["explanations"][2]["head_index"] = 99; })),
                        "outside the model");
        HL_EXPECT_ERROR(loadStudy(rewrite([](nlohmann::json& d) { d["explanations"] = "x"; })), "not an array");
    }

    void failedExplainerRequestsAreRecorded() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest&) { return ServerAction::error(400, "context_length_exceeded"); });
        Study study = makeStudy();
        llm::OpenAiChatClient client(endpointFor(server, "m"), fastOptions());
        const auto out = explainWithLlm(study, relevantTargets(study), client, ExplainerSettings{});
        QCOMPARE(int(out.size()), 3);
        for (const auto& e : out) {
            QVERIFY(e.explanation.empty());
            QVERIFY2(QString::fromStdString(e.error).contains("context_length_exceeded"), e.error.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestExplain)
#include "test_explain.moc"
