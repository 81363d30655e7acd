#include "core/model/weights.h"

#include <cstring>
#include <set>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/base/error.h"
#include "core/model/checkpoint.h"

namespace headlight {

namespace {

std::string shapeString(at::IntArrayRef shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string layerName(int l, const char* rest) { return "blocks." + std::to_string(l) + "." + rest; }

bool isBuffer(const std::string& name) {
    for (const char* suffix : {".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias",
                               ".rotary_emb.inv_freq"}) {
        const std::string s(suffix);
        if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}

// Hands out a checkpoint's tensors by Hugging Face name, checking shapes, and remembers which were used.
class Source {
public:
    explicit Source(const Checkpoint& ck) : ck_(ck) {}

    bool has(const std::string& name) const { return ck_.find(name) != nullptr; }

    at::Tensor take(const std::string& name, std::vector<int64_t> shape) {
        const io::TensorView* v = ck_.find(name);
        if (!v)
            throw Error(where() + ": missing tensor '" + name + "' (a " + ck_.config().modelType +
                        " checkpoint of this config needs it)");
        if (v->shape != shape)
            throw Error(where() + ": tensor '" + name + "' has shape " + v->shapeString() + ", expected " +
                        shapeString(shape) + " for " + ck_.config().summary());
        used_.insert(name);
        return tensorFromView(*v);
    }
    void ignore(const std::string& name) { used_.insert(name); }

    // Every tensor must have been used or be a known buffer: a leftover one means a misnamed tensor.
    void checkAllUsed() const {
        for (const std::string& name : ck_.tensorNames())
            if (!used_.count(name) && !isBuffer(name))
                throw Error(where() + ": unexpected tensor '" + name + "' (misnamed, or not part of " +
                            ck_.config().summary() + ")");
    }
    std::string where() const { return "checkpoint " + ck_.dir().toStdString(); }

private:
    const Checkpoint& ck_;
    std::set<std::string> used_;
};

void loadGpt2(Source& src, const ModelConfig& c, StateDict& w) {
    const int64_t d = c.dModel, H = c.nHeads, dh = c.dHead, m = c.dMlp;
    // Checkpoints saved from GPT2LMHeadModel carry the "transformer." prefix; the hub's gpt2 files do not.
    const std::string p = src.has("transformer.wte.weight") ? "transformer." : "";
    w["embed.W_E"] = src.take(p + "wte.weight", {c.dVocab, d});
    w["pos_embed.W_pos"] = src.take(p + "wpe.weight", {c.nCtx, d});
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string h = p + "h." + std::to_string(l) + ".";
        w[layerName(l, "ln1.w")] = src.take(h + "ln_1.weight", {d});
        w[layerName(l, "ln1.b")] = src.take(h + "ln_1.bias", {d});
        const at::Tensor qkv = src.take(h + "attn.c_attn.weight", {d, 3 * d});  // Conv1D [in, out]: q | k | v
        const at::Tensor qkvBias = src.take(h + "attn.c_attn.bias", {3 * d});
        const char* names[3][2] = {{"attn.W_Q", "attn.b_Q"}, {"attn.W_K", "attn.b_K"}, {"attn.W_V", "attn.b_V"}};
        for (int j = 0; j < 3; ++j) {
            w[layerName(l, names[j][0])] = qkv.narrow(1, j * d, d).reshape({d, H, dh}).permute({1, 0, 2}).contiguous();
            w[layerName(l, names[j][1])] = qkvBias.narrow(0, j * d, d).reshape({H, dh}).contiguous();
        }
        w[layerName(l, "attn.W_O")] = src.take(h + "attn.c_proj.weight", {d, d}).reshape({H, dh, d});
        w[layerName(l, "attn.b_O")] = src.take(h + "attn.c_proj.bias", {d});
        w[layerName(l, "ln2.w")] = src.take(h + "ln_2.weight", {d});
        w[layerName(l, "ln2.b")] = src.take(h + "ln_2.bias", {d});
        w[layerName(l, "mlp.W_in")] = src.take(h + "mlp.c_fc.weight", {d, m});
        w[layerName(l, "mlp.b_in")] = src.take(h + "mlp.c_fc.bias", {m});
        w[layerName(l, "mlp.W_out")] = src.take(h + "mlp.c_proj.weight", {m, d});
        w[layerName(l, "mlp.b_out")] = src.take(h + "mlp.c_proj.bias", {d});
    }
    w["ln_final.w"] = src.take(p + "ln_f.weight", {d});
    w["ln_final.b"] = src.take(p + "ln_f.bias", {d});
    if (c.tiedEmbeddings) {
        src.ignore("lm_head.weight");  // some exports store the tied copy too
        w["unembed.W_U"] = w["embed.W_E"].t();
    } else {
        w["unembed.W_U"] = src.take("lm_head.weight", {c.dVocab, d}).t().contiguous();
    }
}

void loadNeoX(Source& src, const ModelConfig& c, StateDict& w) {
    const int64_t d = c.dModel, H = c.nHeads, dh = c.dHead, m = c.dMlp;
    const std::string p = "gpt_neox.";
    w["embed.W_E"] = src.take(p + "embed_in.weight", {c.dVocab, d});
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string h = p + "layers." + std::to_string(l) + ".";
        w[layerName(l, "ln1.w")] = src.take(h + "input_layernorm.weight", {d});
        w[layerName(l, "ln1.b")] = src.take(h + "input_layernorm.bias", {d});
        // nn.Linear [out, in]; the out rows are grouped per head: [head][q | k | v][d_head].
        const at::Tensor qkv = src.take(h + "attention.query_key_value.weight", {3 * H * dh, d}).view({H, 3, dh, d});
        const char* names[3][2] = {{"attn.W_Q", "attn.b_Q"}, {"attn.W_K", "attn.b_K"}, {"attn.W_V", "attn.b_V"}};
        at::Tensor qkvBias;
        if (c.attnBias) qkvBias = src.take(h + "attention.query_key_value.bias", {3 * H * dh}).view({H, 3, dh});
        for (int j = 0; j < 3; ++j) {
            w[layerName(l, names[j][0])] = qkv.select(1, j).permute({0, 2, 1}).contiguous();  // [H, d, dh]
            w[layerName(l, names[j][1])] = c.attnBias ? qkvBias.select(1, j).contiguous() : at::zeros({H, dh});
        }
        w[layerName(l, "attn.W_O")] = src.take(h + "attention.dense.weight", {d, H * dh}).t().reshape({H, dh, d}).contiguous();
        w[layerName(l, "attn.b_O")] = c.attnBias ? src.take(h + "attention.dense.bias", {d}) : at::zeros({d});
        w[layerName(l, "ln2.w")] = src.take(h + "post_attention_layernorm.weight", {d});
        w[layerName(l, "ln2.b")] = src.take(h + "post_attention_layernorm.bias", {d});
        w[layerName(l, "mlp.W_in")] = src.take(h + "mlp.dense_h_to_4h.weight", {m, d}).t().contiguous();
        w[layerName(l, "mlp.b_in")] = src.take(h + "mlp.dense_h_to_4h.bias", {m});
        w[layerName(l, "mlp.W_out")] = src.take(h + "mlp.dense_4h_to_h.weight", {d, m}).t().contiguous();
        w[layerName(l, "mlp.b_out")] = src.take(h + "mlp.dense_4h_to_h.bias", {d});
    }
    w["ln_final.w"] = src.take(p + "final_layer_norm.weight", {d});
    w["ln_final.b"] = src.take(p + "final_layer_norm.bias", {d});
    if (c.tiedEmbeddings) {
        src.ignore("embed_out.weight");
        w["unembed.W_U"] = w["embed.W_E"].t();
    } else {
        w["unembed.W_U"] = src.take("embed_out.weight", {c.dVocab, d}).t().contiguous();
    }
}

// A norm gain as the forward pass applies it: Gemma stores w and multiplies by 1 + w (TL loads 1 + w).
at::Tensor gain(Source& src, const ModelConfig& c, const std::string& name, int64_t n) {
    const at::Tensor w = src.take(name, {n});
    return c.normPlusOne ? w + 1.0 : w;
}

// The attention of one Llama-layout layer: q/k/v (separate, or fused qkv_proj rows [q | k | v]), o_proj,
// optional biases and QK-norm. nn.Linear [out, in] with out = head * d_head + i.
void loadLlamaAttention(Source& src, const ModelConfig& c, const std::string& h, int l, StateDict& w) {
    const int64_t d = c.dModel, H = c.nHeads, Hkv = c.nKvHeads, dh = c.dHead;
    const std::string a = h + "self_attn.";
    auto heads = [&](const at::Tensor& rows, int64_t n) { return rows.view({n, dh, d}).permute({0, 2, 1}).contiguous(); };
    at::Tensor q, k, v;
    if (src.has(a + "qkv_proj.weight")) {  // Phi-3
        const at::Tensor qkv = src.take(a + "qkv_proj.weight", {(H + 2 * Hkv) * dh, d});
        q = qkv.narrow(0, 0, H * dh), k = qkv.narrow(0, H * dh, Hkv * dh), v = qkv.narrow(0, (H + Hkv) * dh, Hkv * dh);
    } else {
        q = src.take(a + "q_proj.weight", {H * dh, d});
        k = src.take(a + "k_proj.weight", {Hkv * dh, d});
        v = src.take(a + "v_proj.weight", {Hkv * dh, d});
    }
    w[layerName(l, "attn.W_Q")] = heads(q, H);
    w[layerName(l, "attn.W_K")] = heads(k, Hkv);
    w[layerName(l, "attn.W_V")] = heads(v, Hkv);
    auto bias = [&](const char* name, int64_t n) {
        return c.attnBias ? src.take(a + name + ".bias", {n * dh}).view({n, dh}) : at::zeros({n, dh});
    };
    w[layerName(l, "attn.b_Q")] = bias("q_proj", H);
    w[layerName(l, "attn.b_K")] = bias("k_proj", Hkv);
    w[layerName(l, "attn.b_V")] = bias("v_proj", Hkv);
    w[layerName(l, "attn.W_O")] = src.take(a + "o_proj.weight", {d, H * dh}).t().reshape({H, dh, d}).contiguous();
    w[layerName(l, "attn.b_O")] = c.attnOutBias ? src.take(a + "o_proj.bias", {d}) : at::zeros({d});
    if (c.qkNorm != QkNorm::None) {
        const bool full = c.qkNorm == QkNorm::FullWidth;
        w[layerName(l, "attn.q_norm.w")] = gain(src, c, a + "q_norm.weight", full ? H * dh : dh);
        w[layerName(l, "attn.k_norm.w")] = gain(src, c, a + "k_norm.weight", full ? Hkv * dh : dh);
    }
}

// The MLP: gate_proj / up_proj, or fused gate_up_proj rows [gate | up] (Phi-3); down_proj.
void loadLlamaMlp(Source& src, const ModelConfig& c, const std::string& h, int l, StateDict& w) {
    const int64_t d = c.dModel, m = c.dMlp;
    if (src.has(h + "mlp.gate_up_proj.weight")) {
        const at::Tensor gateUp = src.take(h + "mlp.gate_up_proj.weight", {2 * m, d});
        w[layerName(l, "mlp.W_gate")] = gateUp.narrow(0, 0, m).t().contiguous();
        w[layerName(l, "mlp.W_in")] = gateUp.narrow(0, m, m).t().contiguous();
    } else {
        w[layerName(l, "mlp.W_gate")] = src.take(h + "mlp.gate_proj.weight", {m, d}).t().contiguous();
        w[layerName(l, "mlp.W_in")] = src.take(h + "mlp.up_proj.weight", {m, d}).t().contiguous();
    }
    w[layerName(l, "mlp.W_out")] = src.take(h + "mlp.down_proj.weight", {d, m}).t().contiguous();
    w[layerName(l, "mlp.b_in")] = at::zeros({m});
    w[layerName(l, "mlp.b_out")] = at::zeros({d});
}

// Llama and the families sharing its layout. The block norms by HF name:
//   Pre (Llama, Mistral, Qwen, Gemma 1, Phi-3): input_layernorm -> ln1, post_attention_layernorm -> ln2
//   Sandwich (Gemma 2/3): input_layernorm -> ln1, post_attention_layernorm -> ln1_post (on the attention
//     output), pre_feedforward_layernorm -> ln2, post_feedforward_layernorm -> ln2_post
//   PostOnly (OLMo 2): post_attention_layernorm -> ln1_post, post_feedforward_layernorm -> ln2_post
void loadLlama(Source& src, const ModelConfig& c, StateDict& w) {
    const int64_t d = c.dModel;
    const std::string p = "model.";
    w["embed.W_E"] = src.take(p + "embed_tokens.weight", {c.dVocab, d});
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string h = p + "layers." + std::to_string(l) + ".";
        switch (c.blockNorms) {
        case BlockNorms::Pre:
            w[layerName(l, "ln1.w")] = gain(src, c, h + "input_layernorm.weight", d);
            w[layerName(l, "ln2.w")] = gain(src, c, h + "post_attention_layernorm.weight", d);
            break;
        case BlockNorms::Sandwich:
            w[layerName(l, "ln1.w")] = gain(src, c, h + "input_layernorm.weight", d);
            w[layerName(l, "ln1_post.w")] = gain(src, c, h + "post_attention_layernorm.weight", d);
            w[layerName(l, "ln2.w")] = gain(src, c, h + "pre_feedforward_layernorm.weight", d);
            w[layerName(l, "ln2_post.w")] = gain(src, c, h + "post_feedforward_layernorm.weight", d);
            break;
        case BlockNorms::PostOnly:
            w[layerName(l, "ln1_post.w")] = gain(src, c, h + "post_attention_layernorm.weight", d);
            w[layerName(l, "ln2_post.w")] = gain(src, c, h + "post_feedforward_layernorm.weight", d);
            break;
        }
        loadLlamaAttention(src, c, h, l, w);
        loadLlamaMlp(src, c, h, l, w);
    }
    w["ln_final.w"] = gain(src, c, p + "norm.weight", d);
    if (c.tiedEmbeddings) {
        src.ignore("lm_head.weight");
        w["unembed.W_U"] = w["embed.W_E"].t();
    } else {
        w["unembed.W_U"] = src.take("lm_head.weight", {c.dVocab, d}).t().contiguous();
    }
}

void checkSupported(const ModelConfig& c, const std::string& source) {
    auto fail = [&](const std::string& what) { throw Error(source + ": " + what); };
    if (c.nLayers <= 0 || c.dModel <= 0 || c.nHeads <= 0 || c.dHead <= 0 || c.dMlp <= 0 || c.dVocab <= 0 || c.nCtx <= 0)
        fail("model sizes must be positive (" + c.summary() + ")");
    if (c.nKvHeads <= 0 || c.nHeads % c.nKvHeads != 0)
        fail("num_attention_heads " + std::to_string(c.nHeads) + " is not a multiple of the key/value heads " +
             std::to_string(c.nKvHeads));
    if (c.positional == PositionalKind::Rotary && (c.rotaryDim <= 0 || c.rotaryDim > c.dHead || c.rotaryDim % 2))
        fail("rotary dimension " + std::to_string(c.rotaryDim) + " must be even and in 1.." + std::to_string(c.dHead));
    if (c.mlp == MlpKind::Gated && c.mlpBias) fail("unsupported option: gated MLP with biases (mlp_bias = true)");
    if (c.mlp == MlpKind::Gated && c.norm == NormKind::LayerNorm)
        fail("unsupported combination: gated MLP with LayerNorm");
}

}  // namespace

