#include "core/model/config.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"

namespace headlight {

using nlohmann::json;

const char* familyName(Family family) {
    switch (family) {
    case Family::Gpt2: return "gpt2";
    case Family::GptNeoX: return "gpt_neox";
    case Family::Llama: return "llama";
    case Family::Mistral: return "mistral";
    case Family::Qwen2: return "qwen2";
    case Family::Qwen3: return "qwen3";
    case Family::Gemma: return "gemma";
    case Family::Gemma2: return "gemma2";
    case Family::Gemma3: return "gemma3_text";
    case Family::Olmo2: return "olmo2";
    case Family::Phi3: return "phi3";
    }
    return "?";
}

const char* activationName(Activation act) {
    switch (act) {
    case Activation::GeluNew: return "gelu_new";
    case Activation::Gelu: return "gelu";
    case Activation::Silu: return "silu";
    case Activation::Relu: return "relu";
    }
    return "?";
}

namespace {

class Reader {
public:
    Reader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& what) const { throw Error("model config " + source_ + ": " + what); }

    bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

    int positiveInt(const char* key) const {
        if (!has(key)) fail("missing field '" + std::string(key) + "'");
        const json& v = j_.at(key);
        if (!v.is_number_integer() || v.get<long long>() <= 0 || v.get<long long>() > (1LL << 30))
            fail("field '" + std::string(key) + "' must be a positive integer");
        return static_cast<int>(v.get<long long>());
    }
    int positiveIntOr(const char* key, int fallback) const { return has(key) ? positiveInt(key) : fallback; }

    double number(const char* key, double fallback) const {
        if (!has(key)) return fallback;
        const json& v = j_.at(key);
        if (!v.is_number()) fail("field '" + std::string(key) + "' must be a number");
        return v.get<double>();
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const json& v = j_.at(key);
        if (!v.is_boolean()) fail("field '" + std::string(key) + "' must be true or false");
        return v.get<bool>();
    }
    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const json& v = j_.at(key);
        if (!v.is_string()) fail("field '" + std::string(key) + "' must be a string");
        return v.get<std::string>();
    }
    std::optional<int> optionalTokenId(const char* key) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_.at(key);
        if (v.is_array() && !v.empty() && v.front().is_number_integer()) return v.front().get<int>();
        if (!v.is_number_integer()) fail("field '" + std::string(key) + "' must be an integer");
        return v.get<int>();
    }

private:
    const json& j_;
    std::string source_;
};

Activation parseActivation(const Reader& r, const std::string& name, const char* key) {
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GeluNew;
    if (name == "gelu") return Activation::Gelu;
    if (name == "silu" || name == "swish") return Activation::Silu;
    if (name == "relu") return Activation::Relu;
    r.fail("unsupported activation '" + name + "' in field '" + key + "'");
}

// Bounds on the sizes a config.json may declare, checked before anything is allocated from them: far
// above every supported checkpoint, low enough that no product of them overflows and no table built
// from them (rotary angles are [n_ctx, d_head] doubles) is absurd.
constexpr int64_t kMaxLayers = 1024, kMaxHeads = 1024, kMaxDModel = 1 << 17, kMaxDHead = 1 << 12,
                  kMaxDMlp = 1 << 20, kMaxVocab = 1 << 23, kMaxContext = 1 << 20;

void validateSizes(const Reader& r, const ModelConfig& c) {
    const struct {
        const char* what;
        int64_t value, limit;
    } sizes[] = {{"number of layers", c.nLayers, kMaxLayers},   {"number of heads", c.nHeads, kMaxHeads},
                 {"number of key/value heads", c.nKvHeads, kMaxHeads}, {"hidden size", c.dModel, kMaxDModel},
                 {"head dimension", c.dHead, kMaxDHead},        {"MLP size", c.dMlp, kMaxDMlp},
                 {"vocabulary size", c.dVocab, kMaxVocab},      {"context length (n_ctx / max_position_embeddings)", c.nCtx, kMaxContext}};
    for (const auto& size : sizes)
        if (size.value < 1 || size.value > size.limit)
            r.fail(std::string(size.what) + " " + std::to_string(size.value) + " is outside [1, " + std::to_string(size.limit) + "]");
    if (c.positional == PositionalKind::Rotary && !(std::isfinite(c.rotaryBase) && c.rotaryBase > 1))
        r.fail("rotary base (rope_theta / rotary_emb_base) must be a finite number above 1");
    if (!std::isfinite(c.normEps) || !(c.normEps > 0) || c.normEps >= 1) r.fail("normalisation epsilon must be in (0, 1)");
}

}  // namespace

