// The pipeline commands:
//   headlight-cli neurons --model M --layers 3,4 [--top K] [--token TEXT] [--json]
//   headlight-cli study run --model M --corpus FILE [--layers ...] [--top K] [--docs N] [--prompts P] [--shard i/N] --out X.headlight
//       [--explain | --offline-baseline] [--heldout FILE] [LLM options of study explain/score]
//   headlight-cli study merge A.headlight B.headlight ... --out C.headlight
#include <QStringList>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"

namespace headlight::cli {

namespace {

std::vector<int> parseIntList(const QString& text, const char* what) {
    std::vector<int> out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = part.trimmed().toInt(&ok);
        if (!ok) throw Error(std::string("--") + what + ": '" + part.toStdString() + "' is not an integer");
        out.push_back(v);
    }
    return out;
}

int parseInt(const QCommandLineParser& p, const QString& name) {
    bool ok = false;
    const int v = p.value(name).toInt(&ok);
    if (!ok) throw Error("--" + name.toStdString() + ": '" + p.value(name).toStdString() + "' is not an integer");
    return v;
}

double parseDouble(const QCommandLineParser& p, const QString& name) {
    bool ok = false;
    const double v = p.value(name).toDouble(&ok);
    if (!ok) throw Error("--" + name.toStdString() + ": '" + p.value(name).toStdString() + "' is not a number");
    return v;
}

// Options shared by `neurons` and `study run` (step 1).
void addSelectionOptions(QCommandLineParser& p) {
    addOption(p, "model", "Checkpoint folder or hub id.", "DIR|HUB_ID");
    addOption(p, "layers", "Layers to study, comma-separated (default: the last 3).", "L1,L2");
    addOption(p, "top", "Next-token neurons kept per layer.", "K", "20");
    addOption(p, "random", "Random-baseline neurons per layer.", "K", "0");
    addOption(p, "seed", "Seed of the random baseline.", "SEED", "0");
    addOption(p, "min-token-chars", "Decoded token length in code points, at least.", "N", "3");
    addOption(p, "no-word-boundary", "Do not require the token to start a word.");
    addOption(p, "reject-token", "Token text never selected (repeatable).", "TEXT");
    addOption(p, "reject-neuron", "Neuron never selected, as L{layer}N{neuron} (repeatable).", "NAME");
    addOption(p, "raw", "Turn TransformerLens' weight processing off.");
}

void readSelectionOptions(const QCommandLineParser& p, PipelineOptions& o) {
    if (!p.isSet(QStringLiteral("model"))) throw Error("--model is required");
    o.model = p.value(QStringLiteral("model"));
    o.rawWeights = p.isSet(QStringLiteral("raw"));
    StudyParameters& s = o.parameters;
    if (p.isSet(QStringLiteral("layers"))) s.layers = parseIntList(p.value(QStringLiteral("layers")), "layers");
    s.topK = parseInt(p, QStringLiteral("top"));
    s.randomPerLayer = parseInt(p, QStringLiteral("random"));
    s.randomSeed = static_cast<uint64_t>(p.value(QStringLiteral("seed")).toULongLong());
    s.minTokenChars = parseInt(p, QStringLiteral("min-token-chars"));
    s.requireWordBoundary = !p.isSet(QStringLiteral("no-word-boundary"));
    for (const QString& t : p.values(QStringLiteral("reject-token"))) s.rejectTokens.push_back(t.toStdString());
    for (const QString& n : p.values(QStringLiteral("reject-neuron"))) s.rejectNeurons.push_back(n.toStdString());
}

// `neurons --token TEXT`: every neuron of the layers ranked by its congruence with one token.
int printNeuronsForToken(const QCommandLineParser& parser, const PipelineOptions& o) {
    const int top = parseInt(parser, QStringLiteral("top"));
    const std::vector<TokenNeuronRow> rows =
        rankNeuronsForToken(o, parser.value(QStringLiteral("token")).toStdString(), top, terminalProgress());
    if (parser.isSet(QStringLiteral("json"))) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const TokenNeuronRow& r : rows)
            out.push_back({{"layer", r.neuron.ref.layer}, {"neuron", r.neuron.ref.neuron}, {"token_id", r.neuron.tokenId},
                           {"token", r.neuron.token}, {"congruence", r.neuron.congruence}, {"baseline", false},
                           {"token_congruence", r.tokenCongruence}});
        printOut(out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        return 0;
    }
    std::string s;
    for (const TokenNeuronRow& r : rows)
        s += neuronName(r.neuron.ref) + "\t" + std::to_string(r.tokenCongruence) + "\t" +
             nlohmann::json(r.neuron.token).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\t" +
             std::to_string(r.neuron.tokenId) + "\t" + std::to_string(r.neuron.congruence) + "\n";
    printOut(s);
    return 0;
}

