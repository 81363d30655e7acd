// Steps 4-5 on a bundle:
//   headlight-cli study explain X.headlight [LLM options] [--offline-baseline] [--dry-run] [--out Y.headlight]
//   headlight-cli study score X.headlight --heldout FILE [--model M | --heldout-bundle H.headlight] [LLM options]
// LLM options: --llm-base-url URL --llm-model NAME --classifier-base-url URL --classifier-model NAME
//   --concurrency N --no-cache --cache-dir DIR --prompts DIR (+ prices, timeouts, temperature).
// The API key comes from OPENAI_API_KEY only and is never written anywhere. The bundle is rewritten
// atomically at the end (in place unless --out): an interrupted run leaves it as it was, and a rerun
// takes every reply it already paid for from the response cache. When some requests fail for good the
// bundle is still written with everything that succeeded, each failure recorded in its record's
// `error` field; the command lists them and exits 1, and a rerun sends only the failed ones.
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <memory>
#include <sstream>

#include <unistd.h>

#include <QDateTime>
#include <QString>
#include <QFileInfo>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/explain/baseline.h"
#include "core/explain/explainer.h"
#include "core/explain/llm_steps.h"
#include "core/explain/scorer.h"
#include "core/llm/llm_client.h"
#include "core/llm/prompts.h"
#include "core/llm/response_cache.h"
#include "core/study/bundle.h"
#include "core/study/heldout.h"

namespace headlight::cli {

namespace {

QCommandLineOption opt(const char* name, const char* help, const char* value = nullptr, const char* def = nullptr) {
    QCommandLineOption o(QString::fromLatin1(name), QString::fromLatin1(help));
    if (value) o.setValueName(QString::fromLatin1(value));
    if (def) o.setDefaultValue(QString::fromLatin1(def));
    return o;
}

// Options shared by explain, score and run (run writes its own --out).
struct LlmOptions {
    explicit LlmOptions(bool forRun = false) : forRun(forRun) {}
    bool forRun;
    QCommandLineOption baseUrl = opt("llm-base-url", "Explainer endpoint (OpenAI-compatible; default $OPENAI_BASE_URL or https://api.openai.com/v1).", "URL");
    QCommandLineOption model = opt("llm-model", "Explainer model (default gpt-4-1106-preview, the paper's).", "NAME", "gpt-4-1106-preview");
    QCommandLineOption classifierUrl = opt("classifier-base-url", "Classifier endpoint (default: the explainer's).", "URL");
    QCommandLineOption classifierModel = opt("classifier-model", "Classifier model (default: the explainer's).", "NAME");
    QCommandLineOption organization = opt("organization", "OpenAI-Organization header (default $OPENAI_ORG_ID).", "ORG");
    QCommandLineOption concurrency = opt("concurrency", "Requests in flight at once (default 16).", "N", "16");
    QCommandLineOption timeout = opt("timeout", "Seconds per attempt before a request is retried (default 120).", "S", "120");
    QCommandLineOption attempts = opt("attempts", "Attempts per request: first try + retries (default 6).", "N", "6");
    QCommandLineOption temperature = opt("temperature", "Sampling temperature (default: the server's, as the paper).", "T");
    QCommandLineOption promptPrice = opt("prompt-price", "Explainer price, USD per 1M prompt tokens, for cost accounting (default 0).", "USD", "0");
    QCommandLineOption completionPrice = opt("completion-price", "Explainer price, USD per 1M completion tokens (default 0).", "USD", "0");
    QCommandLineOption classifierPromptPrice = opt("classifier-prompt-price", "Classifier price per 1M prompt tokens (default: the explainer's).", "USD");
    QCommandLineOption classifierCompletionPrice = opt("classifier-completion-price", "Classifier price per 1M completion tokens (default: the explainer's).", "USD");
    QCommandLineOption dryRun = opt("dry-run", "Print the number of requests and estimated tokens and cost; send nothing.");
    QCommandLineOption noCache = opt("no-cache", "Neither read nor write the response cache.");
    QCommandLineOption cacheDir = opt("cache-dir", "Response cache folder (default $XDG_CACHE_HOME/headlight/llm).", "DIR");
    QCommandLineOption prompts = opt("templates", "Folder with explainer.txt / classifier.txt overriding the prompt templates.", "DIR");
    QCommandLineOption out = opt("out", "Write the result here instead of rewriting the input bundle.", "FILE");
    QCommandLineOption topLogprobs = opt("top-logprobs", "Classifier: ask for the log-probabilities of the N likeliest first "
                                         "tokens, for p(Yes) and the AUC (default 10; 0: Yes/No only). A server that "
                                         "refuses them is asked without.", "N", "10");
    QCommandLineOption detect = opt("detect", "Classifier: detection-style scoring, up to K test contexts per request "
                                    "(the model names those where the head is active; cheaper per label, no AUC). "
                                    "Default 0: one Yes/No request per test context (the paper's).", "K", "0");

