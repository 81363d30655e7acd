#include "core/study/pipeline.h"

#include "core/study/heldout.h"
#include "core/study/study_json.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <QDateTime>
#include <QFileInfo>

#include "core/analysis/ablation.h"
#include "core/analysis/activation_histogram.h"
#include "core/analysis/activation_scan.h"
#include "core/analysis/congruence.h"
#include "core/analysis/attribution.h"
#include "core/analysis/truncation.h"
#include "core/analysis/corpus.h"
#include "core/analysis/head_activity.h"
#include "core/analysis/token_filter.h"
#include "core/base/error.h"
#include "core/base/versions.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight {

using namespace analysis;

namespace {

// Reports a step's own progress as part of the whole run: "step: message".
Progress stepProgress(const Progress& parent, const std::string& step) {
    return Progress([&parent, step](int64_t done, int64_t total, const std::string& message) {
        parent.report(done, total, step + ": " + message);
    }, parent.token());
}

// The given neurons ("L{l}N{n}"), checked against the model.
std::vector<NeuronRef> givenNeurons(const StudyParameters& p, const ModelConfig& c) {
    std::vector<NeuronRef> out;
    std::set<NeuronRef> seen;
    for (const std::string& name : p.neurons) {
        const std::optional<NeuronRef> parsed = parseNeuronName(name);
        if (!parsed) throw Error("neuron '" + name + "' is not a neuron name (L{layer}N{neuron})");
        const NeuronRef r = *parsed;
        if (r.layer < 0 || r.layer >= c.nLayers || r.neuron < 0 || r.neuron >= c.dMlp)
            throw Error("neuron " + name + " is not in this model (" + std::to_string(c.nLayers) + " layers, d_mlp " +
                        std::to_string(c.dMlp) + ")");
        if (seen.insert(r).second) out.push_back(r);
    }
    return out;
}

// The studied layers default to the given neurons' layers, else the model's last 3.
void defaultLayers(StudyParameters& p, const ModelConfig& c) {
    if (p.layers.empty()) {
        for (const NeuronRef& r : givenNeurons(p, c))
            if (std::find(p.layers.begin(), p.layers.end(), r.layer) == p.layers.end()) p.layers.push_back(r.layer);
        std::sort(p.layers.begin(), p.layers.end());
    }
    if (p.layers.empty())
        for (int l = std::max(0, c.nLayers - 3); l < c.nLayers; ++l) p.layers.push_back(l);
}

void validate(const StudyParameters& p, const ModelConfig& c) {
    if (p.layers.empty()) throw Error("no layers to study");
    for (int l : p.layers)
        if (l < 0 || l >= c.nLayers)
            throw Error("layer " + std::to_string(l) + " does not exist (the model has " + std::to_string(c.nLayers) +
                        " layers)");
    if (p.topK < 0 || p.randomPerLayer < 0) throw Error("the numbers of neurons per layer must not be negative");
    if (p.topDocuments < 1) throw Error("the number of documents per neuron must be at least 1");
    if (p.promptsPerNeuron < 1) throw Error("the number of prompts per neuron must be at least 1");
    if (!(p.truncationRatio > 0 && p.truncationRatio <= 1)) throw Error("the truncation ratio must be in (0, 1]");
    if (p.maxContextTokens < 2) throw Error("the context length limit must be at least 2 tokens");
    if (!(p.relevantMin >= 0 && p.relevantMin <= p.relevantMax && p.relevantMax <= 1))
        throw Error("relevant-head bounds must satisfy 0 <= min <= max <= 1");
    if (p.shardCount < 1 || p.shardIndex < 0 || p.shardIndex >= p.shardCount)
        throw Error("shard " + std::to_string(p.shardIndex) + "/" + std::to_string(p.shardCount) + " is not valid");
}

// Step 1 for a study of given neurons: each with its own argmax token (no filter, no baseline).
std::vector<NextTokenNeuron> namedNeurons(const Transformer& model, const Tokenizer& tokenizer,
                                          const std::vector<LayerCongruence>& congruence, const StudyParameters& p) {
    std::vector<NextTokenNeuron> out;
    for (const NeuronRef& r : givenNeurons(p, model.config())) {
        const auto lc = std::find_if(congruence.begin(), congruence.end(), [&](const LayerCongruence& c) { return c.layer == r.layer; });
        if (lc == congruence.end())
            throw Error("neuron " + neuronName(r) + " is in layer " + std::to_string(r.layer) + ", not among the studied layers");
        const int token = lc->argmaxToken[std::size_t(r.neuron)];
        out.push_back({r, token, tokenizer.tokenText(token).toStdString(), lc->maxValue[std::size_t(r.neuron)], false});
    }
    return out;
}

// Step 1: the paper's selection per layer, then the random baseline (or the given neurons).
std::vector<NextTokenNeuron> selectNeurons(const Transformer& model, const Tokenizer& tokenizer,
                                           const std::vector<LayerCongruence>& congruence, const StudyParameters& p) {
    if (!p.neurons.empty()) return namedNeurons(model, tokenizer, congruence, p);
    TokenFilterOptions filter;
    filter.minCodePoints = p.minTokenChars;
    filter.requireWordBoundary = p.requireWordBoundary;
    filter.rejectTokens = p.rejectTokens;
    filter.rejectNeurons = p.rejectNeurons;
    std::vector<NextTokenNeuron> out;
    for (const LayerCongruence& lc : congruence) {
        std::vector<NeuronCandidate> candidates;
        for (std::size_t n = 0; n < lc.maxValue.size(); ++n)
            candidates.push_back({int(n), lc.maxValue[n], lc.argmaxToken[n],
                                  tokenizer.tokenText(lc.argmaxToken[n]).toStdString()});
        for (const NeuronCandidate& c : selectTopNeurons(lc.layer, candidates, p.topK, filter))
            out.push_back({{lc.layer, c.neuron}, c.tokenId, c.token, c.congruence, false});
    }
    for (const LayerCongruence& lc : congruence) {
        if (p.randomPerLayer <= 0) break;
        for (int n : selectRandomNeurons(lc.layer, model.config().dMlp, p.randomPerLayer, p.randomSeed))
            out.push_back({{lc.layer, n}, lc.argmaxToken[n], tokenizer.tokenText(lc.argmaxToken[n]).toStdString(),
                           lc.maxValue[n], true});
    }
    return out;
}

struct DocumentTokens {
    std::string source;        // corpus file
    int64_t line = 0;          // line in it
    std::vector<int> tokens;   // BOS + tokens as the scan ran them
};

// Reads back the documents the scan kept (by global index) and tokenizes them again.
std::map<int64_t, DocumentTokens> fetchDocuments(const Transformer& model, const Tokenizer& tokenizer,
                                                 const QString& corpus, const CorpusOptions& options,
                                                 const std::set<int64_t>& wanted) {
    std::map<int64_t, DocumentTokens> out;
    if (wanted.empty()) return out;
    CorpusReader reader = CorpusReader::open(corpus, options);
    Document doc;
    while (reader.next(doc)) {
        if (!wanted.count(doc.index)) continue;
        out[doc.index] = {doc.source.toStdString(), doc.line, documentTokens(model, tokenizer, doc.text)};
        if (out.size() == wanted.size()) break;
    }
    return out;
}

std::string utcNow() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString(); }

