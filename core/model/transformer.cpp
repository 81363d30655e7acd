// The hooked forward pass. Shapes: B batch rows, T positions, N = B*T, d d_model, H heads,
// Hkv key/value heads, G = H/Hkv query heads per key/value head, dh d_head, m d_mlp, V vocab.
#include "core/model/transformer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/versions.h"
#include "core/model/checkpoint.h"

namespace headlight {

namespace {

std::string layerName(int l, const char* rest) { return "blocks." + std::to_string(l) + "." + rest; }

// ---- weights in the layout the forward pass uses ---------------------------------------------------

struct LayerParams {
    at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;  // undefined when folded (LNPre / RMSPre) or absent (RMSNorm bias)
    at::Tensor W_qkv, b_qkv;                // [d, (H + 2 Hkv) dh], [(H + 2 Hkv) dh]: q heads | k heads | v heads
    at::Tensor W_O, b_O;                    // [H dh, d], [d]
    at::Tensor W_mlpIn, b_mlpIn;            // [d, m], [m]; gated MLPs: [d, 2m] = gate | up
    at::Tensor W_out, b_out;                // [m, d], [d]
    at::Tensor ln1post_w, ln2post_w;        // [d] norms of the attention / MLP output (undefined: none)
    at::Tensor qnorm_w, knorm_w;            // QK-norm gains [dh] or [H dh] / [Hkv dh] (undefined: none)
};

struct Params {
    at::Tensor W_E, W_pos;          // [V, d], [n_ctx, d] (learned positions only)
    std::vector<LayerParams> layers;
    at::Tensor lnf_w, lnf_b;        // [d] (undefined when folded)
    at::Tensor W_U, b_U;            // [d, V], [V]
    at::Tensor invFreq;             // [rotaryDim / 2] float64 CPU RoPE frequencies (rotary only)
    at::Tensor invFreqLocal;        // the same for sliding-window layers with their own base (else undefined)