    std::vector<const QCommandLineOption*> all() const {
        std::vector<const QCommandLineOption*> v = {&baseUrl, &model, &classifierUrl, &classifierModel, &organization,
                                                     &concurrency, &timeout, &attempts, &temperature, &promptPrice,
                                                     &completionPrice, &classifierPromptPrice, &classifierCompletionPrice,
                                                     &dryRun, &noCache, &cacheDir, &prompts, &topLogprobs, &detect};
        if (!forRun) v.push_back(&out);
        return v;
    }
    void addTo(QCommandLineParser& p) const {
        for (const QCommandLineOption* o : all()) p.addOption(*o);
    }
};

double number(const QCommandLineParser& p, const QCommandLineOption& o, double min) {
    bool ok = false;
    const double v = p.value(o).toDouble(&ok);
    if (!ok || !(v >= min))
        throw Error("--" + o.names().front().toStdString() + ": '" + p.value(o).toStdString() + "' is not a number >= " +
                    QString::number(min).toStdString());
    return v;
}

std::optional<double> temperatureOf(const QCommandLineParser& p, const LlmOptions& o) {
    if (!p.isSet(o.temperature)) return std::nullopt;
    return number(p, o.temperature, 0.0);
}

llm::Endpoint explainerEndpoint(const QCommandLineParser& p, const LlmOptions& o) {
    llm::Endpoint e;
    const QByteArray envBase = qgetenv("OPENAI_BASE_URL");
    e.baseUrl = p.isSet(o.baseUrl) ? p.value(o.baseUrl).toStdString()
                                   : (envBase.isEmpty() ? e.baseUrl : envBase.toStdString());
    e.model = p.value(o.model).toStdString();
    e.organization = p.value(o.organization).toStdString();
    e.takeKeyFromEnvironment();
    e.promptPricePerMillion = number(p, o.promptPrice, 0);
    e.completionPricePerMillion = number(p, o.completionPrice, 0);
    return e;
}

llm::Endpoint classifierEndpoint(const QCommandLineParser& p, const LlmOptions& o) {
    llm::Endpoint e = explainerEndpoint(p, o);
    if (p.isSet(o.classifierUrl)) e.baseUrl = p.value(o.classifierUrl).toStdString();
    if (p.isSet(o.classifierModel)) e.model = p.value(o.classifierModel).toStdString();
    if (p.isSet(o.classifierPromptPrice)) e.promptPricePerMillion = number(p, o.classifierPromptPrice, 0);
    if (p.isSet(o.classifierCompletionPrice)) e.completionPricePerMillion = number(p, o.classifierCompletionPrice, 0);
    return e;
}

std::shared_ptr<llm::ResponseCache> cacheOf(const QCommandLineParser& p, const LlmOptions& o) {
    if (p.isSet(o.noCache)) return nullptr;
    return std::make_shared<llm::ResponseCache>(p.value(o.cacheDir));
}

// The job's options from the command line (endpoints, transport, cache, templates).
explain::LlmStepsOptions stepsOptions(const QCommandLineParser& p, const LlmOptions& o, bool useLlm) {
    explain::LlmStepsOptions s;
    s.useLlm = useLlm;
    s.explainer = explainerEndpoint(p, o);
    s.classifier = classifierEndpoint(p, o);
    s.client.concurrency = static_cast<int>(number(p, o.concurrency, 1));
    s.client.timeoutMs = static_cast<int>(number(p, o.timeout, 0.001) * 1000);
    s.client.retry.maxAttempts = static_cast<int>(number(p, o.attempts, 1));
    s.useCache = !p.isSet(o.noCache);
    s.cacheDir = p.value(o.cacheDir);
    s.explainerSettings.temperature = temperatureOf(p, o);
    s.explainerSettings.promptTemplate = llm::loadTemplate("explainer", p.value(o.prompts));
    s.scorerSettings.temperature = s.explainerSettings.temperature;
    s.scorerSettings.promptTemplate = llm::loadTemplate("classifier", p.value(o.prompts));
    s.scorerSettings.topLogprobs = static_cast<int>(number(p, o.topLogprobs, 0));
    s.scorerSettings.detect = static_cast<int>(number(p, o.detect, 0));
    s.scorerSettings.detectorTemplate = llm::loadTemplate("detector", p.value(o.prompts));
    return s;
}

void noteMissingKey(const llm::Endpoint& endpoint) {
    if (endpoint.apiKey.empty())
        printErr("headlight-cli: note: OPENAI_API_KEY is not set; requests to " + endpoint.chatUrl() + " carry no key\n");
}

std::string money(double usd) {
    std::ostringstream s;
    s << "$" << std::fixed << std::setprecision(usd < 1 ? 4 : 2) << usd;
    return s.str();
}

// --dry-run (and before `study score` sends): requests, estimated tokens (UTF-8 bytes / 4 for prompts;
// max_tokens for completions, an upper bound) and cost; how many are already in the cache (free).
void printDryRun(const std::string& step, const std::vector<llm::ChatRequest>& requests, const llm::Endpoint& endpoint,
                 const std::shared_ptr<llm::ResponseCache>& cache) {
    const explain::CostEstimate e = explain::estimateCost(requests, endpoint, cache ? cache->directory() : QString(), cache != nullptr);
    std::ostringstream s;
    s << step << ": " << requests.size() << " requests to " << endpoint.model << " at " << endpoint.chatUrl();
    if (cache) s << " (" << e.cached << " already cached, free)";
    s << "\n  to send: " << (e.requests - e.cached) << " requests, about " << e.promptTokens
      << " prompt tokens (UTF-8 bytes / 4, an estimate) + at most " << e.completionTokens << " completion tokens (max_tokens)\n";
    if (e.priced)
        s << "  estimated cost: at most " << money(e.usd) << " (" << endpoint.promptPricePerMillion
          << " / " << endpoint.completionPricePerMillion << " USD per 1M prompt / completion tokens)\n";
    else
        s << "  estimated cost: unknown (give --prompt-price and --completion-price, USD per 1M tokens)\n";
    printOut(s.str());
}

// Prints the failed requests and cache write failures of a step whose result was saved to `output`;
// returns the exit status (1 when requests failed).
int reportFailures(const explain::StepReport& report, const std::string& what, const QString& output, bool useCache) {
    if (!report.cacheText().empty()) printErr("headlight-cli: warning: " + report.cacheText() + "\n");
    if (report.failed == 0) return 0;
    printErr("headlight-cli: error: " + report.failureText(what) + "\n" + output.toStdString() +
             " holds everything that succeeded and records each failure; rerun the command to retry only the failed requests" +
             (useCache ? " (the others come from the response cache)" : " (with --no-cache every request is sent again)") + "\n");
    return 1;
}

// What step 4 did, for the terminal.
std::string explainedText(int64_t pairs, const explain::StepReport& report, const explain::LlmStepsOptions& steps) {
    std::ostringstream s;
    s << "explained " << pairs << " (neuron, head) pairs";
    if (steps.useLlm) s << " with " << steps.explainer.model << " (" << (report.requests - report.failed) << " ok, " << report.failed << " failed)";
    s << " and the offline baseline\n";
    if (steps.useLlm && report.requests > 0) s << "  " << report.text() << "\n";
    return s.str();
}

// What step 5 did, for the terminal.
std::string scoredText(const Study& study, const explain::StepReport& report, const explain::LlmStepsOptions& steps) {
    std::ostringstream s;
    s << "scored " << study.explanations.size() << " explanations on " << study.heldOut.corpus << " (up to "
      << steps.scorerSettings.testsPerHead << " test contexts each";
    if (steps.useLlm) s << "; classifier " << steps.classifier.model;
    s << ")\n" << explanationSummaryText(study);
    if (steps.useLlm && report.requests > 0) s << "  " << report.text() << "\n";
    return s.str();
}

QString bundleArgument(const QCommandLineParser& parser, const char* command) {
    if (parser.positionalArguments().size() != 1)
        throw Error(std::string("study ") + command + ": give exactly one bundle");
    return parser.positionalArguments().front();
}

}  // namespace

std::string explanationSummaryText(const Study& study) {
    std::ostringstream out;
    for (const char* source : {"llm", "baseline"}) {
        for (bool randomNeurons : {false, true}) {
            const explain::ScoreSummary s = explain::summarizeScores(study, source, randomNeurons);
            if (s.scored + s.unscored == 0) continue;
            out << "  " << std::left << std::setw(9) << (std::string(source) == "llm" ? "LLM" : "offline") << std::setw(20)
                << (randomNeurons ? "random neurons" : "next-token neurons")
                << " " << explain::describeScoreSummary(s) << "\n";
        }
    }
    return out.str();
}

std::string headScoresText(const Study& study, std::size_t listed) {
    std::ostringstream out;
    std::size_t shown = 0, scored = 0;
    const int nHeads = std::max(1, study.nHeads);
    for (const HeadExplanation& e : study.explanations) {
        if (!e.score) continue;
        if (scored++ >= listed) continue;
        ++shown;
        out << "  " << std::left << std::setw(9) << (e.source == "llm" ? "LLM" : "offline") << std::setw(14)
            << (neuronName(e.neuron) + (e.baseline ? " (r)" : "")) << std::setw(7) << headName(e.head / nHeads, e.head % nHeads)
            << std::fixed << std::setprecision(3) << "E " << *e.score;
        if (e.ci95) out << " [" << e.ci95->low << ", " << e.ci95->high << "]";
        out << "  AUC " << (e.auc ? QString::number(*e.auc, 'f', 3).toStdString() : std::string("-")) << "\n";
    }
    if (scored == 0) return {};
    std::string head = "per head (E [95% CI], AUC from log-probs; - without):\n";
    if (scored > shown) out << "  ... and " << (scored - shown) << " more (study export --json lists them all)\n";
    return head + out.str();
}

nlohmann::ordered_json explanationSummaryJson(const Study& study) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const char* source : {"llm", "baseline"}) {
        for (bool randomNeurons : {false, true}) {
            const explain::ScoreSummary s = explain::summarizeScores(study, source, randomNeurons);
            if (s.scored + s.unscored == 0) continue;
            nlohmann::ordered_json j;
            j["source"] = source;
            j["neurons"] = randomNeurons ? "random" : "next-token";
            j["scored"] = s.scored;
            j["unscored"] = s.unscored;
            j["invalid"] = s.invalid;
            j["mean"] = s.scored > 0 ? nlohmann::ordered_json(s.summary.mean) : nlohmann::ordered_json();
            j["std"] = s.scored > 1 ? nlohmann::ordered_json(s.summary.std) : nlohmann::ordered_json();
            j["skew"] = s.scored > 1 ? nlohmann::ordered_json(s.summary.skew) : nlohmann::ordered_json();
            j["histogram"] = s.histogram.counts;
            j["mean_ci95"] = s.meanCi95 ? nlohmann::ordered_json::array({s.meanCi95->low, s.meanCi95->high}) : nlohmann::ordered_json();
            j["mean_auc"] = s.meanAuc ? nlohmann::ordered_json(*s.meanAuc) : nlohmann::ordered_json();
            j["with_auc"] = s.withAuc;
            out.push_back(std::move(j));
        }
    }
    return out;
}