// Marks which contexts the method uses (METHOD.md section 2): in the scan's order, drop contexts of
// maxContextTokens tokens or more and repeated texts, keep the first P.
void markKept(std::vector<NeuronContext>& contexts, const StudyParameters& p) {
    std::set<std::string> seen;
    int kept = 0;
    for (NeuronContext& c : contexts) {
        const int length = c.position - c.start + 1;
        c.kept = length < p.maxContextTokens && seen.insert(c.text).second && kept < p.promptsPerNeuron;
        if (c.kept) ++kept;
    }
}

// Active heads per context and relevant heads per neuron from the contexts' head scores.
HeadActivityOptions activityOptions(const StudyParameters& p) {
    HeadActivityOptions options;
    options.stdMultiplier = p.activeStdMultiplier;
    options.relevantMin = p.relevantMin;
    options.relevantMax = p.relevantMax;
    return options;
}

// The active-head mask of one context over its `candidates` candidate heads (METHOD.md section 3),
// empty when the context was not attributed (too long).
std::vector<uint8_t> activeMask(const std::vector<float>& headScores, int64_t candidates, const HeadActivityOptions& options) {
    if (candidates == 0 || headScores.size() < std::size_t(candidates) || std::isnan(headScores.front())) return {};
    const std::vector<float> scores(headScores.begin(), headScores.begin() + candidates);
    return activeHeads(scores, 1, candidates, options).active;
}

void markHeads(NeuronResult& r, int nLayers, int nHeads, const StudyParameters& p) {
    const int heads = nLayers * nHeads;
    const int64_t candidates = candidateHeadCount(r.neuron.ref.layer, nHeads, p.sameLayerHeads);
    r.candidateHeads = candidateHeads(r.neuron.ref.layer, nHeads, p.sameLayerHeads);
    const HeadActivityOptions options = activityOptions(p);
    std::vector<uint8_t> keptActive;
    int64_t keptCount = 0;
    for (NeuronContext& c : r.contexts) {
        c.active.assign(heads, 0);
        if (c.headScores.size() != std::size_t(heads)) continue;
        const std::vector<uint8_t> active = activeMask(c.headScores, candidates, options);
        if (active.empty()) continue;
        std::copy(active.begin(), active.end(), c.active.begin());
        if (c.kept) {
            keptActive.insert(keptActive.end(), active.begin(), active.end());
            ++keptCount;
        }
    }
    r.activeFraction.assign(heads, 0.f);
    r.relevantHeads.clear();
    if (candidates == 0) return;
    const HeadRelevance relevance = relevantHeads(keptActive, keptCount, candidates, options);
    for (int64_t h = 0; h < candidates; ++h) r.activeFraction[h] = static_cast<float>(relevance.activeFraction[h]);
    for (int64_t h : relevance.relevant) r.relevantHeads.push_back(static_cast<int>(h));
}

// One document of a neuron's top N, as the scan found it.
struct ScanHit {
    float value = 0.f;         // the document's max activation
    int64_t document = 0;      // global document index
    int position = 0;          // where the max is (BOS = 0)
    std::string source;        // corpus file
    int64_t line = 0;          // line in it
    std::vector<int> tokens;   // [BOS, t1, ..., t_position]
};