at::Tensor tensorFromView(const io::TensorView& v) {
    at::ScalarType type;
    switch (v.dtype) {
    case io::DType::F32: type = at::kFloat; break;
    case io::DType::F16: type = at::kHalf; break;
    case io::DType::BF16: type = at::kBFloat16; break;
    case io::DType::F64: type = at::kDouble; break;
    default:
        throw Error("tensor '" + v.name + "' has dtype " + io::dtypeName(v.dtype) + "; weights must be F32, F16, BF16 or F64");
    }
    const std::size_t align = at::elementSize(type);
    if (type != at::kFloat && v.nbytes && reinterpret_cast<std::uintptr_t>(v.data) % align == 0)  // widen straight from the mapping
        return at::from_blob(const_cast<void*>(static_cast<const void*>(v.data)), v.shape, at::TensorOptions().dtype(type))
            .to(at::kFloat);
    at::Tensor t = at::empty(v.shape, at::TensorOptions().dtype(type));
    if (v.nbytes) std::memcpy(t.data_ptr(), v.data, v.nbytes);  // the mapped data may be unaligned
    return type == at::kFloat ? t : t.to(at::kFloat);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> expectedWeightShapes(const ModelConfig& c, bool normsFolded) {
    const int64_t d = c.dModel, H = c.nHeads, Hkv = c.nKvHeads, dh = c.dHead, m = c.dMlp, V = c.dVocab;
    const bool ln = c.norm == NormKind::LayerNorm;
    std::vector<std::pair<std::string, std::vector<int64_t>>> s;
    s.push_back({"embed.W_E", {V, d}});
    if (c.positional == PositionalKind::Learned) s.push_back({"pos_embed.W_pos", {c.nCtx, d}});
    for (int l = 0; l < c.nLayers; ++l) {
        if (!normsFolded && c.hasPreNorms()) {
            s.push_back({layerName(l, "ln1.w"), {d}});
            if (ln) s.push_back({layerName(l, "ln1.b"), {d}});
        }
        if (c.hasPostNorms()) {  // never folded: they normalise a block's output, not a reader's input
            s.push_back({layerName(l, "ln1_post.w"), {d}});
            s.push_back({layerName(l, "ln2_post.w"), {d}});
        }
        if (c.qkNorm != QkNorm::None) {
            const bool full = c.qkNorm == QkNorm::FullWidth;
            s.push_back({layerName(l, "attn.q_norm.w"), {full ? H * dh : dh}});
            s.push_back({layerName(l, "attn.k_norm.w"), {full ? Hkv * dh : dh}});
        }
        s.push_back({layerName(l, "attn.W_Q"), {H, d, dh}});
        s.push_back({layerName(l, "attn.W_K"), {Hkv, d, dh}});
        s.push_back({layerName(l, "attn.W_V"), {Hkv, d, dh}});
        s.push_back({layerName(l, "attn.W_O"), {H, dh, d}});
        s.push_back({layerName(l, "attn.b_Q"), {H, dh}});
        s.push_back({layerName(l, "attn.b_K"), {Hkv, dh}});
        s.push_back({layerName(l, "attn.b_V"), {Hkv, dh}});
        s.push_back({layerName(l, "attn.b_O"), {d}});
        if (!normsFolded && c.hasPreNorms()) {
            s.push_back({layerName(l, "ln2.w"), {d}});
            if (ln) s.push_back({layerName(l, "ln2.b"), {d}});
        }
        s.push_back({layerName(l, "mlp.W_in"), {d, m}});
        s.push_back({layerName(l, "mlp.b_in"), {m}});
        if (c.mlp == MlpKind::Gated) s.push_back({layerName(l, "mlp.W_gate"), {d, m}});
        s.push_back({layerName(l, "mlp.W_out"), {m, d}});
        s.push_back({layerName(l, "mlp.b_out"), {d}});
    }
    if (!normsFolded) {
        s.push_back({"ln_final.w", {d}});
        if (ln) s.push_back({"ln_final.b", {d}});
    }
    s.push_back({"unembed.W_U", {d, V}});
    s.push_back({"unembed.b_U", {V}});
    return s;
}

void validateWeights(const ModelConfig& config, const StateDict& weights, const std::string& source) {
    checkSupported(config, source);
    const auto expected = expectedWeightShapes(config, false);
    std::set<std::string> names;
    for (const auto& [name, shape] : expected) {
        names.insert(name);
        auto it = weights.find(name);
        if (it == weights.end() || !it->second.defined()) throw Error(source + ": missing weight '" + name + "'");
        const at::Tensor& t = it->second;
        if (!at::isFloatingType(t.scalar_type()))
            throw Error(source + ": weight '" + name + "' is not a floating-point tensor");
        if (t.sizes() != at::IntArrayRef(shape))
            throw Error(source + ": weight '" + name + "' has shape " + shapeString(t.sizes()) + ", expected " +
                        shapeString(shape) + " for " + config.summary());
    }
    for (const auto& [name, t] : weights)
        if (!names.count(name)) throw Error(source + ": unexpected weight '" + name + "' for " + config.summary());
}

StateDict loadWeights(const Checkpoint& checkpoint) { return loadWeights(checkpoint, checkpoint.config()); }

StateDict loadWeights(const Checkpoint& checkpoint, const ModelConfig& c) {
    Source src(checkpoint);
    checkSupported(c, src.where());
    StateDict w;
    switch (c.family) {
    case Family::Gpt2: loadGpt2(src, c, w); break;
    case Family::GptNeoX: loadNeoX(src, c, w); break;
    default: loadLlama(src, c, w); break;
    }
    w["unembed.b_U"] = at::zeros({c.dVocab});
    src.checkAllUsed();
    return w;
}

WeightProcessing processWeights(StateDict& w, const ModelConfig& c, const WeightProcessing& requested) {
    WeightProcessing applied = requested;
    const bool ln = c.norm == NormKind::LayerNorm;
    // TL v1.14: RMSNorm models fold only the gains, and their writing weights are never centred.
    if (!ln) applied.centerWritingWeights = false;
    // A soft-capped output is not invariant to a constant added to the logits: TL turns center_unembed off.
    if (c.finalSoftcap > 0) applied.centerUnembed = false;
    auto W = [&w](const std::string& name) -> at::Tensor& {
        auto it = w.find(name);
        if (it == w.end()) throw Error("internal: weight " + name + " missing during processing");
        return it->second;
    };
    auto centreRows = [](const at::Tensor& t, int64_t dim) { return t - t.mean(dim, /*keepdim=*/true); };

    if (applied.foldLn) {
        // Post norms (ln1_post, ln2_post) and QK-norms stay: what they normalise is not a weight's input.
        for (int l = 0; l < c.nLayers && c.hasPreNorms(); ++l) {
            // ln1 -> W_Q, W_K, W_V (and their biases); ln2 -> W_in (and W_gate).
            const at::Tensor g1 = W(layerName(l, "ln1.w"));
            for (const char* m : {"Q", "K", "V"}) {
                at::Tensor& Wm = W(layerName(l, (std::string("attn.W_") + m).c_str()));  // [n, d, dh]
                at::Tensor& bm = W(layerName(l, (std::string("attn.b_") + m).c_str()));  // [n, dh]
                if (ln) bm = bm + (Wm * W(layerName(l, "ln1.b")).view({1, -1, 1})).sum(-2);
                Wm = Wm * g1.view({1, -1, 1});
                if (ln) Wm = centreRows(Wm, -2);
            }
            const at::Tensor g2 = W(layerName(l, "ln2.w"));
            at::Tensor& Win = W(layerName(l, "mlp.W_in"));  // [d, m]
            if (ln) W(layerName(l, "mlp.b_in")) = W(layerName(l, "mlp.b_in")) + (Win * W(layerName(l, "ln2.b")).view({-1, 1})).sum(-2);
            Win = Win * g2.view({-1, 1});
            if (c.mlp == MlpKind::Gated) W(layerName(l, "mlp.W_gate")) = W(layerName(l, "mlp.W_gate")) * g2.view({-1, 1});
            if (ln) Win = centreRows(Win, -2);
            for (const char* n : {"ln1.w", "ln1.b", "ln2.w", "ln2.b"}) w.erase(layerName(l, n));
        }
        at::Tensor& WU = W("unembed.W_U");  // [d, V]
        if (ln) W("unembed.b_U") = W("unembed.b_U") + (WU * W("ln_final.b").view({-1, 1})).sum(-2);
        WU = WU * W("ln_final.w").view({-1, 1});
        if (ln) WU = centreRows(WU, -2);
        w.erase("ln_final.w");
        w.erase("ln_final.b");
    }
    if (applied.centerWritingWeights) {
        W("embed.W_E") = centreRows(W("embed.W_E"), -1);
        if (c.positional == PositionalKind::Learned) W("pos_embed.W_pos") = centreRows(W("pos_embed.W_pos"), -1);
        for (int l = 0; l < c.nLayers; ++l) {
            W(layerName(l, "attn.W_O")) = centreRows(W(layerName(l, "attn.W_O")), -1);
            W(layerName(l, "attn.b_O")) = centreRows(W(layerName(l, "attn.b_O")), -1);
            W(layerName(l, "mlp.W_out")) = centreRows(W(layerName(l, "mlp.W_out")), -1);
            W(layerName(l, "mlp.b_out")) = centreRows(W(layerName(l, "mlp.b_out")), -1);
        }
    }
    if (applied.centerUnembed) {
        W("unembed.W_U") = centreRows(W("unembed.W_U"), -1);
        W("unembed.b_U") = centreRows(W("unembed.b_U"), -1);
    }
    if (applied.foldValueBiases) {
        const int64_t group = c.nHeads / c.nKvHeads;
        for (int l = 0; l < c.nLayers; ++l) {
            at::Tensor& bV = W(layerName(l, "attn.b_V"));                       // [Hkv, dh]
            const at::Tensor bVPerHead = bV.repeat_interleave(group, 0);        // [H, dh]: head j uses kv head j / group
            const at::Tensor& WO = W(layerName(l, "attn.W_O"));                 // [H, dh, d]
            W(layerName(l, "attn.b_O")) = W(layerName(l, "attn.b_O")) + (bVPerHead.unsqueeze(-1) * WO).sum(at::IntArrayRef{0, 1});
            bV = at::zeros_like(bV);
        }
    }
    return applied;
}

StateDict randomWeights(const ModelConfig& config, uint64_t seed, double std) {
    checkSupported(config, "random weights");
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    StateDict w;
    for (const auto& [name, shape] : expectedWeightShapes(config, false)) {
        const std::string leaf = name.substr(name.rfind('.') + 1);
        if (leaf == "w") w[name] = at::ones(shape);                                  // norm gains
        else if (leaf[0] == 'b') w[name] = at::zeros(shape);                         // biases
        else w[name] = at::normal(0.0, std, shape, gen);                             // matrices
    }
    return w;
}

}  // namespace headlight