namespace {

// What this engine cannot run yet is refused by name, before anything else is read.
void refuseUnsupported(const json& j, const Reader& r, const std::string& type) {
    if (r.has("quantization_config")) {
        const json& q = j.at("quantization_config");
        const std::string method = q.is_object() && q.contains("quant_method") && q["quant_method"].is_string()
                                       ? " '" + q["quant_method"].get<std::string>() + "'" : "";
        r.fail("quantised weights (quantization_config" + method + ") are not supported; use the unquantised checkpoint");
    }
    for (const char* key : {"num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"})
        if (r.has(key) && j.at(key).is_number() && j.at(key).get<double>() > 0)
            r.fail("mixture-of-experts models are not supported (model_type '" + type + "', " + key + " " +
                   std::to_string(j.at(key).get<long long>()) + ")");
    if (type.find("moe") != std::string::npos || type == "mixtral" || type == "dbrx" || type.rfind("deepseek", 0) == 0 ||
        type == "jamba")
        r.fail("mixture-of-experts models are not supported (model_type '" + type + "')");
    for (const char* key : {"vision_config", "audio_config", "text_config"})
        if (r.has(key))
            r.fail("multimodal checkpoints are not supported (model_type '" + type + "' has " + key +
                   "); load the text-only model (e.g. model_type gemma3_text)");
    if (type == "gemma3" || type == "llava" || type == "mllama" || type == "paligemma" || type.find("_vl") != std::string::npos)
        r.fail("multimodal checkpoints are not supported (model_type '" + type + "'); load the text-only model");
}

void parseGpt2(const Reader& r, ModelConfig& c) {
    c.family = Family::Gpt2;
    c.nLayers = r.positiveInt("n_layer");
    c.dModel = r.positiveInt("n_embd");
    c.nHeads = r.positiveInt("n_head");
    c.nKvHeads = c.nHeads;
    c.dMlp = r.positiveIntOr("n_inner", static_cast<int>(std::min<int64_t>(4 * int64_t(c.dModel), kMaxDMlp + 1)));
    c.dVocab = r.positiveInt("vocab_size");
    c.nCtx = r.has("n_ctx") ? r.positiveInt("n_ctx") : r.positiveInt("n_positions");
    c.normEps = r.number("layer_norm_epsilon", 1e-5);
    c.act = parseActivation(r, r.string("activation_function", "gelu_new"), "activation_function");
    c.tiedEmbeddings = r.boolean("tie_word_embeddings", true);
    if (r.boolean("scale_attn_by_inverse_layer_idx", false))
        r.fail("unsupported option scale_attn_by_inverse_layer_idx = true");
    if (!r.boolean("scale_attn_weights", true)) r.fail("unsupported option scale_attn_weights = false");
    if (r.boolean("add_cross_attention", false)) r.fail("unsupported option add_cross_attention = true");
    if (c.dModel % c.nHeads != 0) r.fail("n_embd is not a multiple of n_head");
    c.dHead = c.dModel / c.nHeads;
}

void parseNeoX(const Reader& r, ModelConfig& c) {
    c.family = Family::GptNeoX;
    c.nLayers = r.positiveInt("num_hidden_layers");
    c.dModel = r.positiveInt("hidden_size");
    c.nHeads = r.positiveInt("num_attention_heads");
    c.nKvHeads = c.nHeads;
    c.dMlp = r.positiveInt("intermediate_size");
    c.dVocab = r.positiveInt("vocab_size");
    c.nCtx = r.positiveInt("max_position_embeddings");
    c.normEps = r.number("layer_norm_eps", 1e-5);
    c.act = parseActivation(r, r.string("hidden_act", "gelu"), "hidden_act");
    c.positional = PositionalKind::Rotary;
    c.parallelResidual = r.boolean("use_parallel_residual", true);
    c.tiedEmbeddings = r.boolean("tie_word_embeddings", false);
    c.attnBias = c.attnOutBias = r.boolean("attention_bias", true);
    const double pct = r.number("rotary_pct", 0.25);
    if (pct <= 0 || pct > 1) r.fail("field 'rotary_pct' must be in (0, 1]");
    c.rotaryBase = r.number("rotary_emb_base", 10000.0);
    if (r.has("rope_scaling")) r.fail("unsupported option rope_scaling (only null is supported)");
    if (c.dModel % c.nHeads != 0) r.fail("hidden_size is not a multiple of num_attention_heads");
    c.dHead = c.dModel / c.nHeads;
    c.rotaryDim = static_cast<int>(c.dHead * pct);  // HF: int(head_size * rotary_pct)
}

// rope_scaling: null, {"rope_type": "default"}, "linear" (factor) or "llama3" (factor, low/high_freq_factor,
// original_max_position_embeddings). Others (dynamic, yarn, longrope) change more than the frequencies: refused.
void parseRopeScaling(const json& j, const Reader& r, ModelConfig& c) {
    if (!r.has("rope_scaling")) return;
    const json& s = j.at("rope_scaling");
    if (!s.is_object()) r.fail("field 'rope_scaling' must be an object or null");
    auto text = [&](const char* key, const std::string& fallback) {
        if (!s.contains(key) || s.at(key).is_null()) return fallback;
        if (!s.at(key).is_string()) r.fail("field 'rope_scaling." + std::string(key) + "' must be a string");
        return s.at(key).get<std::string>();
    };
    auto number = [&](const char* key, double fallback) {
        if (!s.contains(key) || s.at(key).is_null()) return fallback;
        if (!s.at(key).is_number()) r.fail("field 'rope_scaling." + std::string(key) + "' must be a number");
        return s.at(key).get<double>();
    };
    const std::string type = text("rope_type", text("type", "default"));
    if (type == "default") return;
    c.ropeFactor = number("factor", 1.0);
    if (!(c.ropeFactor > 0)) r.fail("field 'rope_scaling.factor' must be positive");
    if (type == "linear") {
        c.ropeScaling = RopeScaling::Linear;
    } else if (type == "llama3") {
        c.ropeScaling = RopeScaling::Llama3;
        c.ropeLowFreqFactor = number("low_freq_factor", 1.0);
        c.ropeHighFreqFactor = number("high_freq_factor", 4.0);
        c.ropeOriginalContext = static_cast<int>(number("original_max_position_embeddings", 8192));
        if (!(c.ropeHighFreqFactor > c.ropeLowFreqFactor) || c.ropeOriginalContext <= 0)
            r.fail("rope_scaling llama3: high_freq_factor must exceed low_freq_factor and the original context be positive");
    } else {
        r.fail("unsupported rope_scaling type '" + type + "' (supported: default, linear, llama3)");
    }
}

// Sliding-window layers: layer_types when the config lists them, else the family's rule.
void parseSlidingWindow(const json& j, const Reader& r, ModelConfig& c) {
    const int n = c.nLayers;
    auto window = [&]() { return r.has("sliding_window") ? r.positiveInt("sliding_window") : 0; };
    std::function<bool(int)> local;
    switch (c.family) {
    case Family::Mistral:
    case Family::Phi3: c.slidingWindow = window(); local = [](int) { return true; }; break;
    case Family::Gemma2: c.slidingWindow = window(); local = [](int l) { return l % 2 == 0; }; break;
    case Family::Gemma3: {
        c.slidingWindow = window();
        const int pattern = r.positiveIntOr("sliding_window_pattern", 6);
        local = [pattern](int l) { return (l + 1) % pattern != 0; };
        break;
    }
    case Family::Qwen2:
    case Family::Qwen3: {
        if (!r.boolean("use_sliding_window", false)) return;
        c.slidingWindow = window();
        const int from = r.has("max_window_layers") ? r.positiveInt("max_window_layers") : 0;
        local = [from](int l) { return l >= from; };
        break;
    }
    default: return;
    }
    if (c.slidingWindow <= 0) return;
    c.localLayers.assign(n, false);
    if (r.has("layer_types")) {
        const json& t = j.at("layer_types");
        if (!t.is_array() || static_cast<int>(t.size()) != n) r.fail("field 'layer_types' must list every layer");
        for (int l = 0; l < n; ++l) c.localLayers[l] = t[l].is_string() && t[l].get<std::string>() == "sliding_attention";
    } else {
        for (int l = 0; l < n; ++l) c.localLayers[l] = local(l);
    }
}

// The pieces each Llama-layout family adds to the shared reading below.
void parseFamilyPieces(const json& j, const Reader& r, ModelConfig& c) {
    const bool gemma = c.family == Family::Gemma || c.family == Family::Gemma2 || c.family == Family::Gemma3;
    if (gemma) {
        c.normPlusOne = true;
        c.embedScale = std::sqrt(static_cast<double>(c.dModel));
        c.act = parseActivation(r, r.string("hidden_activation", "gelu_pytorch_tanh"), "hidden_activation");
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", true);
    }
    if (c.family == Family::Gemma2 || c.family == Family::Gemma3) {
        c.blockNorms = BlockNorms::Sandwich;
        c.attnSoftcap = r.number("attn_logit_softcapping", 0.0);
        c.finalSoftcap = r.number("final_logit_softcapping", 0.0);
        c.queryPreAttnScalar = r.number("query_pre_attn_scalar", 0.0);
        if (c.attnSoftcap < 0 || c.finalSoftcap < 0 || c.queryPreAttnScalar < 0)
            r.fail("soft-caps and query_pre_attn_scalar must not be negative");
    }
    if (c.family == Family::Gemma3) {
        c.qkNorm = QkNorm::PerHead;
        c.rotaryBaseLocal = r.number("rope_local_base_freq", 10000.0);
    }
    if (c.family == Family::Qwen2) {
        c.attnBias = true;  // Qwen2Attention: q/k/v projections always carry a bias, o_proj never
        c.attnOutBias = false;
    }
    if (c.family == Family::Qwen3) c.qkNorm = QkNorm::PerHead;
    if (c.family == Family::Olmo2) {
        c.blockNorms = BlockNorms::PostOnly;
        c.qkNorm = QkNorm::FullWidth;
    }
    // Families whose tokenizer prepends nothing: no BOS, whatever config.json names.
    if (c.family == Family::Qwen2 || c.family == Family::Qwen3 || c.family == Family::Olmo2) c.bosTokenId.reset();
    parseSlidingWindow(j, r, c);
}

void parseLlamaLike(const json& j, const Reader& r, ModelConfig& c) {
    c.nLayers = r.positiveInt("num_hidden_layers");
    c.dModel = r.positiveInt("hidden_size");
    c.nHeads = r.positiveInt("num_attention_heads");
    c.nKvHeads = r.positiveIntOr("num_key_value_heads", c.nHeads);
    c.dMlp = r.positiveInt("intermediate_size");
    c.dVocab = r.positiveInt("vocab_size");
    c.nCtx = r.positiveInt("max_position_embeddings");
    c.normEps = r.number("rms_norm_eps", 1e-6);
    c.act = parseActivation(r, r.string("hidden_act", "silu"), "hidden_act");
    c.norm = NormKind::RmsNorm;
    c.mlp = MlpKind::Gated;
    c.positional = PositionalKind::Rotary;
    c.tiedEmbeddings = r.boolean("tie_word_embeddings", false);
    c.attnBias = c.attnOutBias = r.boolean("attention_bias", false);
    c.mlpBias = r.boolean("mlp_bias", false);
    c.rotaryBase = r.number("rope_theta", 10000.0);
    parseRopeScaling(j, r, c);
    if (c.nHeads % c.nKvHeads != 0) r.fail("num_attention_heads is not a multiple of num_key_value_heads");
    if (r.number("pretraining_tp", 1.0) != 1.0) r.fail("unsupported option pretraining_tp != 1");
    if (!r.has("head_dim") && c.dModel % c.nHeads != 0) r.fail("hidden_size is not a multiple of num_attention_heads");
    c.dHead = r.positiveIntOr("head_dim", c.dModel / c.nHeads);
    const double partial = r.number("partial_rotary_factor", 1.0);
    if (!(partial > 0 && partial <= 1)) r.fail("field 'partial_rotary_factor' must be in (0, 1]");
    c.rotaryDim = static_cast<int>(c.dHead * partial);
    parseFamilyPieces(j, r, c);
}

const std::map<std::string, Family>& llamaLayoutTypes() {
    static const std::map<std::string, Family> types = {
        {"llama", Family::Llama},        {"mistral", Family::Mistral}, {"qwen2", Family::Qwen2},
        {"qwen3", Family::Qwen3},        {"gemma", Family::Gemma},     {"gemma2", Family::Gemma2},
        {"gemma3_text", Family::Gemma3}, {"olmo2", Family::Olmo2},     {"phi3", Family::Phi3}};
    return types;
}

}  // namespace