// Step 2b from the scan's hits (per neuron, in the scan's order): truncation and the kept prompts.
std::vector<NeuronResult> truncateHits(const Transformer& model, const Tokenizer& tokenizer,
                                       const std::vector<NextTokenNeuron>& selected,
                                       const std::vector<std::vector<ScanHit>>& hits, const StudyParameters& p,
                                       int64_t batchTokens, const Progress& progress) {
    std::vector<ContextInput> inputs;
    std::vector<std::pair<std::size_t, const ScanHit*>> owners;  // (neuron slot, hit) per input
    for (std::size_t i = 0; i < selected.size(); ++i)
        for (const ScanHit& h : hits[i]) {
            inputs.push_back({selected[i].ref, h.tokens, h.value});
            owners.push_back({i, &h});
        }
    // Batched rounds of the paper's binary search.
    const std::vector<Truncation> cuts =
        truncateContexts(model, inputs, p.truncationRatio, batchTokens, stepProgress(progress, "truncate"));
    std::vector<NeuronResult> results(selected.size());
    for (std::size_t i = 0; i < selected.size(); ++i) results[i].neuron = selected[i];
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const auto& [slot, hit] = owners[k];
        NeuronContext c;
        c.doc = hit->document;
        c.docSource = hit->source;
        c.docLine = hit->line;
        c.position = hit->position;
        c.activation = hit->value;
        c.start = cuts[k].start;
        c.truncatedActivation = cuts[k].truncatedActivation;
        c.tokens.assign(inputs[k].tokens.begin() + 1, inputs[k].tokens.end());
        c.text = tokenizer.decode(std::vector<int>(inputs[k].tokens.begin() + c.start, inputs[k].tokens.end()))
                     .toStdString();
        results[slot].contexts.push_back(std::move(c));
    }
    for (NeuronResult& r : results) markKept(r.contexts, p);
    return results;
}

// What step 3 runs for the contexts that pass the length cut: the prompt (BOS first; with the paper's
// newline round trip re-tokenised) and the whole document for per-token highlighting.
struct AttributionInputs {
    std::vector<ContextInput> prompts, documents;
    std::vector<NeuronContext*> targets;
};

AttributionInputs attributionInputs(const Transformer& model, const Tokenizer& tokenizer,
                                    std::vector<NeuronResult>& results, const StudyParameters& p) {
    AttributionInputs in;
    const std::optional<int> bos = model.bosTokenId();
    for (NeuronResult& r : results)
        for (NeuronContext& c : r.contexts) {
            if (c.position - c.start + 1 >= p.maxContextTokens) continue;
            std::vector<int> prompt;
            if (bos) prompt.push_back(*bos);
            if (p.mimicNewlineRoundTrip) {
                std::string text = c.text;
                std::replace(text.begin(), text.end(), '\n', ' ');
                const Encoding enc = tokenizer.encodeUtf8(text);
                prompt.insert(prompt.end(), enc.ids.begin(), enc.ids.end());
            } else {
                prompt.insert(prompt.end(), c.tokens.begin() + (c.start - 1), c.tokens.end());
            }
            in.prompts.push_back({r.neuron.ref, prompt, c.activation});
            std::vector<int> full;
            if (bos) full.push_back(*bos);
            full.insert(full.end(), c.tokens.begin(), c.tokens.end());
            in.documents.push_back({r.neuron.ref, full, c.activation});
            in.targets.push_back(&c);
        }
    return in;
}

// Step 3 on truncated contexts: head attribution with the look-ups of every active head of the kept
// contexts (same passes), per-token activations, active and relevant heads.
void attributeContexts(const Transformer& model, const Tokenizer& tokenizer, std::vector<NeuronResult>& results,
                       const StudyParameters& p, int64_t batchTokens, const Progress& progress) {
    const ModelConfig& config = model.config();
    AttributionInputs in = attributionInputs(model, tokenizer, results, p);
    progress.throwIfCancelled();
    progress.report(0, 2, "attribute: " + std::to_string(in.prompts.size()) + " prompts");
    const HeadActivityOptions options = activityOptions(p);
    const LookupSelector activeOfKept = [&](std::size_t k, const std::vector<float>& scores) {
        std::vector<int> heads;
        if (!in.targets[k]->kept) return heads;
        const int64_t candidates = candidateHeadCount(in.prompts[k].neuron.layer, config.nHeads, p.sameLayerHeads);
        const std::vector<uint8_t> active = activeMask(scores, candidates, options);
        for (std::size_t h = 0; h < active.size(); ++h)
            if (active[h]) heads.push_back(static_cast<int>(h));
        return heads;
    };
    HeadAttribution attribution =
        attributeHeadsWithLookups(model, in.prompts, p.sameLayerHeads, activeOfKept, batchTokens, p.attributionScore);
    progress.throwIfCancelled();
    progress.report(1, 2, "attribute: token activations");
    const auto activations = tokenActivations(model, in.documents, batchTokens);
    for (std::size_t k = 0; k < in.targets.size(); ++k) {
        in.targets[k]->headScores = std::move(attribution.scores[k]);
        in.targets[k]->lookups = std::move(attribution.lookups[k]);
        in.targets[k]->tokenActivations = activations[k];
    }
    const int heads = config.nLayers * config.nHeads;
    for (NeuronResult& r : results) {
        for (NeuronContext& c : r.contexts) {
            if (c.headScores.empty()) c.headScores.assign(heads, std::numeric_limits<float>::quiet_NaN());
            if (c.tokenActivations.empty()) c.tokenActivations.assign(c.tokens.size(), std::numeric_limits<float>::quiet_NaN());
        }
        markHeads(r, config.nLayers, config.nHeads, p);
    }
    progress.report(2, 2, "attribute: done");
}

