#include "core/model/config.h"

#include <algorithm>
#include <cmath>
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
    c.bosTokenId = r.optionalTokenId("bos_token_id");
    c.eosTokenId = r.optionalTokenId("eos_token_id");
    c.torchDtype = r.string("torch_dtype", r.string("dtype", ""));
    if (c.modelType.empty()) r.fail("missing field 'model_type'");

    if (c.modelType == "gpt2") {
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
        c.norm = NormKind::LayerNorm;
        c.mlp = MlpKind::Standard;
        c.positional = PositionalKind::Learned;
        c.parallelResidual = false;
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", true);
        if (r.boolean("scale_attn_by_inverse_layer_idx", false))
            r.fail("unsupported option scale_attn_by_inverse_layer_idx = true");
        if (!r.boolean("scale_attn_weights", true)) r.fail("unsupported option scale_attn_weights = false");
        if (r.boolean("add_cross_attention", false)) r.fail("unsupported option add_cross_attention = true");
    } else if (c.modelType == "gpt_neox") {
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
        c.norm = NormKind::LayerNorm;
        c.mlp = MlpKind::Standard;
        c.positional = PositionalKind::Rotary;
        c.parallelResidual = r.boolean("use_parallel_residual", true);
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", false);
        c.attnBias = r.boolean("attention_bias", true);
        const double pct = r.number("rotary_pct", 0.25);
        if (pct <= 0 || pct > 1) r.fail("field 'rotary_pct' must be in (0, 1]");
        c.rotaryBase = r.number("rotary_emb_base", 10000.0);
        if (r.has("rope_scaling")) r.fail("unsupported option rope_scaling (only null is supported)");
        if (c.dModel % c.nHeads != 0) r.fail("hidden_size is not a multiple of num_attention_heads");
        c.dHead = c.dModel / c.nHeads;
        c.rotaryDim = static_cast<int>(c.dHead * pct);  // HF: int(head_size * rotary_pct)
    } else if (c.modelType == "llama") {
        c.family = Family::Llama;
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
        c.parallelResidual = false;
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", false);
        c.attnBias = r.boolean("attention_bias", false);
        c.mlpBias = r.boolean("mlp_bias", false);
        c.rotaryBase = r.number("rope_theta", 10000.0);
        if (r.has("rope_scaling")) r.fail("unsupported option rope_scaling (only null is supported)");
        if (c.nHeads % c.nKvHeads != 0) r.fail("num_attention_heads is not a multiple of num_key_value_heads");
        if (r.number("pretraining_tp", 1.0) != 1.0) r.fail("unsupported option pretraining_tp != 1");
        c.dHead = r.positiveIntOr("head_dim", c.dModel / c.nHeads);
        c.rotaryDim = c.dHead;
    } else {
        r.fail("unsupported model_type '" + c.modelType + "' (supported: gpt2, gpt_neox, llama)");
    }
    if (c.family == Family::Gpt2) {
        if (c.dModel % c.nHeads != 0) r.fail("n_embd is not a multiple of n_head");
        c.dHead = c.dModel / c.nHeads;
    }
    if (c.family == Family::GptNeoX) {
        c.mlpBias = true;
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

}  // namespace headlight