ModelConfig ModelConfig::fromJsonText(const std::string& text, const std::string& source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error("model config " + source + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw Error("model config " + source + ": not a JSON object");
    Reader r(j, source);

    ModelConfig c;
    c.modelType = r.string("model_type", "");
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
        j["architectures"][0].is_string())
        c.architecture = j["architectures"][0].get<std::string>();
    c.bosTokenId = c.configBosTokenId = r.optionalTokenId("bos_token_id");
    c.eosTokenId = r.optionalTokenId("eos_token_id");
    c.torchDtype = r.string("torch_dtype", r.string("dtype", ""));
    if (c.modelType.empty()) r.fail("missing field 'model_type'");
    refuseUnsupported(j, r, c.modelType);

    const auto& llamaTypes = llamaLayoutTypes();
    if (c.modelType == "gpt2") {
        parseGpt2(r, c);
    } else if (c.modelType == "gpt_neox") {
        parseNeoX(r, c);
    } else if (llamaTypes.count(c.modelType)) {
        c.family = llamaTypes.at(c.modelType);
        parseLlamaLike(j, r, c);
    } else {
        r.fail("unsupported model_type '" + c.modelType +
               "' (supported: gpt2, gpt_neox, llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, olmo2, phi3)");
    }
    validateSizes(r, c);
    if (c.rotaryDim % 2 != 0) r.fail("rotary dimension " + std::to_string(c.rotaryDim) + " is odd");
    if (!(c.normEps > 0)) r.fail("normalisation epsilon must be positive");
    return c;
}