// Steps 2b-3 from the scan's hits. The result depends only on the hits, so a merge of shard scans
// analysed here equals the single run bit for bit (the batches, and so the floating-point sums, are the same).
std::vector<NeuronResult> analyzeContexts(const Transformer& model, const Tokenizer& tokenizer,
                                          const std::vector<NextTokenNeuron>& selected,
                                          const std::vector<std::vector<ScanHit>>& hits, const StudyParameters& p,
                                          int64_t batchTokens, const Progress& progress) {
    std::vector<NeuronResult> results = truncateHits(model, tokenizer, selected, hits, p, batchTokens, progress);
    attributeContexts(model, tokenizer, results, p, batchTokens, progress);
    return results;
}

// Steps 2-3 for given neurons on a corpus: scan, then analyzeContexts.
struct AnalysisRun {
    std::vector<NeuronResult> neurons;  // one per selected neuron, same order
    ScanResult scan;                    // the scan's bookkeeping (documents, tokens, corpus hash)
};

AnalysisRun analyzeNeurons(const Transformer& model, const Tokenizer& tokenizer,
                           const std::vector<NextTokenNeuron>& selected, const QString& corpus,
                           const PipelineOptions& options, const StudyParameters& p, const Progress& progress) {
    ScanOptions scan;
    for (const NextTokenNeuron& n : selected) scan.neurons.push_back(n.ref);
    scan.topDocuments = p.topDocuments;
    scan.corpus.textField = options.textField.toStdString();
    scan.corpus.maxDocuments = p.maxDocuments;
    scan.corpus.shardIndex = p.shardIndex;
    scan.corpus.shardCount = p.shardCount;
    scan.corpus.shardBlock = kScanGroupDocuments;  // shards of whole groups (fetchDocuments reads the same shard)
    if (p.shardBlock != kScanGroupDocuments)
        throw Error("shard block " + std::to_string(p.shardBlock) + ": this build deals shards in blocks of " +
                    std::to_string(kScanGroupDocuments) + " documents");
    scan.checkpointPath = options.checkpointPath;
    ScanResult scanned = runActivationScan(model, tokenizer, corpus, scan, stepProgress(progress, "scan"));

    // The kept documents, read back and cut at each maximum.
    std::set<int64_t> wanted;
    for (int64_t i = 0; i < scanned.top.neurons(); ++i)
        for (const TopKEntry& e : scanned.top.sorted(i)) wanted.insert(e.document);
    const auto documents = fetchDocuments(model, tokenizer, corpus, scan.corpus, wanted);
    std::vector<std::vector<ScanHit>> hits(selected.size());
    for (std::size_t i = 0; i < selected.size(); ++i)
        for (const TopKEntry& e : scanned.top.sorted(static_cast<int64_t>(i))) {
            const auto it = documents.find(e.document);
            if (it == documents.end())
                throw Error("the corpus changed during the run (document " + std::to_string(e.document) + " is gone)");
            const std::vector<int>& t = it->second.tokens;
            if (e.position < 1 || static_cast<std::size_t>(e.position) >= t.size())
                throw Error("scan: document " + std::to_string(e.document) + " has no token at position " +
                            std::to_string(e.position) + " (a damaged checkpoint, or the corpus changed)");
            hits[i].push_back({e.value, e.document, e.position, it->second.source, it->second.line,
                               std::vector<int>(t.begin(), t.begin() + e.position + 1)});
        }
    AnalysisRun run{analyzeContexts(model, tokenizer, selected, hits, p, p.batchTokens, progress), std::move(scanned)};
    for (std::size_t i = 0; i < run.neurons.size(); ++i) run.neurons[i].histogram = run.scan.histogram.of(int64_t(i));
    return run;
}

// Neuron facts from the weights: the 10 most promoted and suppressed tokens of each neuron, decoded.
void addTokenFacts(const Transformer& model, const Tokenizer& tokenizer, std::vector<NeuronResult>& neurons) {
    std::vector<NeuronRef> refs;
    for (const NeuronResult& n : neurons) refs.push_back(n.neuron.ref);
    std::vector<TokenFacts> facts = computeTokenFacts(model, refs, 10);
    for (std::size_t i = 0; i < neurons.size(); ++i) {
        for (auto* list : {&facts[i].promoted, &facts[i].suppressed})
            for (TokenValue& t : *list) t.text = tokenizer.tokenText(t.token).toStdString();
        neurons[i].promoted = std::move(facts[i].promoted);
        neurons[i].suppressed = std::move(facts[i].suppressed);
    }
}

}  // namespace

static Transformer loadModel(const QString& model, bool raw, bool bf16, const Progress& progress,
                             const QString& device = {}) {
    LoadOptions load;
    load.processing = raw ? WeightProcessing::none() : WeightProcessing::transformerLensDefaults();
    load.dtype = bf16 ? ComputeDType::BFloat16 : ComputeDType::Float32;
    load.device = device.toStdString();  // empty: $HEADLIGHT_DEVICE or the CPU
    progress.report(0, 1, "load: " + model.toStdString());
    return Transformer::load(model, load);
}