    Params to(at::ScalarType type) const { return to(at::TensorOptions().dtype(type)); }
    Params to(const at::TensorOptions& options) const {
        auto cv = [&options](const at::Tensor& t) { return t.defined() ? t.to(options) : t; };
        Params p;
        p.W_E = cv(W_E), p.W_pos = cv(W_pos), p.lnf_w = cv(lnf_w), p.lnf_b = cv(lnf_b);
        p.W_U = cv(W_U), p.b_U = cv(b_U), p.invFreq = invFreq, p.invFreqLocal = invFreqLocal;
        for (const LayerParams& L : layers)
            p.layers.push_back({cv(L.ln1_w), cv(L.ln1_b), cv(L.ln2_w), cv(L.ln2_b), cv(L.W_qkv), cv(L.b_qkv),
                                cv(L.W_O), cv(L.b_O), cv(L.W_mlpIn), cv(L.b_mlpIn), cv(L.W_out), cv(L.b_out),
                                cv(L.ln1post_w), cv(L.ln2post_w), cv(L.qnorm_w), cv(L.knorm_w)});
        return p;
    }
};

at::Tensor optionalWeight(const StateDict& w, const std::string& name) {
    auto it = w.find(name);
    return it == w.end() ? at::Tensor() : it->second.contiguous();
}

// RoPE frequencies base^(-2i/r), i < r/2, rescaled as rope_scaling says (HF's _compute_*_parameters):
// linear divides them all by the factor; llama3 divides the low frequencies (wavelength above
// original_context / low_freq_factor) by it, keeps the high ones (below original_context / high_freq_factor)
// and blends in between.
at::Tensor rotaryFrequencies(const ModelConfig& c, double base, RopeScaling scaling) {
    const int64_t r = c.rotaryDim;
    at::Tensor inv = at::pow(base, -at::arange(0, r, 2, at::kDouble) / double(r));  // [r/2]
    if (scaling == RopeScaling::Linear) return inv / c.ropeFactor;
    if (scaling != RopeScaling::Llama3) return inv;
    const double lowWavelen = c.ropeOriginalContext / c.ropeLowFreqFactor;
    const double highWavelen = c.ropeOriginalContext / c.ropeHighFreqFactor;
    const at::Tensor wavelen = 2 * M_PI / inv;
    const at::Tensor smooth = (c.ropeOriginalContext / wavelen - c.ropeLowFreqFactor) / (c.ropeHighFreqFactor - c.ropeLowFreqFactor);
    const at::Tensor blended = (1 - smooth) * inv / c.ropeFactor + smooth * inv;
    at::Tensor out = at::where(wavelen > lowWavelen, inv / c.ropeFactor, inv);
    return at::where((wavelen >= highWavelen).logical_and(wavelen <= lowWavelen), blended, out);
}

// Packs TL-form weights into Params (fused QKV, fused gate|up) and points the TL names at views of
// the packed tensors, so each number is stored once.
Params pack(StateDict& w, const ModelConfig& c) {
    const int64_t d = c.dModel, H = c.nHeads, Hkv = c.nKvHeads, dh = c.dHead, m = c.dMlp;
    Params p;
    p.W_E = w["embed.W_E"] = w.at("embed.W_E").contiguous();
    if (c.positional == PositionalKind::Learned) p.W_pos = w["pos_embed.W_pos"] = w.at("pos_embed.W_pos").contiguous();
    for (int l = 0; l < c.nLayers; ++l) {
        auto get = [&](const char* n) -> at::Tensor& { return w.at(layerName(l, n)); };
        LayerParams L;
        L.ln1_w = optionalWeight(w, layerName(l, "ln1.w"));
        L.ln1_b = optionalWeight(w, layerName(l, "ln1.b"));
        L.ln2_w = optionalWeight(w, layerName(l, "ln2.w"));
        L.ln2_b = optionalWeight(w, layerName(l, "ln2.b"));
        L.ln1post_w = optionalWeight(w, layerName(l, "ln1_post.w"));
        L.ln2post_w = optionalWeight(w, layerName(l, "ln2_post.w"));
        L.qnorm_w = optionalWeight(w, layerName(l, "attn.q_norm.w"));
        L.knorm_w = optionalWeight(w, layerName(l, "attn.k_norm.w"));
        L.W_qkv = at::cat({get("attn.W_Q").permute({1, 0, 2}).reshape({d, H * dh}),
                           get("attn.W_K").permute({1, 0, 2}).reshape({d, Hkv * dh}),
                           get("attn.W_V").permute({1, 0, 2}).reshape({d, Hkv * dh})}, 1);
        L.b_qkv = at::cat({get("attn.b_Q").reshape({-1}), get("attn.b_K").reshape({-1}), get("attn.b_V").reshape({-1})});
        get("attn.W_Q") = L.W_qkv.narrow(1, 0, H * dh).view({d, H, dh}).permute({1, 0, 2});
        get("attn.W_K") = L.W_qkv.narrow(1, H * dh, Hkv * dh).view({d, Hkv, dh}).permute({1, 0, 2});
        get("attn.W_V") = L.W_qkv.narrow(1, (H + Hkv) * dh, Hkv * dh).view({d, Hkv, dh}).permute({1, 0, 2});
        get("attn.b_Q") = L.b_qkv.narrow(0, 0, H * dh).view({H, dh});
        get("attn.b_K") = L.b_qkv.narrow(0, H * dh, Hkv * dh).view({Hkv, dh});
        get("attn.b_V") = L.b_qkv.narrow(0, (H + Hkv) * dh, Hkv * dh).view({Hkv, dh});
        L.W_O = get("attn.W_O").reshape({H * dh, d}).contiguous();
        get("attn.W_O") = L.W_O.view({H, dh, d});
        L.b_O = get("attn.b_O") = get("attn.b_O").contiguous();
        if (c.mlp == MlpKind::Gated) {
            L.W_mlpIn = at::cat({get("mlp.W_gate"), get("mlp.W_in")}, 1);
            L.b_mlpIn = at::cat({at::zeros({m}, get("mlp.b_in").options()), get("mlp.b_in")});
            get("mlp.W_gate") = L.W_mlpIn.narrow(1, 0, m);
            get("mlp.W_in") = L.W_mlpIn.narrow(1, m, m);
            get("mlp.b_in") = L.b_mlpIn.narrow(0, m, m);
        } else {
            L.W_mlpIn = get("mlp.W_in") = get("mlp.W_in").contiguous();
            L.b_mlpIn = get("mlp.b_in") = get("mlp.b_in").contiguous();
        }
        L.W_out = get("mlp.W_out") = get("mlp.W_out").contiguous();
        L.b_out = get("mlp.b_out") = get("mlp.b_out").contiguous();
        p.layers.push_back(std::move(L));
    }
    p.lnf_w = optionalWeight(w, "ln_final.w");
    p.lnf_b = optionalWeight(w, "ln_final.b");
    p.W_U = w.at("unembed.W_U");  // contiguous [d, V], or W_E^T (a view) for raw tied models
    p.b_U = w.at("unembed.b_U").contiguous();
    if (c.positional == PositionalKind::Rotary) {
        p.invFreq = rotaryFrequencies(c, c.rotaryBase, c.ropeScaling);
        if (c.rotaryBaseLocal > 0) p.invFreqLocal = rotaryFrequencies(c, c.rotaryBaseLocal, RopeScaling::None);
    }
    return p;
}

}  // namespace

struct Transformer::Impl {
    ModelConfig config;
    ModelIdentity identity;
    ComputeDType dtype = ComputeDType::Float32;
    StateDict weights;  // TL names: views into `stored` (float32, or bfloat16 when the pass computes in bfloat16)
    Params stored;      // the packed parameters, on the CPU, in the compute dtype (one copy of each number)
    Params compute;     // what the forward pass uses: `stored`, or a copy on `device`
    c10::Device device = c10::Device(c10::kCPU);
};

// ---- one forward pass ---------------------------------------------------------------------------------

namespace {

constexpr uint8_t kCapture = 1, kEdit = 2;
constexpr int64_t kQueryBlock = 256;  // query rows per attention block

int stageOf(HookPoint p) {  // order of the parts of a block: 0 input, 1 attention, 2 resid_mid, 3 MLP in, 4 out
    switch (p) {
    case HookPoint::ResidPre: return 0;
    case HookPoint::ResidMid: return 2;
    case HookPoint::Ln2Scale:
    case HookPoint::MlpPre:
    case HookPoint::MlpPreLinear:
    case HookPoint::MlpPost: return 3;
    case HookPoint::MlpOut:
    case HookPoint::Ln2PostScale:
    case HookPoint::ResidPost: return 4;
    default: return 1;
    }
}

class Pass {
public:
    Pass(const Transformer::Impl& model, const TokenBatch& batch, const HookSet& hooks);
    ActivationCache forward();

private:
    at::Tensor block(int l, const at::Tensor& resid);
    at::Tensor attention(int l, const at::Tensor& h);
    at::Tensor mlp(int l, const at::Tensor& h, bool computeOut);
    at::Tensor normalize(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, HookPoint scaleHook, int l);
    at::Tensor qkNorm(const at::Tensor& x, const at::Tensor& w) const;
    at::Tensor rotate(const at::Tensor& x, int l) const;
    at::Tensor scaledScores(const at::Tensor& q, const at::Tensor& k, const at::Tensor& mask) const;
    at::Tensor activation(at::Tensor x, bool inPlace) const;

    uint8_t flag(HookPoint p, int l) const { return flags_[(l + 1) * kHookPointCount + static_cast<int>(p)]; }
    bool wants(HookPoint p, int l) const { return flag(p, l) != 0; }
    at::Tensor tap(HookPoint p, int l, at::Tensor t);          // edits, then capture
    void store(HookPoint p, int l, const at::Tensor& t, bool selected);
    at::Tensor atPositions(const at::Tensor& t, int64_t dim) const;  // [B, ..T.., ...] -> one position per row
    void prepareAttention(const at::TensorOptions& opts);
    void prepareSegments(const TokenBatch& batch);