int runNeurons(const QStringList& args) {
    QCommandLineParser parser;
    addSelectionOptions(parser);
    addOption(parser, "json", "Print a JSON array instead of text.");
    addOption(parser, "token",
              "Rank every neuron of the layers by its congruence with this token instead (text of exactly one token, "
              "e.g. \" only\"; --top rows, -1 for all; columns: neuron, token congruence, its own token, id, congruence).",
              "TEXT");
    parseOrThrow(parser, args, QStringLiteral("Rank next-token neurons by congruence with the unembedding (step 1), "
                                              "or with --token the neurons most congruent with one token."));
    PipelineOptions o;
    readSelectionOptions(parser, o);
    if (parser.isSet(QStringLiteral("token"))) return printNeuronsForToken(parser, o);
    const std::vector<NextTokenNeuron> neurons = rankNextTokenNeurons(o, terminalProgress());
    if (parser.isSet(QStringLiteral("json"))) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const NextTokenNeuron& n : neurons)
            out.push_back({{"layer", n.ref.layer}, {"neuron", n.ref.neuron}, {"token_id", n.tokenId},
                           {"token", n.token}, {"congruence", n.congruence}, {"baseline", n.baseline}});
        printOut(out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        return 0;
    }
    std::string s;
    for (const NextTokenNeuron& n : neurons)
        s += neuronName(n.ref) + "\t" + nlohmann::json(n.token).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\t" + std::to_string(n.tokenId) + "\t" + std::to_string(n.congruence) + (n.baseline ? "\tbaseline" : "") + "\n";
    printOut(s);
    return 0;
}

}  // namespace