std::vector<NextTokenNeuron> rankNextTokenNeurons(const PipelineOptions& options, const Progress& progress) {
    const Transformer model = loadModel(options.model, options.rawWeights, false, progress);
    const Tokenizer tokenizer = Tokenizer::fromFolder(resolveModelDir(options.model));
    StudyParameters p = options.parameters;
    defaultLayers(p, model.config());
    validate(p, model.config());
    return selectNeurons(model, tokenizer, computeCongruence(model, p.layers, stepProgress(progress, "congruence")), p);
}

std::vector<TokenNeuronRow> rankNeuronsForToken(const PipelineOptions& options, const std::string& token, int top,
                                                const Progress& progress) {
    const Transformer model = loadModel(options.model, options.rawWeights, false, progress);
    const Tokenizer tokenizer = Tokenizer::fromFolder(resolveModelDir(options.model));
    StudyParameters p = options.parameters;
    p.topK = p.randomPerLayer = 0;  // no selection here: `top` counts rows (-1: all)
    p.neurons.clear();
    defaultLayers(p, model.config());
    validate(p, model.config());
    return analysis::rankNeuronsForToken(model, tokenizer, token, p.layers, top, stepProgress(progress, "congruence"));
}

// The model (and tokenizer) a study was made with: `modelOverride` or the one its provenance names,
// with the same weight processing; the weight hash must match.
struct StudyModel {
    Transformer model;
    Tokenizer tokenizer;
};

static StudyModel loadStudyModel(const Provenance& provenance, const QString& modelOverride, const Progress& progress) {
    const QString modelId = modelOverride.isEmpty() ? QString::fromStdString(provenance.modelId) : modelOverride;
    const bool raw = provenance.processing.rfind("none", 0) == 0;
    Transformer model = loadModel(modelId, raw, false, progress);
    if (!provenance.weightHash.empty() && model.weightHash() != provenance.weightHash)
        throw Error("model " + modelId.toStdString() + " is not the one the study was made with (weight hash " +
                    model.weightHash() + " != " + provenance.weightHash + ")");
    return {std::move(model), Tokenizer::fromFolder(resolveModelDir(modelId))};
}

void addAblations(Study& study, const QString& modelOverride, const Progress& progress) {
    addAblations(study, analysis::AblationOptions{}, modelOverride, progress);
}

std::vector<std::size_t> addAblations(Study& study, const analysis::AblationOptions& options, const QString& modelOverride,
                                      const Progress& progress) {
    for (int h : options.heads)
        if (h < 0 || h >= study.nLayers * study.nHeads)
            throw Error("ablation: head " + headName(h / std::max(study.nHeads, 1), h % std::max(study.nHeads, 1)) +
                        " is outside the model (" + std::to_string(study.nLayers) + " layers of " +
                        std::to_string(study.nHeads) + " heads)");
    for (const NeuronRef& ref : options.neurons)
        if (std::none_of(study.neurons.begin(), study.neurons.end(), [&](const NeuronResult& n) { return n.neuron.ref == ref; }))
            throw Error("ablation: neuron " + neuronName(ref) + " is not a neuron of this study");
    const StudyModel m = loadStudyModel(study.provenance, modelOverride, progress);
    analysis::AblationOptions o = options;
    o.sameLayerHeads = study.parameters.sameLayerHeads;
    return analysis::mergeAblations(study.ablations,
                                    analysis::runAblations(m.model, m.tokenizer, study.neurons, o, stepProgress(progress, "ablate")));
}

Study runStudyPipeline(const PipelineOptions& options, const Progress& progress) {
    const Transformer model = loadModel(options.model, options.rawWeights, options.bf16, progress, options.device);
    const Tokenizer tokenizer = Tokenizer::fromFolder(resolveModelDir(options.model));
    Study study = runStudyPipeline(model, tokenizer, options, progress);
    study.provenance.modelId = options.model.toStdString();
    study.provenance.tokenizer = tokenizer.kind() + " (" + tokenizer.source().toStdString() + ")";
    return study;
}

Study runStudyPipeline(const Transformer& model, const Tokenizer& tokenizer, const PipelineOptions& options,
                       const Progress& progress) {
    const ModelConfig& config = model.config();
    Study study;
    study.parameters = options.parameters;
    StudyParameters& p = study.parameters;
    p.batchTokens = options.batchTokens;
    defaultLayers(p, config);
    validate(p, config);
    study.nLayers = config.nLayers;
    study.nHeads = config.nHeads;
    study.dMlp = config.dMlp;

    // Step 1: congruence and selection.
    study.congruence = computeCongruence(model, p.layers, stepProgress(progress, "congruence"));
    const std::vector<NextTokenNeuron> selected = selectNeurons(model, tokenizer, study.congruence, p);
    if (selected.empty()) throw Error("no neuron passes the selection (token filter, reject lists, top K)");

    // Steps 2-3.
    const AnalysisRun run = analyzeNeurons(model, tokenizer, selected, options.corpus, options, p, progress);
    study.neurons = run.neurons;
    addTokenFacts(model, tokenizer, study.neurons);

    Provenance& prov = study.provenance;
    prov.modelId = model.identity().modelId;
    prov.modelFamily = familyName(config.family);
    prov.weightHash = model.weightHash();
    prov.processing = model.processing().describe();
    if (!model.postNormReading().empty()) prov.processing += "; " + model.postNormReading();
    prov.tokenizer = tokenizer.kind() + " (" + tokenizer.source().toStdString() + ")";
    prov.corpus = options.corpus.toStdString();
    prov.corpusHash = run.scan.corpusHash;
    prov.corpusDocuments = run.scan.documents;
    prov.corpusTokens = run.scan.tokens;
    prov.software = "headlight " + headlightVersion() + " (Qt " + qtVersion() + ", libtorch " + libtorchVersion() + ")";
    prov.createdAt = utcNow();
    return study;
}