    const ModelConfig& c_;
    const Params& P_;
    const HookSet& hooks_;
    int64_t B_, T_, N_;
    std::vector<uint8_t> flags_;          // (layer + 1) * kHookPointCount + point
    std::vector<int> stage_;              // per layer: the furthest part needed
    std::vector<bool> attnNeeded_;        // per layer: attention must run
    std::vector<std::vector<int64_t>> zeroValues_, zeroOutputs_;  // per layer: heads
    int lastLayer_ = -1;
    bool finalNorm_ = false, unembed_ = false;
    at::Tensor rows_, positions_;         // [B] when captures are restricted to one position per row
    at::Tensor mask_;                     // [S, S], S the longest sequence: 0 on and below the diagonal, -inf above
    at::Tensor localMask_;                // [S, S]: also -inf at keys window or more behind (sliding-window layers)
    at::Tensor cos_, sin_, cosLocal_, sinLocal_;  // [T, r] rotary tables for these positions
    at::Tensor ids_;                      // [N] int64
    std::vector<int64_t> segmentStarts_;  // per row: where each sequence begins (packed: several; else {0})
    std::vector<int64_t> segmentLengths_; // and its length
    at::Tensor positionIds_;              // [T] int64: position of each token in its sequence
    ActivationCache cache_;
};

Pass::Pass(const Transformer::Impl& model, const TokenBatch& batch, const HookSet& hooks)
    : c_(model.config), P_(model.compute), hooks_(hooks) {
    const ModelConfig& c = c_;
    // -- the batch
    if (!batch.ids.defined() || batch.ids.dim() != 2) throw Error("token batch: ids must be a [rows, positions] tensor");
    if (!at::isIntegralType(batch.ids.scalar_type(), /*includeBool=*/false))
        throw Error("token batch: ids must be an integer tensor");
    B_ = batch.ids.size(0);
    T_ = batch.ids.size(1);
    N_ = B_ * T_;
    if (B_ < 1 || T_ < 1) throw Error("token batch is empty");
    if (batch.segments.empty() && T_ > c.nCtx)
        throw Error("sequence of " + std::to_string(T_) + " tokens is longer than the model's context of " +
                    std::to_string(c.nCtx) + " (n_ctx); split or truncate it first");
    if (static_cast<int64_t>(batch.lengths.size()) != B_)
        throw Error("token batch: " + std::to_string(batch.lengths.size()) + " lengths for " + std::to_string(B_) + " rows");
    for (int64_t b = 0; b < B_; ++b)
        if (batch.lengths[b] < 1 || batch.lengths[b] > T_)
            throw Error("token batch: row " + std::to_string(b) + " has length " + std::to_string(batch.lengths[b]) +
                        " (must be 1.." + std::to_string(T_) + ")");
    ids_ = batch.ids.to(at::kCPU, at::kLong).contiguous().reshape({N_});
    const int64_t* idp = ids_.data_ptr<int64_t>();
    for (int64_t i = 0; i < N_; ++i)
        if (idp[i] < 0 || idp[i] >= c.dVocab)
            throw Error("token id " + std::to_string(idp[i]) + " at row " + std::to_string(i / T_) + ", position " +
                        std::to_string(i % T_) + " is outside the vocabulary (0.." + std::to_string(c.dVocab - 1) + ")");
    const c10::Device device = P_.W_E.device();
    if (!device.is_cpu()) ids_ = ids_.to(device);

    // -- the hooks
    flags_.assign(static_cast<std::size_t>(c.nLayers + 1) * kHookPointCount, 0);
    auto check = [&](const HookId& id) {
        const std::string name = id.name();
        if (id.perLayer() && (id.layer < 0 || id.layer >= c.nLayers))
            throw Error("hook " + name + ": layer " + std::to_string(id.layer) + " does not exist (the model has " +
                        std::to_string(c.nLayers) + " layers)");
        if (id.point == HookPoint::PosEmbed && c.positional != PositionalKind::Learned)
            throw Error("hook " + name + " does not exist in a model with rotary positions");
        if ((id.point == HookPoint::RotQ || id.point == HookPoint::RotK) && c.positional != PositionalKind::Rotary)
            throw Error("hook " + name + " exists only in models with rotary positions");
        if (id.point == HookPoint::ResidMid && c.parallelResidual)
            throw Error("hook " + name + " does not exist in a parallel-residual model (attention and MLP both read resid_pre)");
        if (id.point == HookPoint::MlpPreLinear && c.mlp != MlpKind::Gated)
            throw Error("hook " + name + " exists only in gated MLPs");
        if ((id.point == HookPoint::Ln1PostScale || id.point == HookPoint::Ln2PostScale) && !c.hasPostNorms())
            throw Error("hook " + name + " exists only in models with post-attention/post-MLP norms (Gemma 2/3, OLMo 2)");
        if ((id.point == HookPoint::Ln1Scale || id.point == HookPoint::Ln2Scale) && !c.hasPreNorms())
            throw Error("hook " + name + " does not exist in a post-norm-only model (OLMo 2: attention and MLP read the residual)");
    };
    auto mark = [&](const HookId& id, uint8_t bit) {
        check(id);
        flags_[(id.layer + 1) * kHookPointCount + static_cast<int>(id.point)] |= bit;
    };
    for (const HookId& id : hooks.captures()) mark(id, kCapture);
    for (const HookSet::Edit& e : hooks.edits()) mark(e.where, kEdit);
    zeroValues_.assign(c.nLayers, {});
    zeroOutputs_.assign(c.nLayers, {});
    auto checkHead = [&](const std::pair<int, int>& lh, const char* what) {
        if (lh.first < 0 || lh.first >= c.nLayers || lh.second < 0 || lh.second >= c.nHeads)
            throw Error(std::string(what) + ": head L" + std::to_string(lh.first) + "H" + std::to_string(lh.second) +
                        " does not exist (" + std::to_string(c.nLayers) + " layers of " + std::to_string(c.nHeads) + " heads)");
    };
    for (const auto& lh : hooks.zeroedValues()) {
        checkHead(lh, "value ablation");
        zeroValues_[lh.first].push_back(lh.second);
    }
    for (const auto& lh : hooks.zeroedOutputs()) {
        checkHead(lh, "output ablation");
        zeroOutputs_[lh.first].push_back(lh.second);
    }

    // -- where to stop: the last layer (and the part of it) anything needs
    stage_.assign(c.nLayers, -1);
    attnNeeded_.assign(c.nLayers, false);
    for (int l = 0; l < c.nLayers; ++l) {
        for (int p = 0; p < kHookPointCount; ++p) {
            if (!flags_[(l + 1) * kHookPointCount + p]) continue;
            const int s = stageOf(static_cast<HookPoint>(p));
            stage_[l] = std::max(stage_[l], s);
            if (s == 1 || s == 2) attnNeeded_[l] = true;
        }
        if (!zeroValues_[l].empty() || !zeroOutputs_[l].empty()) {
            stage_[l] = std::max(stage_[l], 1);
            attnNeeded_[l] = true;
        }
        if (stage_[l] >= 0) lastLayer_ = l;
    }
    const bool logits = wants(HookPoint::Logits, -1);
    if (logits || wants(HookPoint::LnFinalScale, -1) || hooks.runsToEnd()) {
        lastLayer_ = c.nLayers - 1;
        stage_[lastLayer_] = 4;
        finalNorm_ = true;
        unembed_ = logits || hooks.runsToEnd();
    }
    for (int l = 0; l < lastLayer_; ++l) stage_[l] = 4;  // layers before the last run in full
    for (int l = 0; l <= lastLayer_; ++l)
        if (stage_[l] >= 4 || (!c.parallelResidual && stage_[l] >= 3)) attnNeeded_[l] = true;

    // -- positions
    if (hooks.positions() || hooks.lastTokens()) {
        std::vector<int64_t> pos = hooks.lastTokens() ? batch.lengths : *hooks.positions();
        if (hooks.lastTokens())
            for (int64_t& p : pos) --p;
        if (static_cast<int64_t>(pos.size()) != B_)
            throw Error("hook positions: " + std::to_string(pos.size()) + " positions for " + std::to_string(B_) + " rows");
        for (int64_t b = 0; b < B_; ++b)
            if (pos[b] < 0 || pos[b] >= batch.lengths[b])
                throw Error("hook positions: position " + std::to_string(pos[b]) + " of row " + std::to_string(b) +
                            " is outside its " + std::to_string(batch.lengths[b]) + " tokens");
        positions_ = at::tensor(pos, at::kLong).to(device);
        rows_ = at::arange(B_, at::TensorOptions().dtype(at::kLong).device(device));
    }
    prepareSegments(batch);
    prepareAttention(at::TensorOptions().dtype(P_.W_E.scalar_type()).device(device));
}

// The sequences of a row: the whole row, or the packed ones (each with positions 0.. of its own).
void Pass::prepareSegments(const TokenBatch& batch) {
    if (batch.segments.empty()) {
        segmentStarts_ = {0};
        segmentLengths_ = {T_};
        positionIds_ = at::arange(T_, at::kLong);
    } else {
        if (B_ != 1) throw Error("token batch: packed sequences need a batch of one row");
        int64_t start = 0;
        std::vector<int64_t> positions;
        for (int64_t n : batch.segments) {
            if (n < 1) throw Error("token batch: a packed sequence is empty");
            if (n > c_.nCtx)
                throw Error("packed sequence of " + std::to_string(n) + " tokens is longer than the model's context of " +
                            std::to_string(c_.nCtx) + " (n_ctx)");
            segmentStarts_.push_back(start);
            segmentLengths_.push_back(n);
            for (int64_t i = 0; i < n; ++i) positions.push_back(i);
            start += n;
        }
        if (start != T_ || batch.lengths[0] != T_)
            throw Error("token batch: packed sequences of " + std::to_string(start) + " tokens in a row of " +
                        std::to_string(T_));
        if (!hooks_.edits().empty() || hooks_.positions() || hooks_.lastTokens())
            throw Error("token batch: packed sequences take captures only (no edits, no chosen positions)");
        positionIds_ = at::tensor(positions, at::kLong);
    }
    const c10::Device device = P_.W_E.device();
    if (!device.is_cpu()) positionIds_ = positionIds_.to(device);
}

// The causal and sliding-window masks and the rotary tables for this batch's positions.
void Pass::prepareAttention(const at::TensorOptions& opts) {
    const ModelConfig& c = c_;
    const int64_t S = *std::max_element(segmentLengths_.begin(), segmentLengths_.end());  // the longest sequence
    mask_ = at::full({S, S}, -std::numeric_limits<float>::infinity(), opts).triu(1);
    // HF >= 4.46: a sliding-window query sees `window` keys, itself included (q - window < k <= q).
    localMask_ = c.slidingWindow > 0 && S > c.slidingWindow
                     ? mask_ + at::full({S, S}, -std::numeric_limits<float>::infinity(), opts).tril(-c.slidingWindow)
                     : mask_;
    auto tables = [&](const at::Tensor& invFreq, at::Tensor& cos, at::Tensor& sin) {
        const at::Tensor angle = at::outer(positionIds_.to(at::kCPU, at::kDouble), invFreq);  // [T, r/2], float64
        cos = at::cat({angle.cos(), angle.cos()}, 1).to(at::kFloat).to(opts);
        sin = at::cat({angle.sin(), angle.sin()}, 1).to(at::kFloat).to(opts);
    };
    if (c.positional == PositionalKind::Rotary) tables(P_.invFreq, cos_, sin_);
    if (P_.invFreqLocal.defined()) tables(P_.invFreqLocal, cosLocal_, sinLocal_);
}

at::Tensor Pass::atPositions(const at::Tensor& t, int64_t dim) const {
    return dim == 1 ? t.index({rows_, positions_}) : t.transpose(1, dim).index({rows_, positions_});
}

void Pass::store(HookPoint p, int l, const at::Tensor& t, bool selected) {
    at::Tensor s = t;
    if (positions_.defined() && !selected)
        s = atPositions(t, (p == HookPoint::Pattern || p == HookPoint::AttnScores) ? 2 : 1);
    cache_.insert(HookId{p, l}.name(), s.to(at::kCPU, at::kFloat).contiguous());  // captures live on the CPU
}

at::Tensor Pass::tap(HookPoint p, int l, at::Tensor t) {
    const uint8_t f = flag(p, l);
    if (!f) return t;
    if (f & kEdit) {
        const HookId id{p, l};
        for (const HookSet::Edit& e : hooks_.edits()) {
            if (!(e.where == id)) continue;
            at::Tensor out = e.value.defined() ? e.value : e.fn(t.clone(), id);
            if (!out.defined() || out.sizes() != t.sizes())
                throw Error("hook " + id.name() + ": the replacement has shape " +
                            (out.defined() ? c10::str(out.sizes()) : std::string("(none)")) + ", expected " +
                            c10::str(t.sizes()));
            t = out.to(t.device(), t.scalar_type()).contiguous();
        }
    }
    if (f & kCapture) store(p, l, t, false);
    return t;
}

// The MLP nonlinearity; in place when nothing else holds x (its hook is neither captured nor edited).
at::Tensor Pass::activation(at::Tensor x, bool inPlace) const {
    switch (c_.act) {
    case Activation::GeluNew: return inPlace ? at::gelu_(x, "tanh") : at::gelu(x, "tanh");  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    case Activation::Gelu: return inPlace ? at::gelu_(x) : at::gelu(x);                     // 0.5 x (1 + erf(x / sqrt 2))
    case Activation::Silu: return inPlace ? at::silu_(x) : at::silu(x);
    case Activation::Relu: return inPlace ? at::relu_(x) : at::relu(x);
    }
    return x;
}

// LayerNorm (x - mean) / sqrt(var + eps) * w + b, or RMSNorm x / sqrt(mean(x^2) + eps) * w; after fold_ln
// w and b are undefined (LNPre / RMSPre). The scale is materialised only when hooked.
at::Tensor Pass::normalize(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, HookPoint scaleHook, int l) {
    const bool layerNorm = c_.norm == NormKind::LayerNorm;
    if (!wants(scaleHook, l)) {
        if (layerNorm) return at::layer_norm(x, {c_.dModel}, w, b, c_.normEps);
        const at::Tensor y = x * at::rsqrt(x.pow(2).mean(-1, true) + c_.normEps);
        return w.defined() ? y * w : y;
    }
    const at::Tensor centred = layerNorm ? x - x.mean(-1, true) : x;
    const at::Tensor scale = tap(scaleHook, l, (centred.pow(2).mean(-1, true) + c_.normEps).sqrt());  // [B, T, 1]
    at::Tensor y = centred / scale;
    if (w.defined()) y = y * w;
    if (b.defined()) y = y + b;
    return y;
}

// Rotary positions, rotate_half form: the first r dims of each head, lane i paired with lane i + r/2.
// Sliding-window layers use their own base where the family has one (Gemma 3).
at::Tensor Pass::rotate(const at::Tensor& x, int l) const {  // [B, T, n, dh]
    const int64_t r = c_.rotaryDim, half = r / 2, dh = c_.dHead;
    const bool local = cosLocal_.defined() && c_.isLocalLayer(l);
    const at::Tensor cos = (local ? cosLocal_ : cos_).view({1, T_, 1, r});
    const at::Tensor sin = (local ? sinLocal_ : sin_).view({1, T_, 1, r});
    const at::Tensor xr = x.narrow(-1, 0, r);
    const at::Tensor rotated = at::cat({-xr.narrow(-1, half, half), xr.narrow(-1, 0, half)}, -1);
    const at::Tensor out = xr * cos + rotated * sin;
    return r == dh ? out : at::cat({out, x.narrow(-1, r, dh - r)}, -1);
}

// QK-norm: RMSNorm of each head's q (or k) over d_head, or over all heads together when the gain covers
// the full width (OLMo 2). x: [B, T, n, dh].
at::Tensor Pass::qkNorm(const at::Tensor& x, const at::Tensor& w) const {
    const bool full = w.size(0) != c_.dHead;
    const at::Tensor y = full ? x.reshape({B_, T_, -1}) : x;
    const at::Tensor n = y * at::rsqrt(y.pow(2).mean(-1, true) + c_.normEps) * w;
    return full ? n.view(x.sizes()) : n;
}

// Scaled scores q.k * scale (soft-capped as cap * tanh(s / cap) where the family caps them), plus the mask.
at::Tensor Pass::scaledScores(const at::Tensor& q, const at::Tensor& k, const at::Tensor& mask) const {
    if (c_.attnSoftcap <= 0) return at::baddbmm(mask, q, k, 1.0, c_.attnScale());
    at::Tensor s = at::bmm(q, k).mul_(c_.attnScale() / c_.attnSoftcap).tanh_().mul_(c_.attnSoftcap);
    return s.add_(mask);
}

at::Tensor Pass::attention(int l, const at::Tensor& h) {  // h: [B, T, d] normalised input
    const LayerParams& L = P_.layers[l];
    const int64_t B = B_, T = T_, N = N_, d = c_.dModel, H = c_.nHeads, Hkv = c_.nKvHeads, G = H / Hkv, dh = c_.dHead;
    const at::Tensor qkv = at::addmm(L.b_qkv, h.reshape({N, d}), L.W_qkv);                  // [N, (H + 2 Hkv) dh]
    at::Tensor q = tap(HookPoint::Q, l, qkv.narrow(1, 0, H * dh).view({B, T, H, dh}));
    at::Tensor k = tap(HookPoint::K, l, qkv.narrow(1, H * dh, Hkv * dh).view({B, T, Hkv, dh}));
    at::Tensor v = qkv.narrow(1, (H + Hkv) * dh, Hkv * dh).view({B, T, Hkv, dh});
    if (G == 1 && !zeroValues_[l].empty()) {
        v = v.clone();
        for (int64_t head : zeroValues_[l]) v.select(2, head).zero_();                     // ablate the head's values
    }
    v = tap(HookPoint::V, l, v);
    if (L.qnorm_w.defined()) {
        q = qkNorm(q, L.qnorm_w);
        k = qkNorm(k, L.knorm_w);
    }
    if (c_.positional == PositionalKind::Rotary) {
        q = tap(HookPoint::RotQ, l, rotate(q, l));
        k = tap(HookPoint::RotK, l, rotate(k, l));
    }
    // Query heads sharing a key/value head are stacked along the rows: [B Hkv, G, T, dh] against [B Hkv, dh, T].
    const at::Tensor qg = q.reshape({B, T, Hkv, G, dh}).permute({0, 2, 3, 1, 4}).contiguous();  // [B, Hkv, G, T, dh]
    const at::Tensor kt = k.permute({0, 2, 3, 1}).contiguous();                                    // [B, Hkv, dh, T]
    const at::Tensor vg = v.permute({0, 2, 1, 3}).contiguous();                                    // [B, Hkv, T, dh]
    at::Tensor z = at::empty({B, T, H, dh}, q.options());
    // Causal attention in blocks of query rows, each against the keys it can see (about half the work of
    // the full square, and small temporaries); one block of all rows when the pattern itself is hooked.
    const bool wholePattern = wants(HookPoint::AttnScores, l) || wants(HookPoint::Pattern, l);
    const int64_t rows = wholePattern ? T : std::min<int64_t>(T, kQueryBlock);
    const int64_t batchBlock = wholePattern ? B : 1;
    const at::Tensor& layerMask = c_.isLocalLayer(l) ? localMask_ : mask_;
    if (wholePattern && segmentStarts_.size() > 1)
        throw Error("hook " + HookId{HookPoint::Pattern, l}.name() + ": not available for packed sequences");
    for (int64_t b0 = 0; b0 < B; b0 += batchBlock) {
      for (std::size_t seg = 0; seg < segmentStarts_.size(); ++seg) {  // packed sequences: each on its own
        const int64_t s0 = segmentStarts_[seg], S = segmentLengths_[seg];
        for (int64_t q0 = 0; q0 < S; q0 += rows) {
            const int64_t nb = batchBlock, nq = std::min(rows, S - q0), keys = q0 + nq;  // rows see keys 0..keys-1
            const at::Tensor qb = qg.narrow(0, b0, nb).narrow(3, s0 + q0, nq).reshape({nb * Hkv, G * nq, dh});
            const at::Tensor kb = kt.narrow(0, b0, nb).narrow(3, s0, keys).reshape({nb * Hkv, dh, keys});
            const at::Tensor vb = vg.narrow(0, b0, nb).narrow(2, s0, keys).reshape({nb * Hkv, keys, dh});
            const at::Tensor mask = layerMask.narrow(0, q0, nq).narrow(1, 0, keys).repeat({G, 1}).expand({nb * Hkv, G * nq, keys});
            at::Tensor scores = scaledScores(qb, kb, mask);                                      // q.k / sqrt(dh), causal
            at::Tensor pattern;
            if (wholePattern) {
                scores = tap(HookPoint::AttnScores, l, scores.view({B, H, T, T}));
                pattern = tap(HookPoint::Pattern, l, at::softmax(scores, -1)).view({B * Hkv, G * T, T});
            } else {
                pattern = at::_softmax_out(scores, scores, -1, false);                          // in place
            }
            const at::Tensor zb = at::bmm(pattern, vb).view({nb, Hkv, G, nq, dh});             // [nb, Hkv, G, nq, dh]
            z.narrow(0, b0, nb).narrow(1, s0 + q0, nq).view({nb, nq, Hkv, G, dh}).copy_(zb.permute({0, 3, 1, 2, 4}));
        }
      }
    }
    if (G > 1)
        for (int64_t head : zeroValues_[l]) z.select(2, head).zero_();                        // = zero values, per query head
    z = tap(HookPoint::Z, l, z);
    at::Tensor zf = z.reshape({N, H * dh});                                                     // [N, H dh]
    if (!zeroOutputs_[l].empty()) {
        zf = zf.clone();
        for (int64_t head : zeroOutputs_[l]) zf.narrow(1, head * dh, dh).zero_();              // ablate the head's output
    }
    const at::Tensor W_O = L.W_O.view({H, dh, d});
    at::Tensor attnOut;
    if (flag(HookPoint::Result, l) & kEdit) {
        const at::Tensor result = at::bmm(zf.view({N, H, dh}).transpose(0, 1), W_O).transpose(0, 1);  // [N, H, d]
        attnOut = tap(HookPoint::Result, l, result.reshape({B, T, H, d})).sum(2) + L.b_O;
    } else {
        if (wants(HookPoint::Result, l)) {
            // Per-head outputs z_h W_O[h]; with positions chosen, only there (never [N, H, d] in full).
            const bool selected = positions_.defined();
            const at::Tensor zs = selected ? atPositions(zf.view({B, T, H * dh}), 1) : zf;  // [B or N, H dh]
            const int64_t n = zs.size(0);
            const at::Tensor result = at::bmm(zs.view({n, H, dh}).transpose(0, 1), W_O).transpose(0, 1);  // [n, H, d]
            store(HookPoint::Result, l, selected ? result : result.reshape({B, T, H, d}), selected);
        }
        attnOut = at::addmm(L.b_O, zf, L.W_O).view({B, T, d});                               // sum_h z_h W_O[h] + b_O
    }
    return attnOut;  // before the post-attention norm, if any (block() applies it and taps hook_attn_out)
}

at::Tensor Pass::mlp(int l, const at::Tensor& h, bool computeOut) {  // h: [B, T, d] normalised input
    const LayerParams& L = P_.layers[l];
    const int64_t B = B_, T = T_, N = N_, d = c_.dModel, m = c_.dMlp;
    at::Tensor post;
    if (c_.mlp == MlpKind::Gated) {
        const at::Tensor gateUp = at::addmm(L.b_mlpIn, h.reshape({N, d}), L.W_mlpIn);           // [N, 2m] = gate | up
        const at::Tensor gate = tap(HookPoint::MlpPre, l, gateUp.narrow(1, 0, m).view({B, T, m}));
        const at::Tensor up = tap(HookPoint::MlpPreLinear, l, gateUp.narrow(1, m, m).view({B, T, m}));
        post = tap(HookPoint::MlpPost, l, activation(gate, !wants(HookPoint::MlpPre, l)).mul_(up));  // act(gate) * up
    } else {
        const at::Tensor pre = tap(HookPoint::MlpPre, l, at::addmm(L.b_mlpIn, h.reshape({N, d}), L.W_mlpIn).view({B, T, m}));
        post = tap(HookPoint::MlpPost, l, activation(pre, !wants(HookPoint::MlpPre, l)));           // [B, T, m]
    }
    if (!computeOut) return {};
    return at::addmm(L.b_out, post.reshape({N, m}), L.W_out).view({B, T, d});  // block() taps hook_mlp_out
}

// One block. Sequential (GPT-2, Llama): x += attn(ln1(x)); x += mlp(ln2(x)).
// Parallel (GPT-NeoX):                   x += attn(ln1(x)) + mlp(ln2(x)).
// Sandwich (Gemma 2/3):                  x += ln1_post(attn(ln1(x))); x += ln2_post(mlp(ln2(x))).
// Post-norm only (OLMo 2):               x += ln1_post(attn(x)); x += ln2_post(mlp(x)).
// The last block needed stops after the last part anything needs.
at::Tensor Pass::block(int l, const at::Tensor& resid) {
    const LayerParams& L = P_.layers[l];
    const int stage = stage_[l];
    const bool pre = c_.hasPreNorms(), post = c_.hasPostNorms();
    const at::Tensor x = tap(HookPoint::ResidPre, l, resid);                                  // [B, T, d]
    at::Tensor attnOut;
    if (attnNeeded_[l]) {
        attnOut = attention(l, pre ? normalize(x, L.ln1_w, L.ln1_b, HookPoint::Ln1Scale, l) : x);
        if (post) attnOut = normalize(attnOut, L.ln1post_w, {}, HookPoint::Ln1PostScale, l);
        attnOut = tap(HookPoint::AttnOut, l, attnOut);
    }
    const at::Tensor mid = c_.parallelResidual || !attnOut.defined() ? x : tap(HookPoint::ResidMid, l, x + attnOut);
    if (stage < 3) return mid;
    at::Tensor mlpOut = mlp(l, pre ? normalize(mid, L.ln2_w, L.ln2_b, HookPoint::Ln2Scale, l) : mid, stage >= 4);
    if (stage < 4) return mid;
    if (post) mlpOut = normalize(mlpOut, L.ln2post_w, {}, HookPoint::Ln2PostScale, l);
    mlpOut = tap(HookPoint::MlpOut, l, mlpOut);
    return tap(HookPoint::ResidPost, l, c_.parallelResidual ? x + attnOut + mlpOut : mid + mlpOut);
}

ActivationCache Pass::forward() {
    const int64_t d = c_.dModel;
    const at::Tensor& ids = ids_;                                                              // [N]
    at::Tensor x = P_.W_E.index_select(0, ids).view({B_, T_, d});                            // [B, T, d]
    if (c_.embedScale != 1.0) x = x * c_.embedScale;                                          // Gemma: sqrt(d_model)
    x = tap(HookPoint::Embed, -1, x);
    if (c_.positional == PositionalKind::Learned)
        x = x + tap(HookPoint::PosEmbed, -1, (segmentStarts_.size() == 1 ? P_.W_pos.narrow(0, 0, T_)
                                                                         : P_.W_pos.index_select(0, positionIds_))
                                                  .unsqueeze(0).expand({B_, T_, d}));
    for (int l = 0; l <= lastLayer_; ++l) x = block(l, x);
    cache_.setRunInfo(lastLayer_ + 1, unembed_);
    if (!finalNorm_) return std::move(cache_);
    x = normalize(x, P_.lnf_w, P_.lnf_b, HookPoint::LnFinalScale, -1);                       // [B, T, d]
    if (!unembed_) return std::move(cache_);
    auto softcap = [this](at::Tensor logits) {  // Gemma 2: cap * tanh(logits / cap)
        return c_.finalSoftcap > 0 ? logits.div_(c_.finalSoftcap).tanh_().mul_(c_.finalSoftcap) : logits;
    };
    if (positions_.defined() && !(flag(HookPoint::Logits, -1) & kEdit)) {
        const at::Tensor logits = softcap(at::addmm(P_.b_U, atPositions(x, 1), P_.W_U));       // [B, V]
        if (wants(HookPoint::Logits, -1)) store(HookPoint::Logits, -1, logits, true);
    } else {
        const at::Tensor logits = softcap(at::addmm(P_.b_U, x.view({N_, d}), P_.W_U)).view({B_, T_, c_.dVocab});  // [B, T, V]
        tap(HookPoint::Logits, -1, logits);
    }
    return std::move(cache_);
}

}  // namespace

// ---- batches, identity -------------------------------------------------------------------------------

TokenBatch TokenBatch::padded(const std::vector<std::vector<int64_t>>& rows, int64_t padId) {
    if (rows.empty()) throw Error("token batch: no sequences");
    std::size_t T = 0;
    for (const auto& r : rows) {
        if (r.empty()) throw Error("token batch: an empty sequence (give at least one token, e.g. BOS)");
        T = std::max(T, r.size());
    }
    TokenBatch batch;
    batch.ids = at::full({static_cast<int64_t>(rows.size()), static_cast<int64_t>(T)}, padId, at::kLong);
    int64_t* p = batch.ids.data_ptr<int64_t>();
    for (std::size_t b = 0; b < rows.size(); ++b) {
        std::copy(rows[b].begin(), rows[b].end(), p + b * T);
        batch.lengths.push_back(static_cast<int64_t>(rows[b].size()));
    }
    return batch;
}

TokenBatch TokenBatch::padded(const std::vector<std::vector<int>>& rows, int64_t padId) {
    std::vector<std::vector<int64_t>> wide;
    for (const auto& r : rows) wide.emplace_back(r.begin(), r.end());
    return padded(wide, padId);
}

TokenBatch TokenBatch::packed(const std::vector<std::vector<int>>& sequences) {
    std::vector<int64_t> row;
    std::vector<int64_t> segments;
    for (const auto& s : sequences) {
        if (s.empty()) throw Error("token batch: an empty sequence (give at least one token, e.g. BOS)");
        row.insert(row.end(), s.begin(), s.end());
        segments.push_back(static_cast<int64_t>(s.size()));
    }
    TokenBatch batch = padded(std::vector<std::vector<int64_t>>{row});
    batch.segments = std::move(segments);
    return batch;
}

TokenBatch TokenBatch::single(const std::vector<int64_t>& ids) { return padded(std::vector<std::vector<int64_t>>{ids}); }
TokenBatch TokenBatch::single(const std::vector<int>& ids) {
    return padded(std::vector<std::vector<int64_t>>{std::vector<int64_t>(ids.begin(), ids.end())});
}

std::string ModelIdentity::describe() const {
    return modelId + " (" + weightHash + "; " + processing.describe() + "; " + computeDType + ")";
}

nlohmann::json ModelIdentity::toJson() const {
    return {{"model", modelId}, {"weight_hash", weightHash}, {"processing", processing.toJson()}, {"dtype", computeDType}};
}

// ---- loading ------------------------------------------------------------------------------------------

namespace {

// Converts every weight to bfloat16 in place, one at a time (the float32 original is freed as it goes);
// a tied unembedding that is a view of the embedding stays a view.
void toBFloat16(StateDict& w) {
    const bool tiedView = w.count("unembed.W_U") && w.count("embed.W_E") &&
                          w.at("unembed.W_U").data_ptr() == w.at("embed.W_E").data_ptr();
    for (auto& [name, t] : w)
        if (!(tiedView && name == "unembed.W_U")) t = t.to(at::kBFloat16).contiguous();
    if (tiedView) w["unembed.W_U"] = w.at("embed.W_E").t();
}

std::shared_ptr<Transformer::Impl> build(const ModelConfig& config, StateDict weights, const LoadOptions& options,
                                         std::string modelId, std::string weightHash) {
    auto impl = std::make_shared<Transformer::Impl>();
    impl->config = config;
    impl->dtype = options.dtype;
    impl->identity.modelId = std::move(modelId);
    impl->identity.weightHash = std::move(weightHash);
    impl->identity.processing = processWeights(weights, config, options.processing);
    impl->identity.computeDType = options.dtype == ComputeDType::BFloat16 ? "bfloat16" : "float32";
    // bfloat16 compute keeps only bfloat16 weights (processing ran in float32 above); weight() widens on request.
    if (options.dtype == ComputeDType::BFloat16) toBFloat16(weights);
    impl->stored = pack(weights, config);
    impl->weights = std::move(weights);
    impl->device = resolveDevice(options.device);
    impl->compute = impl->device.is_cpu() ? impl->stored : impl->stored.to(at::TensorOptions().device(impl->device));
#if defined(__GLIBC__)
    malloc_trim(0);  // hand the float32 temporaries of reading and processing back to the system
#endif
    return impl;
}

}  // namespace

Transformer Transformer::load(const QString& dirOrHubId, const LoadOptions& options) {
    return fromCheckpoint(Checkpoint::open(dirOrHubId), options);
}

namespace {
// Tiny models gain nothing from intra-op threads (each op is too small to split), only overhead.
int threadFallbackFor(const ModelConfig& config) { return config.dModel < 256 ? 1 : 0; }
}  // namespace

Transformer Transformer::fromCheckpoint(const Checkpoint& checkpoint, const LoadOptions& options) {
    configureTorchThreads(0, threadFallbackFor(checkpoint.config()));
    c10::InferenceMode guard;
    StateDict weights = loadWeights(checkpoint);
    return Transformer(build(checkpoint.config(), std::move(weights), options, checkpoint.id().toStdString(),
                             checkpointWeightHash(checkpoint)));
}

Transformer Transformer::fromWeights(const ModelConfig& config, StateDict rawWeights, const LoadOptions& options,
                                     const std::string& modelId) {
    configureTorchThreads(0, threadFallbackFor(config));
    c10::InferenceMode guard;
    validateWeights(config, rawWeights, "model '" + modelId + "'");
    WeightHasher hasher;
    for (auto& [name, t] : rawWeights) {
        t = t.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();  // never alias the caller's tensors
        hasher.add(name, "F32", t.sizes().data(), t.sizes().size(), t.data_ptr(), t.numel() * sizeof(float));
    }
    return Transformer(build(config, std::move(rawWeights), options, modelId, hasher.hex()));
}

const ModelConfig& Transformer::config() const { return impl_->config; }
const ModelIdentity& Transformer::identity() const { return impl_->identity; }
ComputeDType Transformer::computeDType() const { return impl_->dtype; }
c10::Device Transformer::device() const { return impl_->device; }

c10::Device resolveDevice(const std::string& requested) {
    std::string name = requested;
    if (name.empty()) {
        const char* env = std::getenv("HEADLIGHT_DEVICE");
        name = env ? env : "";
    }
    if (name.empty() || name == "cpu") return c10::Device(c10::kCPU);
    const bool cudaBuild = at::hasCUDA();
    const int gpus = cudaBuild ? static_cast<int>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
    if (name == "auto") return gpus > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    if (name.rfind("cuda", 0) != 0) throw Error("device '" + name + "': expected cpu, cuda, cuda:N or auto");
    c10::Device device(c10::kCPU);
    try {
        device = c10::Device(name);
    } catch (const c10::Error&) {
        throw Error("device '" + name + "': expected cpu, cuda, cuda:N or auto");
    }
    if (!cudaBuild)
        throw Error("device '" + name + "': this libtorch is a CPU-only build (configure Headlight with -DHEADLIGHT_CUDA=ON "
                    "and Torch_DIR pointing at a CUDA libtorch)");
    if (gpus == 0) throw Error("device '" + name + "': libtorch has CUDA but sees no GPU (check the driver and CUDA_VISIBLE_DEVICES)");
    const int index = device.has_index() ? device.index() : 0;
    if (index >= gpus)
        throw Error("device '" + name + "': only " + std::to_string(gpus) + " GPU(s) are visible (cuda:0..cuda:" +
                    std::to_string(gpus - 1) + ")");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

namespace {
std::string canonicalWeightName(const std::string& name) {
    if (name == "W_E") return "embed.W_E";
    if (name == "W_pos") return "pos_embed.W_pos";
    if (name == "W_U") return "unembed.W_U";
    if (name == "b_U") return "unembed.b_U";
    return name;
}
}  // namespace

bool Transformer::hasWeight(const std::string& name) const { return impl_->weights.count(canonicalWeightName(name)) != 0; }

at::Tensor Transformer::weight(const std::string& name) const {
    auto it = impl_->weights.find(canonicalWeightName(name));
    if (it == impl_->weights.end())
        throw Error("model " + impl_->identity.modelId + " has no weight '" + name +
                    "' (TransformerLens names such as embed.W_E, blocks.0.attn.W_Q, blocks.0.mlp.W_in, unembed.W_U" +
                    (impl_->identity.processing.foldLn ? "; norm weights are folded away" : "") + ")");
    return it->second.scalar_type() == at::kFloat ? it->second : it->second.to(at::kFloat);
}

std::vector<std::string> Transformer::weightNames() const {
    std::vector<std::string> names;
    for (const auto& [name, t] : impl_->weights) names.push_back(name);
    return names;
}

at::Tensor Transformer::residualWOut(int layer) const {
    const std::string b = "blocks." + std::to_string(layer) + ".";
    const at::Tensor W_out = weight(b + "mlp.W_out");
    return config().hasPostNorms() ? W_out * weight(b + "ln2_post.w").view({1, -1}) : W_out;
}

void Transformer::captureHeadContributions(HookSet& hooks, int layer) const {
    const std::string b = "blocks." + std::to_string(layer) + ".";
    hooks.capture(b + "attn.hook_result");
    if (config().hasPostNorms()) hooks.capture(b + "ln1_post.hook_scale");
}

at::Tensor Transformer::headContributions(const ActivationCache& cache, int layer) const {
    const std::string b = "blocks." + std::to_string(layer) + ".";
    const at::Tensor result = cache.at(b + "attn.hook_result");  // [..., H, d]
    if (!config().hasPostNorms()) return result;
    const at::Tensor scale = cache.at(b + "ln1_post.hook_scale");  // [..., 1]
    return result * weight(b + "ln1_post.w") / scale.unsqueeze(-1);
}

std::string Transformer::postNormReading() const {
    if (!config().hasPostNorms()) return {};
    return "post norms: ln2_post gain folded into W_out (congruence), ln1_post gain and frozen 1/RMS into head outputs "
           "(attribution)";
}

ActivationCache Transformer::run(const TokenBatch& batch, const HookSet& hooks) const {
    c10::InferenceMode guard;
    Pass pass(*impl_, batch, hooks);
    return pass.forward();
}

}  // namespace headlight