int runStudyRun(const QStringList& args) {
    QCommandLineParser parser;
    addSelectionOptions(parser);
    addOption(parser, "corpus", "Corpus: JSON Lines or text file, or a folder of them.", "FILE");
    addOption(parser, "text-field", "JSON Lines field holding the text.", "NAME", "text");
    addOption(parser, "docs", "Documents kept per neuron by the scan (N).", "N", "30");
    addOption(parser, "max-documents", "Scan only the first N documents of the corpus (0: all).", "N", "0");
    addOption(parser, "prompts", "Prompts kept per neuron (P).", "P", "20");
    addOption(parser, "ratio", "Truncation: keep the shortest suffix above RATIO x max.", "RATIO", "0.8");
    addOption(parser, "max-context-tokens", "Drop contexts of this many tokens or more.", "N", "100");
    addOption(parser, "same-layer-heads", "Candidate heads in layers <= the neuron's (default: <).");
    addOption(parser, "attribution",
              "Step 3's score: up (the paper's r . W_in[:, n]) or gate-aware (gated MLPs: the first-order change "
              "of the neuron's activation through gate and up; the paper's score elsewhere).", "up|gate-aware", "up");
    addOption(parser, "std-multiplier", "Active head: score > mean + K x std.", "K", "2");
    addOption(parser, "relevant-min", "Relevant head: active in at least this fraction of contexts.", "F", "0.25");
    addOption(parser, "relevant-max", "... and at most this fraction.", "F", "0.75");
    addOption(parser, "mimic-newlines", "Replace newlines by spaces and re-tokenize prompts, as the paper's code.");
    addOption(parser, "shard", "Scan only shard i of N (0-based).", "i/N");
    addOption(parser, "checkpoint", "Scan checkpoint for resuming (default: OUT.scan-checkpoint).", "FILE");
    addOption(parser, "batch-tokens", "Padded tokens per forward batch.", "N", "4096");
    addOption(parser, "bf16", "Compute in bfloat16.");
    addOption(parser, "device", "Where the model runs: cpu, cuda, cuda:N or auto (default $HEADLIGHT_DEVICE or cpu).", "DEV");
    addOption(parser, "out", "The bundle to write.", "X.headlight");
    addOption(parser, "neurons", "Study exactly these neurons, e.g. L3N12,L4N7 (step 1's selection skipped; layers "
                                 "default to theirs).", "LIST");
    // Steps 4-5 (optional): as `study explain` / `study score` on the bundle just written.
    addOption(parser, "explain", "Also run step 4: explain every relevant head with the LLM (and the offline baseline).");
    addOption(parser, "offline-baseline", "Also run step 4 with the offline n-gram baseline only (no LLM).");
    addOption(parser, "heldout", "Also run step 5: score the explanations on this held-out corpus.", "FILE");
    addOption(parser, "tests", "Step 5: test contexts per (neuron, head).", "N", "10");
    addOption(parser, "max-tokens", "Step 4: max_tokens of each explainer request.", "N", "200");
    addRunLlmOptions(parser);
    parseOrThrow(parser, args, QStringLiteral("Run steps 1-3 of the method and write a .headlight bundle; with --explain "
                                              "or --offline-baseline also step 4, with --heldout also step 5."));
    PipelineOptions o;
    readSelectionOptions(parser, o);
    if (!parser.isSet(QStringLiteral("corpus"))) throw Error("study run: --corpus is required");
    if (!parser.isSet(QStringLiteral("out"))) throw Error("study run: --out is required");
    o.corpus = parser.value(QStringLiteral("corpus"));
    o.textField = parser.value(QStringLiteral("text-field"));
    o.bf16 = parser.isSet(QStringLiteral("bf16"));
    o.device = parser.value(QStringLiteral("device"));
    o.batchTokens = parseInt(parser, QStringLiteral("batch-tokens"));
    StudyParameters& s = o.parameters;
    s.topDocuments = parseInt(parser, QStringLiteral("docs"));
    s.maxDocuments = parseInt(parser, QStringLiteral("max-documents"));
    s.promptsPerNeuron = parseInt(parser, QStringLiteral("prompts"));
    s.truncationRatio = parseDouble(parser, QStringLiteral("ratio"));
    s.maxContextTokens = parseInt(parser, QStringLiteral("max-context-tokens"));
    s.sameLayerHeads = parser.isSet(QStringLiteral("same-layer-heads"));
    s.attributionScore = parseAttributionScore(parser.value(QStringLiteral("attribution")).toStdString());
    s.activeStdMultiplier = parseDouble(parser, QStringLiteral("std-multiplier"));
    s.relevantMin = parseDouble(parser, QStringLiteral("relevant-min"));
    s.relevantMax = parseDouble(parser, QStringLiteral("relevant-max"));
    s.mimicNewlineRoundTrip = parser.isSet(QStringLiteral("mimic-newlines"));
    for (const QString& n : parser.value(QStringLiteral("neurons")).split(QLatin1Char(','), Qt::SkipEmptyParts))
        s.neurons.push_back(n.trimmed().toStdString());
    if (parser.isSet(QStringLiteral("shard"))) {
        const QStringList parts = parser.value(QStringLiteral("shard")).split(QLatin1Char('/'));
        bool ok1 = false, ok2 = false;
        if (parts.size() == 2) {
            s.shardIndex = parts[0].toInt(&ok1);
            s.shardCount = parts[1].toInt(&ok2);
        }
        if (!ok1 || !ok2) throw Error("--shard: expected i/N, e.g. 0/4");
    }
    const QString out = parser.value(QStringLiteral("out"));
    const bool llm = parser.isSet(QStringLiteral("explain"));
    const bool offline = parser.isSet(QStringLiteral("offline-baseline"));
    if (llm && offline) throw Error("study run: give --explain or --offline-baseline, not both");
    if (parser.isSet(QStringLiteral("heldout")) && !llm && !offline)
        throw Error("study run: --heldout scores explanations: add --explain or --offline-baseline");
    if (runLlmDryRun(parser) && !llm)
        throw Error("study run: --dry-run estimates the LLM requests of --explain; add --explain");
    o.checkpointPath = parser.isSet(QStringLiteral("checkpoint")) ? parser.value(QStringLiteral("checkpoint"))
                                                                   : out + QStringLiteral(".scan-checkpoint");
    explain::StudyJob job;
    job.pipeline = o;
    job.output = out;
    job.explain = llm || offline;
    if (job.explain) {
        job.steps = runLlmSteps(parser, llm);
        job.steps.explainerSettings.maxTokens = parseInt(parser, QStringLiteral("max-tokens"));
        job.steps.scorerSettings.testsPerHead = parseInt(parser, QStringLiteral("tests"));
        job.heldOutCorpus = parser.value(QStringLiteral("heldout"));
    }
    InterruptGuard interrupt;
    if (runLlmDryRun(parser)) {  // steps 1-3 for real, then the estimate of what step 4 would send
        explain::StudyJob first = job;
        first.explain = false;
        first.heldOutCorpus.clear();
        explain::runStudyJob(first, terminalProgress(&interrupt.token));
        printErr("wrote " + out.toStdString() + "\n");
        printRunDryRun(loadStudy(out), job.steps, parser);
        if (!job.heldOutCorpus.isEmpty())
            printOut("score: up to --tests " + parser.value(QStringLiteral("tests")).toStdString() +
                     " classifier requests per explained head (estimate with `study score --dry-run` once explained)\n");
        return 0;
    }
    const explain::StudyJobOutcome outcome = explain::runStudyJob(job, terminalProgress(&interrupt.token));
    printErr("wrote " + out.toStdString() + "\n");
    return job.explain ? reportRunOutcome(loadStudy(out), outcome, job.steps) : 0;
}

int runStudyMerge(const QStringList& args) {
    QCommandLineParser parser;
    addOption(parser, "out", "The merged bundle.", "C.headlight");
    addOption(parser, "model", "Model folder or hub id (default: the one recorded in the shards).", "DIR|HUB_ID");
    parser.addPositionalArgument(QStringLiteral("shards"), QStringLiteral("Shard bundles (all N of them)."),
                                 QStringLiteral("A.headlight B.headlight ..."));
    parseOrThrow(parser, args, QStringLiteral("Merge the shard bundles of one run (re-runs truncation and attribution on "
                                              "the merged top documents with the model); the result equals a single run."));
    if (!parser.isSet(QStringLiteral("out"))) throw Error("study merge: --out is required");
    std::vector<Study> shards;
    for (const QString& path : parser.positionalArguments()) shards.push_back(loadStudy(path));
    InterruptGuard interrupt;
    const Study merged = mergeStudies(shards, parser.value(QStringLiteral("model")), terminalProgress(&interrupt.token));
    interrupt.token.throwIfCancelled();
    saveBundle(merged, parser.value(QStringLiteral("out")));
    return 0;
}

int runNeuronsCommand(const QStringList& args) { return runNeurons(args); }

}  // namespace headlight::cli