std::vector<NeuronResult> labelHeldOut(const Study& study, const QString& modelDirOrHubId,
                                       const QString& heldoutCorpus, const Progress& progress) {
    const StudyModel m = loadStudyModel(study.provenance, modelDirOrHubId, progress);
    const Transformer& model = m.model;
    const Tokenizer& tokenizer = m.tokenizer;
    const QString modelId = modelDirOrHubId.isEmpty() ? QString::fromStdString(study.provenance.modelId) : modelDirOrHubId;
    std::vector<NextTokenNeuron> selected;
    for (const NeuronResult& n : study.neurons) selected.push_back(n.neuron);
    if (selected.empty()) return {};
    StudyParameters p = study.parameters;
    p.shardIndex = 0;
    p.shardCount = 1;
    PipelineOptions options;
    options.model = modelId;
    options.corpus = heldoutCorpus;
    return analyzeNeurons(model, tokenizer, selected, heldoutCorpus, options, p, progress).neurons;
}

Study mergeStudies(const std::vector<Study>& shards, const QString& modelOverride, const Progress& progress) {
    if (shards.empty()) throw Error("merge: no studies given");
    const Study& first = shards.front();
    const int count = first.parameters.shardCount;
    if (static_cast<int>(shards.size()) != count)
        throw Error("merge: the studies are shards of " + std::to_string(count) + " but " +
                    std::to_string(shards.size()) + " were given");
    std::set<int> indices;
    for (const Study& s : shards) {
        auto differs = [&](const std::string& what) {
            throw Error("merge: shard " + std::to_string(s.parameters.shardIndex) + " differs from shard " +
                        std::to_string(first.parameters.shardIndex) + " in its " + what);
        };
        if (s.provenance.weightHash != first.provenance.weightHash) differs("model weights");
        if (s.provenance.processing != first.provenance.processing) differs("weight processing");
        if (s.provenance.corpusHash != first.provenance.corpusHash) differs("corpus");
        StudyParameters a = s.parameters, b = first.parameters;
        a.shardIndex = b.shardIndex = 0;
        if (toJson(a).dump() != toJson(b).dump()) differs("parameters");
        if (s.neurons.size() != first.neurons.size()) differs("neurons");
        for (std::size_t i = 0; i < s.neurons.size(); ++i)
            if (!(s.neurons[i].neuron.ref == first.neurons[i].neuron.ref) ||
                s.neurons[i].neuron.baseline != first.neurons[i].neuron.baseline)
                differs("neurons");
        if (!indices.insert(s.parameters.shardIndex).second)
            throw Error("merge: shard " + std::to_string(s.parameters.shardIndex) + " is given twice");
    }
    Study merged = first;
    merged.parameters.shardIndex = 0;
    merged.parameters.shardCount = 1;
    merged.provenance.corpusDocuments = 0;
    merged.provenance.corpusTokens = 0;
    merged.provenance.createdAt = utcNow();
    merged.ablations.clear();
    for (const Study& s : shards) {
        merged.provenance.corpusDocuments += s.provenance.corpusDocuments;
        merged.provenance.corpusTokens += s.provenance.corpusTokens;
    }
    // The scans merge exactly (a total order on (value, document, position)); steps 2b-3 are then run
    // once on the merged top N, exactly as the single run does.
    std::vector<NextTokenNeuron> selected;
    std::vector<std::vector<ScanHit>> hits(merged.neurons.size());
    for (std::size_t i = 0; i < merged.neurons.size(); ++i) {
        selected.push_back(merged.neurons[i].neuron);
        std::vector<const NeuronContext*> all;
        for (const Study& s : shards)
            for (const NeuronContext& c : s.neurons[i].contexts) all.push_back(&c);
        std::sort(all.begin(), all.end(), [](const NeuronContext* a, const NeuronContext* b) {
            if (a->activation != b->activation) return a->activation > b->activation;
            if (a->doc != b->doc) return a->doc < b->doc;
            return a->position < b->position;
        });
        if (static_cast<int>(all.size()) > merged.parameters.topDocuments) all.resize(merged.parameters.topDocuments);
        for (const NeuronContext* c : all) {
            ScanHit h{c->activation, c->doc, c->position, c->docSource, c->docLine, {}};
            if (first.provenance.modelFamily.empty()) throw Error("merge: the shards do not record their model");
            hits[i].push_back(std::move(h));
            hits[i].back().tokens = c->tokens;  // BOS is prepended below, once the model is known
        }
    }
    const StudyModel m = loadStudyModel(first.provenance, modelOverride, progress);
    const Transformer& model = m.model;
    const Tokenizer& tokenizer = m.tokenizer;
    for (auto& list : hits)
        for (ScanHit& h : list)
            if (const auto bos = model.bosTokenId()) h.tokens.insert(h.tokens.begin(), *bos);
    merged.neurons = analyzeContexts(model, tokenizer, selected, hits, merged.parameters, merged.parameters.batchTokens,
                                     progress);
    // Neuron facts: the token lists come from the weights (the same in every shard), the histograms add up.
    for (std::size_t i = 0; i < merged.neurons.size(); ++i) {
        merged.neurons[i].promoted = first.neurons[i].promoted;
        merged.neurons[i].suppressed = first.neurons[i].suppressed;
        bool everyShard = true;  // a shard without a histogram (older bundle): the merge has none either
        for (const Study& s : shards) everyShard = everyShard && s.neurons[i].histogram.recorded();
        for (const Study& s : shards)
            if (everyShard) mergeHistograms(merged.neurons[i].histogram, s.neurons[i].histogram);
    }
    return merged;
}

