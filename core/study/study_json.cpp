#include "core/study/study_json.h"

#include <limits>

#include "core/analysis/score_interval.h"
#include "core/base/error.h"

namespace headlight {

using nlohmann::json;
using nlohmann::ordered_json;

const NeuronResult* Study::find(const NeuronRef& ref, bool baseline) const {
    for (const NeuronResult& n : neurons)
        if (n.neuron.ref == ref && n.neuron.baseline == baseline) return &n;
    return nullptr;
}

namespace {

// Reads a field of a known type, or throws naming the document and the field.
template <typename T>
void read(const json& j, const char* key, T& out, const std::string& where, bool required = true) {
    readJsonField(j, key, out, where, required);
}

}  // namespace

ordered_json toJson(const Provenance& p) {
    ordered_json j = {{"model_id", p.modelId},       {"model_family", p.modelFamily},   {"weight_hash", p.weightHash},
                      {"processing", p.processing},  {"tokenizer", p.tokenizer},        {"corpus", p.corpus},
                      {"corpus_hash", p.corpusHash}, {"corpus_documents", p.corpusDocuments},
                      {"corpus_tokens", p.corpusTokens}, {"software", p.software},    {"created_at", p.createdAt}};
    if (!p.modelPath.empty()) j["model_path"] = p.modelPath;   // optional: older bundles lack them
    if (!p.modelPathRelative.empty()) j["model_path_relative"] = p.modelPathRelative;
    return j;
}

Provenance provenanceFromJson(const json& j, const std::string& where) {
    Provenance p;
    const std::string w = where + " provenance";
    read(j, "model_id", p.modelId, w);
    read(j, "model_family", p.modelFamily, w);
    read(j, "weight_hash", p.weightHash, w);
    read(j, "processing", p.processing, w);
    read(j, "tokenizer", p.tokenizer, w);
    read(j, "corpus", p.corpus, w);
    read(j, "corpus_hash", p.corpusHash, w);
    read(j, "corpus_documents", p.corpusDocuments, w);
    read(j, "corpus_tokens", p.corpusTokens, w);
    read(j, "software", p.software, w);
    read(j, "created_at", p.createdAt, w);
    read(j, "model_path", p.modelPath, w, false);
    read(j, "model_path_relative", p.modelPathRelative, w, false);
    return p;
}

ordered_json toJson(const StudyParameters& p) {
    ordered_json j = {{"layers", p.layers},
            {"top_k", p.topK},
            {"random_per_layer", p.randomPerLayer},
            {"random_seed", p.randomSeed},
            {"min_token_chars", p.minTokenChars},
            {"require_word_boundary", p.requireWordBoundary},
            {"reject_tokens", p.rejectTokens},
            {"reject_neurons", p.rejectNeurons},
            {"top_documents", p.topDocuments},
            {"max_documents", p.maxDocuments},
            {"truncation_ratio", p.truncationRatio},
            {"max_context_tokens", p.maxContextTokens},
            {"prompts_per_neuron", p.promptsPerNeuron},
            {"same_layer_heads", p.sameLayerHeads},
            {"attribution_score", attributionScoreName(p.attributionScore)},
            {"active_std_multiplier", p.activeStdMultiplier},
            {"relevant_min", p.relevantMin},
            {"relevant_max", p.relevantMax},
            {"mimic_newline_round_trip", p.mimicNewlineRoundTrip},
            {"shard_index", p.shardIndex},
            {"shard_count", p.shardCount},
            {"shard_block", p.shardBlock},
            {"batch_tokens", p.batchTokens}};
    if (!p.neurons.empty()) j["neurons"] = p.neurons;  // optional: a study of given neurons
    return j;
}

StudyParameters parametersFromJson(const json& j, const std::string& where) {
    StudyParameters p;
    const std::string w = where + " parameters";
    read(j, "layers", p.layers, w);
    read(j, "top_k", p.topK, w);
    read(j, "random_per_layer", p.randomPerLayer, w);
    read(j, "random_seed", p.randomSeed, w);
    read(j, "min_token_chars", p.minTokenChars, w);
    read(j, "require_word_boundary", p.requireWordBoundary, w);
    read(j, "reject_tokens", p.rejectTokens, w);
    read(j, "reject_neurons", p.rejectNeurons, w);
    read(j, "neurons", p.neurons, w, false);
    read(j, "top_documents", p.topDocuments, w);
    read(j, "max_documents", p.maxDocuments, w);
    read(j, "truncation_ratio", p.truncationRatio, w);
    read(j, "max_context_tokens", p.maxContextTokens, w);
    read(j, "prompts_per_neuron", p.promptsPerNeuron, w);
    read(j, "same_layer_heads", p.sameLayerHeads, w);
    read(j, "active_std_multiplier", p.activeStdMultiplier, w);
    read(j, "relevant_min", p.relevantMin, w);
    read(j, "relevant_max", p.relevantMax, w);
    read(j, "mimic_newline_round_trip", p.mimicNewlineRoundTrip, w);
    read(j, "shard_index", p.shardIndex, w);
    read(j, "shard_count", p.shardCount, w);
    read(j, "batch_tokens", p.batchTokens, w, false);
    p.shardBlock = 1;  // absent: made before shards were dealt in blocks (every shard_count-th document)
    read(j, "shard_block", p.shardBlock, w, false);
    if (p.shardBlock < 1) throw Error(w + ": field 'shard_block' " + std::to_string(p.shardBlock) + " is below 1");
    if (p.shardCount < 1 || p.shardIndex < 0 || p.shardIndex >= p.shardCount)
        throw Error(w + ": field 'shard_index' " + std::to_string(p.shardIndex) + " is outside shard_count " +
                    std::to_string(p.shardCount));
    std::string score = attributionScoreName(p.attributionScore);
    read(j, "attribution_score", score, w, false);  // absent before gate-aware scores existed
    try {
        p.attributionScore = parseAttributionScore(score);
    } catch (const Error& e) {
        throw Error(w + ": field 'attribution_score': " + e.what());
    }
    return p;
}

namespace {

ordered_json effectsJson(const AblationEffects& e) {
    return {{"drop_active", e.dropActive}, {"drop_inactive", e.dropInactive},
            {"activation_active", e.activationActive}, {"activation_inactive", e.activationInactive}};
}

AblationEffects effectsFromJson(const json& j, const std::string& w) {
    AblationEffects e;
    read(j, "drop_active", e.dropActive, w);
    read(j, "drop_inactive", e.dropInactive, w);
    read(j, "activation_active", e.activationActive, w);
    read(j, "activation_inactive", e.activationInactive, w);
    return e;
}

// A statistic that may be NaN (one side empty), written as null.
void readNullable(const json& j, const char* key, double& value, const std::string& w, bool required) {
    if (j.contains(key) && j.at(key).is_null())
        value = std::numeric_limits<double>::quiet_NaN();
    else
        read(j, key, value, w, required);
}

}  // namespace

ordered_json toJson(const AblationResult& a, int nHeads) {
    ordered_json heads = ordered_json::array();
    for (int h : a.headSet()) heads.push_back(headName(h / nHeads, h % nHeads));
    ordered_json j = {{"layer", a.neuron.layer},
                      {"neuron", a.neuron.neuron},
                      {"head", headName(a.head / nHeads, a.head % nHeads)},
                      {"head_index", a.head},
                      {"mode", ablationModeName(a.mode)},
                      {"heads", heads},
                      {"head_indices", a.headSet()},
                      {"drop_active", a.dropActive},
                      {"drop_inactive", a.dropInactive},
                      {"ks_statistic", a.ksStatistic},
                      {"ks_p_value", a.ksPValue},
                      {"activation_active", a.activationActive},
                      {"activation_inactive", a.activationInactive},
                      {"activation_ks_statistic", a.activationKsStatistic},
                      {"activation_ks_p_value", a.activationKsPValue}};
    if (!a.total.empty()) j["total"] = effectsJson(a.total);
    if (!a.sumOfSingles.empty()) j["sum_of_singles"] = effectsJson(a.sumOfSingles);
    if (!a.group.empty()) {
        ordered_json group = ordered_json::array();
        for (const NeuronRef& n : a.group) group.push_back(neuronName(n));
        j["group"] = group;
    }
    return j;
}

// Bundles made before issue 15 have neither mode nor heads: zero ablation of head_index alone.
AblationResult ablationFromJson(const json& j, const std::string& where) {
    AblationResult a;
    const std::string w = where + " ablation";
    read(j, "layer", a.neuron.layer, w);
    read(j, "neuron", a.neuron.neuron, w);
    read(j, "head_index", a.head, w);
    read(j, "drop_active", a.dropActive, w);
    read(j, "drop_inactive", a.dropInactive, w);
    readNullable(j, "ks_statistic", a.ksStatistic, w, true);
    readNullable(j, "ks_p_value", a.ksPValue, w, true);
    std::string mode = "zero";
    read(j, "mode", mode, w, false);
    try {
        a.mode = parseAblationMode(mode);
    } catch (const Error& e) {
        throw Error(w + ": field 'mode': " + e.what());
    }
    a.heads = {a.head};
    read(j, "head_indices", a.heads, w, false);
    read(j, "activation_active", a.activationActive, w, false);
    read(j, "activation_inactive", a.activationInactive, w, false);
    readNullable(j, "activation_ks_statistic", a.activationKsStatistic, w, false);
    readNullable(j, "activation_ks_p_value", a.activationKsPValue, w, false);
    if (j.contains("total")) a.total = effectsFromJson(j.at("total"), w + " total");
    if (j.contains("sum_of_singles")) a.sumOfSingles = effectsFromJson(j.at("sum_of_singles"), w + " sum_of_singles");
    std::vector<std::string> group;
    read(j, "group", group, w, false);
    for (const std::string& name : group) {
        const std::optional<NeuronRef> ref = parseNeuronName(name);
        if (!ref) throw Error(w + ": field 'group' names '" + name + "', not a neuron like L3N5");
        a.group.push_back(*ref);
    }
    return a;
}

namespace {

nlohmann::ordered_json optionalBool(const std::optional<bool>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
nlohmann::ordered_json optionalDouble(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
nlohmann::ordered_json optionalInterval(const std::optional<ScoreInterval>& v) {
    return v ? ordered_json::array({v->low, v->high}) : ordered_json(nullptr);
}

// An optional number: absent or null -> empty.
std::optional<double> readOptionalDouble(const json& j, const char* key, const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    double v = 0;
    read(j, key, v, where);
    return v;
}

// "ci95": [low, high] or null.
std::optional<ScoreInterval> readInterval(const json& j, const char* key, const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    const json& v = j[key];
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
        throw Error(where + ": field '" + key + "' is not [low, high]");
    return ScoreInterval{v[0].get<double>(), v[1].get<double>()};
}

ordered_json testsJson(const HeadExplanation& e, bool full) {
    ordered_json tests = ordered_json::array();
    for (const ExplanationTest& t : e.tests) {
        ordered_json jt;
        jt["doc"] = t.doc;
        jt["doc_index"] = t.docIndex;
        jt["text"] = t.text;
        if (full) jt["activation"] = t.activation;
        jt["label"] = t.label;
        jt["predicted"] = optionalBool(t.predicted);
        jt["reply"] = t.reply;
        if (t.pYes) jt["p_yes"] = *t.pYes;
        if (!t.error.empty()) jt["error"] = t.error;
        tests.push_back(std::move(jt));
    }
    return tests;
}

}  // namespace

ordered_json toJson(const HeadExplanation& e, int nHeads) {
    ordered_json j;
    j["layer"] = e.neuron.layer;
    j["neuron"] = e.neuron.neuron;
    j["baseline"] = e.baseline;
    j["head"] = headName(e.head / nHeads, e.head % nHeads);
    j["head_index"] = e.head;
    j["source"] = e.source;
    j["model"] = e.model;
    j["endpoint"] = e.endpoint;
    j["prompt"] = e.prompt;
    j["parameters"] = e.parameters;
    j["reply"] = e.reply;
    j["explanation"] = e.explanation;
    j["error"] = e.error;
    j["prompt_tokens"] = e.promptTokens;
    j["completion_tokens"] = e.completionTokens;
    j["cost"] = e.cost;
    j["classifier_model"] = e.classifierModel;
    j["classifier_endpoint"] = e.classifierEndpoint;
    j["classifier_parameters"] = e.classifierParameters;
    j["tests"] = testsJson(e, true);
    j["tp"] = e.tp;
    j["fn"] = e.fn;
    j["fp"] = e.fp;
    j["tn"] = e.tn;
    j["invalid"] = e.invalid;
    j["score"] = optionalDouble(e.score);
    j["ci95"] = optionalInterval(e.ci95);
    j["auc"] = optionalDouble(e.auc);
    j["classifier_prompt_tokens"] = e.classifierPromptTokens;
    j["classifier_completion_tokens"] = e.classifierCompletionTokens;
    j["classifier_cost"] = e.classifierCost;
    return j;
}

ordered_json toExportJson(const HeadExplanation& e, int nHeads) {
    ordered_json j;
    j["head"] = headName(e.head / nHeads, e.head % nHeads);
    j["source"] = e.source;
    j["model"] = e.model;
    j["explanation"] = e.explanation;
    j["score"] = optionalDouble(e.score);
    j["ci95"] = optionalInterval(e.ci95);
    j["auc"] = optionalDouble(e.auc);
    j["tp"] = e.tp;
    j["fn"] = e.fn;
    j["fp"] = e.fp;
    j["tn"] = e.tn;
    j["invalid"] = e.invalid;
    ordered_json tests = ordered_json::array();
    for (const ExplanationTest& t : e.tests) {
        tests.push_back({{"doc", t.doc}, {"text", t.text}, {"label", t.label}, {"predicted", optionalBool(t.predicted)}});
        if (t.pYes) tests.back()["p_yes"] = *t.pYes;
        if (!t.error.empty()) tests.back()["error"] = t.error;
    }
    j["tests"] = std::move(tests);
    if (!e.error.empty()) j["error"] = e.error;
    return j;
}

namespace {

std::vector<ExplanationTest> testsFromJson(const json& j, const std::string& w) {
    std::vector<ExplanationTest> tests;
    if (!j.contains("tests")) return tests;
    if (!j["tests"].is_array()) throw Error(w + ": field 'tests' has the wrong type");
    for (const json& jt : j["tests"]) {
        ExplanationTest t;
        const std::string wt = w + " test";
        read(jt, "doc", t.doc, wt);
        read(jt, "doc_index", t.docIndex, wt, false);
        read(jt, "text", t.text, wt);
        read(jt, "activation", t.activation, wt, false);
        read(jt, "label", t.label, wt);
        read(jt, "reply", t.reply, wt, false);
        read(jt, "error", t.error, wt, false);
        if (jt.contains("predicted") && !jt["predicted"].is_null()) {
            bool p = false;
            read(jt, "predicted", p, wt);
            t.predicted = p;
        }
        t.pYes = readOptionalDouble(jt, "p_yes", wt);
        tests.push_back(std::move(t));
    }
    return tests;
}

}  // namespace

HeadExplanation headExplanationFromJson(const json& j, const std::string& where) {
    HeadExplanation e;
    const std::string w = where + " explanation";
    read(j, "layer", e.neuron.layer, w);
    read(j, "neuron", e.neuron.neuron, w);
    read(j, "baseline", e.baseline, w);
    read(j, "head_index", e.head, w);
    read(j, "source", e.source, w);
    read(j, "model", e.model, w, false);
    read(j, "endpoint", e.endpoint, w, false);
    read(j, "prompt", e.prompt, w, false);
    read(j, "parameters", e.parameters, w, false);
    read(j, "reply", e.reply, w, false);
    read(j, "explanation", e.explanation, w);
    read(j, "error", e.error, w, false);
    read(j, "prompt_tokens", e.promptTokens, w, false);
    read(j, "completion_tokens", e.completionTokens, w, false);
    read(j, "cost", e.cost, w, false);
    read(j, "classifier_model", e.classifierModel, w, false);
    read(j, "classifier_endpoint", e.classifierEndpoint, w, false);
    read(j, "classifier_parameters", e.classifierParameters, w, false);
    read(j, "tp", e.tp, w, false);
    read(j, "fn", e.fn, w, false);
    read(j, "fp", e.fp, w, false);
    read(j, "tn", e.tn, w, false);
    read(j, "invalid", e.invalid, w, false);
    read(j, "classifier_prompt_tokens", e.classifierPromptTokens, w, false);
    read(j, "classifier_completion_tokens", e.classifierCompletionTokens, w, false);
    read(j, "classifier_cost", e.classifierCost, w, false);
    e.score = readOptionalDouble(j, "score", w);
    e.auc = readOptionalDouble(j, "auc", w);
    e.tests = testsFromJson(j, w);
    // Bundles written before intervals were stored: the same interval the scorer would give.
    e.ci95 = j.contains("ci95") ? readInterval(j, "ci95", w) : analysis::explanationInterval(e);
    if (e.head < 0) throw Error(w + ": negative head index");
    return e;
}

ordered_json toJson(const HeldOutProvenance& h) {
    return {{"corpus", h.corpus},
            {"corpus_hash", h.corpusHash},
            {"tests_per_head", h.testsPerHead},
            {"classifier_template", h.classifierTemplate},
            {"created_at", h.createdAt}};
}

HeldOutProvenance heldOutFromJson(const json& j, const std::string& where) {
    HeldOutProvenance h;
    const std::string w = where + " held_out";
    read(j, "corpus", h.corpus, w, false);
    read(j, "corpus_hash", h.corpusHash, w, false);
    read(j, "tests_per_head", h.testsPerHead, w, false);
    read(j, "classifier_template", h.classifierTemplate, w, false);
    read(j, "created_at", h.createdAt, w, false);
    return h;
}

}  // namespace headlight