namespace {

int runStudyExplainImpl(const QStringList& args) {
    QCommandLineParser parser;
    LlmOptions o;
    o.addTo(parser);
    const QCommandLineOption offline = opt("offline-baseline", "Only the offline n-gram baseline explanations; no LLM.");
    const QCommandLineOption maxTokens = opt("max-tokens", "max_tokens of each explainer request (default 200, the paper's).", "N", "200");
    parser.addOption(offline);
    parser.addOption(maxTokens);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file (rewritten in place unless --out)."));
    parseOrThrow(parser, args,
                 QStringLiteral("Explain every relevant (neuron, head) of a study with an LLM (METHOD.md section 4), and with "
                                "the offline n-gram baseline. The API key is read from OPENAI_API_KEY."));
    const QString input = bundleArgument(parser, "explain");
    const QString output = parser.isSet(o.out) ? parser.value(o.out) : input;
    const bool useLlm = !parser.isSet(offline);
    Study study = loadStudy(input);
    explain::LlmStepsOptions steps = stepsOptions(parser, o, useLlm);
    steps.explainerSettings.maxTokens = static_cast<int>(number(parser, maxTokens, 1));
    const std::vector<llm::ChatRequest> requests = explain::explainRequests(study, steps.explainerSettings);
    if (requests.empty()) printErr("headlight-cli: note: the study has no relevant heads; nothing to explain\n");

    if (parser.isSet(o.dryRun)) {
        printOut(std::to_string(requests.size()) + " relevant (neuron, head) pairs; the offline baseline explains them all for free\n");
        if (useLlm) printDryRun("explain", requests, steps.explainer, cacheOf(parser, o));
        return 0;
    }

    if (useLlm && !requests.empty()) noteMissingKey(steps.explainer);
    InterruptGuard interrupt;
    const Progress progress = terminalProgress(&interrupt.token);
    const explain::StepReport report = explain::explainStudy(study, steps, progress);
    if (isatty(fileno(stderr))) printErr("\n");
    saveBundle(study, output);
    printOut(explainedText(int64_t(requests.size()), report, steps) + "wrote " + output.toStdString() + "\n");
    return reportFailures(report, "explainer", output, steps.useCache);
}

int runStudyScoreImpl(const QStringList& args) {
    QCommandLineParser parser;
    LlmOptions o;
    o.addTo(parser);
    const QCommandLineOption heldout = opt("heldout", "Held-out corpus (JSON Lines / text file or folder).", "FILE");
    const QCommandLineOption model = opt("model", "Model folder or hub id for the held-out run (default: the study's).", "M");
    const QCommandLineOption heldoutBundle =
        opt("heldout-bundle", "Take the held-out labels from this bundle (steps 1-3 run on the held-out corpus with the "
                              "same model and settings) instead of running the model.", "FILE");
    const QCommandLineOption tests = opt("tests", "Test contexts per (neuron, head): the first N held-out contexts by activation (default 10).", "N", "10");
    const QCommandLineOption offline = opt("offline-baseline", "Only score the offline baseline explanations; no LLM.");
    parser.addOption(heldout);
    parser.addOption(model);
    parser.addOption(heldoutBundle);
    parser.addOption(tests);
    parser.addOption(offline);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file (rewritten in place unless --out)."));
    parseOrThrow(parser, args,
                 QStringLiteral("Score the explanations of a study on held-out data (METHOD.md section 5): the classifier "
                                "model answers Yes/No per test context; E is the balanced accuracy."));
    const QString input = bundleArgument(parser, "score");
    const QString output = parser.isSet(o.out) ? parser.value(o.out) : input;
    if (!parser.isSet(heldout) && !parser.isSet(heldoutBundle)) throw Error("study score: --heldout FILE is required");
    Study study = loadStudy(input);
    if (study.explanations.empty()) throw Error("study score: " + input.toStdString() + " has no explanations (run study explain first)");
    const bool useLlm = !parser.isSet(offline);
    explain::LlmStepsOptions steps = stepsOptions(parser, o, useLlm);
    steps.scorerSettings.testsPerHead = static_cast<int>(number(parser, tests, 1));

    InterruptGuard interrupt;
    const Progress progress = terminalProgress(&interrupt.token);
    std::vector<NeuronResult> labels;
    HeldOutProvenance provenance;
    if (parser.isSet(heldoutBundle)) {
        const Study h = loadStudy(parser.value(heldoutBundle));
        labels = h.neurons;
        provenance.corpus = parser.isSet(heldout) ? parser.value(heldout).toStdString() : h.provenance.corpus;
        provenance.corpusHash = h.provenance.corpusHash;
    } else if (parser.isSet(o.dryRun)) {
        // Without the held-out run the test contexts are unknown: estimate with the training contexts.
        labels = study.neurons;
        printOut("note: the estimate uses the study's own contexts in place of the held-out ones (not labelled yet)\n");
    } else {
        const QString modelId = parser.isSet(model) ? parser.value(model) : QString::fromStdString(study.provenance.modelId);
        labels = labelHeldOut(study, modelId, parser.value(heldout), progress);
        provenance.corpus = parser.value(heldout).toStdString();
        provenance.corpusHash = analysis::corpusFingerprint(parser.value(heldout));
    }

    if (parser.isSet(o.dryRun)) {
        explain::attachTests(study, labels, steps.scorerSettings.testsPerHead);
        const std::vector<llm::ChatRequest> requests = explain::scoreRequests(study, steps.scorerSettings);
        int64_t explained = 0;
        for (const HeadExplanation& e : study.explanations) explained += (e.source == "llm" && !e.explanation.empty()) ? 1 : 0;
        printOut(std::to_string(explained) + " LLM explanations, " + std::to_string(requests.size()) + " test contexts\n");
        if (useLlm && !requests.empty()) printDryRun("score", requests, steps.classifier, cacheOf(parser, o));
        return 0;
    }

    if (useLlm) {
        noteMissingKey(steps.classifier);
        Study preview = study;  // the tests as they will be: the estimate before anything is sent
        explain::attachTests(preview, labels, steps.scorerSettings.testsPerHead, "llm");
        printDryRun("score (" + std::to_string(steps.scorerSettings.testsPerHead) + " test contexts per head)",
                    explain::scoreRequests(preview, steps.scorerSettings), steps.classifier, cacheOf(parser, o));
    }
    const explain::StepReport report = explain::scoreStudy(study, labels, provenance, steps, progress);
    if (isatty(fileno(stderr))) printErr("\n");
    saveBundle(study, output);  // what succeeded is kept; failed tests carry their error
    printOut(scoredText(study, report, steps) + "wrote " + output.toStdString() + "\n");
    return reportFailures(report, "classifier", output, steps.useCache);
}

}  // namespace