std::vector<HeadLookup> computeLookups(const Provenance& provenance, const StudyParameters& p, const NeuronResult& neuron,
                                       const std::vector<int>& contexts, int head, const QString& modelOverride,
                                       const Progress& progress) {
    const StudyModel m = loadStudyModel(provenance, modelOverride, progress);
    const ModelConfig& config = m.model.config();
    const std::vector<int> candidates = candidateHeads(neuron.neuron.ref.layer, config.nHeads, p.sameLayerHeads);
    if (!std::binary_search(candidates.begin(), candidates.end(), head))
        throw Error("look-up: head " + std::to_string(head) + " is not a candidate head of " + neuronName(neuron.neuron.ref));
    std::vector<NeuronResult> one(1);
    one[0].neuron = neuron.neuron;
    for (int c : contexts) {
        if (c < 0 || c >= static_cast<int>(neuron.contexts.size()))
            throw Error("look-up: " + neuronName(neuron.neuron.ref) + " has no context " + std::to_string(c));
        one[0].contexts.push_back(neuron.contexts[std::size_t(c)]);
    }
    const AttributionInputs in = attributionInputs(m.model, m.tokenizer, one, p);
    if (in.prompts.size() != contexts.size())
        throw Error("look-up: a context of " + neuronName(neuron.neuron.ref) + " has " + std::to_string(p.maxContextTokens) +
                    " tokens or more (no attribution past the length cut)");
    progress.report(0, 1, "look-up: " + std::to_string(in.prompts.size()) + " prompts");
    const LookupSelector only = [head](std::size_t, const std::vector<float>&) { return std::vector<int>{head}; };
    HeadAttribution a = attributeHeadsWithLookups(m.model, in.prompts, p.sameLayerHeads, only, p.batchTokens, p.attributionScore);
    std::vector<HeadLookup> out;
    for (auto& looks : a.lookups) out.push_back(looks.at(0));
    progress.report(1, 1, "look-up: done");
    return out;
}