ModelConfig ModelConfig::fromFile(const QString& path) {
    const QByteArray bytes = io::readFile(path);
    return fromJsonText(bytes.toStdString(), path.toStdString());
}

std::string ModelConfig::summary() const {
    std::ostringstream s;
    s << familyName(family) << ", " << nLayers << " layers, d_model " << dModel << ", " << nHeads << " heads";
    if (nKvHeads != nHeads) s << " (" << nKvHeads << " key/value)";
    s << " of " << dHead << ", d_mlp " << dMlp << ", vocab " << dVocab << ", context " << nCtx;
    return s.str();
}

double ModelConfig::attnScale() const { return 1.0 / std::sqrt(queryPreAttnScalar > 0 ? queryPreAttnScalar : double(dHead)); }

std::string ModelConfig::featureSummary() const {
    std::vector<std::string> parts;
    auto num = [](double v) {
        std::ostringstream s;
        s << v;
        return s.str();
    };
    if (positional == PositionalKind::Rotary) {
        std::string rope = "rotary theta " + num(rotaryBase);
        if (rotaryDim != dHead) rope += " on " + std::to_string(rotaryDim) + " of " + std::to_string(dHead) + " dims";
        if (rotaryBaseLocal > 0) rope += " (local layers " + num(rotaryBaseLocal) + ")";
        if (ropeScaling == RopeScaling::Linear) rope += ", linear scaling x" + num(ropeFactor);
        if (ropeScaling == RopeScaling::Llama3) rope += ", llama3 scaling x" + num(ropeFactor);
        parts.push_back(rope);
    }
    if (nKvHeads != nHeads) parts.push_back("grouped-query attention " + std::to_string(nHeads) + "/" + std::to_string(nKvHeads));
    if (!localLayers.empty()) {
        const auto n = std::count(localLayers.begin(), localLayers.end(), true);
        parts.push_back("sliding window " + std::to_string(slidingWindow) + " on " + std::to_string(n) + "/" +
                        std::to_string(nLayers) + " layers");
    }
    if (norm == NormKind::RmsNorm && attnBias) parts.push_back(attnOutBias ? "q/k/v/o biases" : "q/k/v biases");
    if (qkNorm != QkNorm::None) parts.push_back(qkNorm == QkNorm::PerHead ? "QK-norm per head" : "QK-norm over the full width");
    if (normPlusOne) parts.push_back("RMSNorm gain 1+w");
    if (embedScale != 1.0) parts.push_back("embedding x" + num(embedScale));
    if (blockNorms == BlockNorms::Sandwich) parts.push_back("sandwich norms (pre + post)");
    if (blockNorms == BlockNorms::PostOnly) parts.push_back("post-norm only blocks");
    if (attnSoftcap > 0) parts.push_back("attention soft-cap " + num(attnSoftcap));
    if (finalSoftcap > 0) parts.push_back("final logit soft-cap " + num(finalSoftcap));
    if (queryPreAttnScalar > 0) parts.push_back("query_pre_attn_scalar " + num(queryPreAttnScalar));
    parts.push_back(std::string("activation ") + activationName(act));
    parts.push_back(tiedEmbeddings ? "tied embeddings" : "untied embeddings");
    parts.push_back(bosTokenId ? "BOS " + std::to_string(*bosTokenId) : std::string("no BOS"));
    std::string out;
    for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

}  // namespace headlight
