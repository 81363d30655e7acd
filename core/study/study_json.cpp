#include "core/study/study_json.h"

#include "core/base/error.h"

namespace headlight {

using nlohmann::json;
using nlohmann::ordered_json;

std::string neuronName(const NeuronRef& ref) {
    return "L" + std::to_string(ref.layer) + "N" + std::to_string(ref.neuron);
}

std::string headName(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }

const NeuronResult* Study::find(const NeuronRef& ref, bool baseline) const {
    for (const NeuronResult& n : neurons)
        if (n.neuron.ref == ref && n.neuron.baseline == baseline) return &n;
    return nullptr;
}

namespace {

// Reads a field of a known type, or throws naming the document and the field.
template <typename T>
void read(const json& j, const char* key, T& out, const std::string& where, bool required = true) {
    if (!j.is_object() || !j.contains(key)) {
        if (required) throw Error(where + ": missing field '" + key + "'");
        return;
    }
    try {
        out = j.at(key).get<T>();
    } catch (const json::exception&) {
        throw Error(where + ": field '" + std::string(key) + "' has the wrong type");
    }
}

}  // namespace

ordered_json toJson(const Provenance& p) {
    return {{"model_id", p.modelId},       {"model_family", p.modelFamily},   {"weight_hash", p.weightHash},
            {"processing", p.processing},  {"tokenizer", p.tokenizer},        {"corpus", p.corpus},
            {"corpus_hash", p.corpusHash}, {"corpus_documents", p.corpusDocuments},
            {"corpus_tokens", p.corpusTokens}, {"software", p.software},    {"created_at", p.createdAt}};
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
    return p;
}

ordered_json toJson(const StudyParameters& p) {
    return {{"layers", p.layers},
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
            {"active_std_multiplier", p.activeStdMultiplier},
            {"relevant_min", p.relevantMin},
            {"relevant_max", p.relevantMax},
            {"mimic_newline_round_trip", p.mimicNewlineRoundTrip},
            {"shard_index", p.shardIndex},
            {"shard_count", p.shardCount}};
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
    return p;
}

ordered_json toJson(const AblationResult& a, int nHeads) {
    return {{"layer", a.neuron.layer},
            {"neuron", a.neuron.neuron},
            {"head", headName(a.head / nHeads, a.head % nHeads)},
            {"head_index", a.head},
            {"drop_active", a.dropActive},
            {"drop_inactive", a.dropInactive},
            {"ks_statistic", a.ksStatistic},
            {"ks_p_value", a.ksPValue}};
}

AblationResult ablationFromJson(const json& j, const std::string& where) {
    AblationResult a;
    const std::string w = where + " ablation";
    read(j, "layer", a.neuron.layer, w);
    read(j, "neuron", a.neuron.neuron, w);
    read(j, "head_index", a.head, w);
    read(j, "drop_active", a.dropActive, w);
    read(j, "drop_inactive", a.dropInactive, w);
    read(j, "ks_statistic", a.ksStatistic, w);
    read(j, "ks_p_value", a.ksPValue, w);
    return a;
}

}  // namespace headlight