namespace {

bool needsLookups(const NeuronContext& c) {
    return c.kept && c.lookups.empty() && std::find(c.active.begin(), c.active.end(), uint8_t(1)) != c.active.end();
}

// The kept contexts without look-ups, recomputed in step 3's passes with the stored active heads.
int64_t completeLookups(const StudyModel& m, Study& study, const Progress& progress) {
    std::vector<NeuronResult> subset;
    std::vector<NeuronContext*> origin;   // per context of `subset`, in order: where its look-ups go
    for (NeuronResult& n : study.neurons) {
        NeuronResult r;
        r.neuron = n.neuron;
        for (NeuronContext& c : n.contexts)
            if (needsLookups(c)) {
                r.contexts.push_back(c);
                origin.push_back(&c);
            }
        if (!r.contexts.empty()) subset.push_back(std::move(r));
    }
    if (origin.empty()) return 0;
    std::map<const NeuronContext*, NeuronContext*> target;
    std::size_t k = 0;
    for (NeuronResult& r : subset)
        for (NeuronContext& c : r.contexts) target[&c] = origin[k++];
    const StudyParameters& p = study.parameters;
    const AttributionInputs in = attributionInputs(m.model, m.tokenizer, subset, p);
    const LookupSelector stored = [&](std::size_t i, const std::vector<float>&) {
        std::vector<int> heads;
        const std::vector<uint8_t>& active = in.targets[i]->active;
        for (std::size_t h = 0; h < active.size(); ++h)
            if (active[h]) heads.push_back(int(h));
        return heads;
    };
    progress.report(0, 1, "look-ups: " + std::to_string(in.prompts.size()) + " contexts");
    HeadAttribution a = attributeHeadsWithLookups(m.model, in.prompts, p.sameLayerHeads, stored, p.batchTokens, p.attributionScore);
    progress.throwIfCancelled();
    int64_t added = 0;
    for (std::size_t i = 0; i < in.targets.size(); ++i) {
        const NeuronContext& c = *in.targets[i];
        for (const HeadLookup& l : a.lookups[i]) {
            const float was = c.headScores.at(std::size_t(l.head));
            if (!(std::abs(l.score - was) <= 1e-3f * (1.f + std::abs(was))))
                throw Error("complete: " + neuronName(in.prompts[i].neuron) + " head " + std::to_string(l.head) + " scores " +
                            std::to_string(l.score) + " now and " + std::to_string(was) +
                            " in the study: the model or its processing is not the study's");
        }
        added += int64_t(a.lookups[i].size());
    }
    for (std::size_t i = 0; i < in.targets.size(); ++i) target.at(in.targets[i])->lookups = std::move(a.lookups[i]);
    progress.report(1, 1, "look-ups: done");
    return added;
}

// Histograms of `missing` (indices into study.neurons) from a scan of the study's corpus.
void completeHistograms(const StudyModel& m, Study& study, const std::vector<std::size_t>& missing,
                        const CompletionOptions& options, const Progress& progress) {
    const QString corpus = options.corpus.isEmpty() ? QString::fromStdString(study.provenance.corpus) : options.corpus;
    if (!QFileInfo::exists(corpus))
        throw Error("complete: the study's corpus " + corpus.toStdString() +
                    " is not here (give a copy of it: histograms need a scan of the whole corpus)");
    ScanOptions scan;
    for (std::size_t i : missing) scan.neurons.push_back(study.neurons[i].neuron.ref);
    scan.topDocuments = 1;
    scan.corpus.textField = options.textField.toStdString();
    scan.corpus.maxDocuments = study.parameters.maxDocuments;
    scan.corpus.shardIndex = study.parameters.shardIndex;
    scan.corpus.shardCount = study.parameters.shardCount;
    if (study.parameters.shardCount > 1 && study.parameters.shardBlock != kScanGroupDocuments)
        throw Error("complete: a shard made before packed scans (shard block " + std::to_string(study.parameters.shardBlock) +
                    ") cannot be rescanned alike: complete the merged study instead");
    const ScanResult scanned = runActivationScan(m.model, m.tokenizer, corpus, scan, stepProgress(progress, "scan"));
    const Provenance& prov = study.provenance;
    if (!prov.corpusHash.empty() && scanned.corpusHash != prov.corpusHash)
        throw Error("complete: " + corpus.toStdString() + " is not the study's corpus (SHA-256 " + scanned.corpusHash +
                    " != " + prov.corpusHash + ")");
    if (prov.corpusDocuments > 0 && scanned.documents != prov.corpusDocuments)
        throw Error("complete: the corpus read " + std::to_string(scanned.documents) + " documents, the study " +
                    std::to_string(prov.corpusDocuments) + " (another text field?)");
    for (std::size_t j = 0; j < missing.size(); ++j) {
        NeuronResult& n = study.neurons[missing[j]];
        ActivationHistogram h = scanned.histogram.of(int64_t(j));
        if (!n.contexts.empty() && h.total() > 0 &&
            !(std::abs(h.max - n.contexts.front().activation) <= 1e-4f * (1.f + std::abs(h.max))))
            throw Error("complete: " + neuronName(n.neuron.ref) + " reaches " + std::to_string(h.max) + " in this scan and " +
                        std::to_string(n.contexts.front().activation) + " in the study: the inputs are not the study's");
        n.histogram = std::move(h);
    }
}

}  // namespace

Completion missingFromStudy(const Study& study, const CompletionOptions& options) {
    Completion c;
    for (const NeuronResult& n : study.neurons) {
        if (options.lookups)
            for (const NeuronContext& x : n.contexts)
                if (needsLookups(x)) c.lookups += std::count(x.active.begin(), x.active.end(), uint8_t(1));
        if (options.tokenFacts && n.promoted.empty() && n.suppressed.empty()) ++c.tokenFacts;
        if (options.histograms && !n.histogram.recorded()) ++c.histograms;
    }
    return c;
}

Completion completeStudy(Study& study, const CompletionOptions& options, const Progress& progress) {
    const Completion missing = missingFromStudy(study, options);
    if (missing.total() == 0) return missing;
    const StudyModel m = loadStudyModel(study.provenance, options.model, progress);
    Study out = study;   // changed only when everything succeeded
    Completion done;
    if (missing.lookups > 0) done.lookups = completeLookups(m, out, stepProgress(progress, "attribute"));
    if (missing.tokenFacts > 0) {
        std::vector<NeuronResult> without;   // the neurons alone (addTokenFacts reads no context)
        for (const NeuronResult& n : out.neurons)
            if (n.promoted.empty() && n.suppressed.empty()) without.emplace_back().neuron = n.neuron;
        addTokenFacts(m.model, m.tokenizer, without);
        std::size_t k = 0;
        for (NeuronResult& n : out.neurons)
            if (n.promoted.empty() && n.suppressed.empty()) {
                n.promoted = std::move(without[k].promoted);
                n.suppressed = std::move(without[k++].suppressed);
            }
        done.tokenFacts = int64_t(without.size());
    }
    if (missing.histograms > 0) {
        std::vector<std::size_t> at;
        for (std::size_t i = 0; i < out.neurons.size(); ++i)
            if (!out.neurons[i].histogram.recorded()) at.push_back(i);
        completeHistograms(m, out, at, options, progress);
        done.histograms = int64_t(at.size());
    }
    progress.throwIfCancelled();
    study = std::move(out);
    return done;
}

}  // namespace headlight