void addRunLlmOptions(QCommandLineParser& parser) { LlmOptions(true).addTo(parser); }
bool runLlmDryRun(const QCommandLineParser& parser) { return parser.isSet(LlmOptions(true).dryRun); }

explain::LlmStepsOptions runLlmSteps(const QCommandLineParser& parser, bool useLlm) {
    const LlmOptions o(true);
    explain::LlmStepsOptions steps = stepsOptions(parser, o, useLlm);
    if (useLlm) noteMissingKey(steps.explainer);
    return steps;
}

void printRunDryRun(const Study& study, const explain::LlmStepsOptions& steps, const QCommandLineParser& parser) {
    const std::vector<llm::ChatRequest> requests = explain::explainRequests(study, steps.explainerSettings);
    printOut(std::to_string(requests.size()) + " relevant (neuron, head) pairs; the offline baseline explains them all for free\n");
    if (steps.useLlm) printDryRun("explain", requests, steps.explainer, cacheOf(parser, LlmOptions(true)));
}

int reportRunOutcome(const Study& study, const explain::StudyJobOutcome& outcome, const explain::LlmStepsOptions& steps) {
    std::string text;
    if (outcome.explained) text += explainedText(outcome.relevantPairs, *outcome.explained, steps);
    if (outcome.scored) text += scoredText(study, *outcome.scored, steps);
    printOut(text);
    int status = 0;
    if (outcome.explained) status |= reportFailures(*outcome.explained, "explainer", outcome.output, steps.useCache);
    if (outcome.scored) status |= reportFailures(*outcome.scored, "classifier", outcome.output, steps.useCache);
    return status;
}

int runStudyExplain(const QStringList& args) { return runStudyExplainImpl(args); }
int runStudyScore(const QStringList& args) { return runStudyScoreImpl(args); }

}  // namespace headlight::cli
