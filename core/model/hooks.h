// Hooks for the forward pass, named as TransformerLens names them: what to capture, where (all
// positions or one per batch row), which interventions to apply, and how far to run.
//
//   HookSet hooks;
//   hooks.capture("blocks.2.mlp.hook_post").capture("blocks.1.attn.hook_result").atLastTokens();
//   hooks.zeroHeadValues(1, 3);                          // ablate head L1H3's values
//   ActivationCache cache = model.run(batch, hooks);     // stops after layer 2, no unembedding
//   at::Tensor post = cache.at("blocks.2.mlp.hook_post");   // [B, d_mlp] (one position per row)
//
// Shapes (B = batch rows, T = positions, H = heads, Hkv = key/value heads, dh = d_head, d = d_model,
// m = d_mlp, V = vocab). Captures keep the batch dimension and are float32 whatever the compute dtype.
// With atPositions()/atLastTokens() the position dimension is dropped (pattern/attn_scores keep their
// key dimension: [B, H, T]).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace headlight {

enum class HookPoint : int {
    Embed,         // hook_embed                     [B, T, d]   W_E[tokens]
    PosEmbed,      // hook_pos_embed                 [B, T, d]   W_pos[positions] (learned positions only)
    ResidPre,      // blocks.L.hook_resid_pre        [B, T, d]
    Ln1Scale,      // blocks.L.ln1.hook_scale        [B, T, 1]
    Q,             // blocks.L.attn.hook_q           [B, T, H, dh]
    K,             // blocks.L.attn.hook_k           [B, T, Hkv, dh]
    V,             // blocks.L.attn.hook_v           [B, T, Hkv, dh]
    RotQ,          // blocks.L.attn.hook_rot_q       [B, T, H, dh]   (rotary models)
    RotK,          // blocks.L.attn.hook_rot_k       [B, T, Hkv, dh] (rotary models)
    AttnScores,    // blocks.L.attn.hook_attn_scores [B, H, T, T]   scaled q·k, -inf above the diagonal
    Pattern,       // blocks.L.attn.hook_pattern     [B, H, T, T]
    Z,             // blocks.L.attn.hook_z           [B, T, H, dh]
    Result,        // blocks.L.attn.hook_result      [B, T, H, d]    z·W_O per head, no b_O (before any post norm)
    AttnOut,       // blocks.L.hook_attn_out         [B, T, d]       what is added to the residual (after ln1_post)
    ResidMid,      // blocks.L.hook_resid_mid        [B, T, d]       (sequential residual only)
    Ln2Scale,      // blocks.L.ln2.hook_scale        [B, T, 1]
    MlpPre,        // blocks.L.mlp.hook_pre          [B, T, m]       gated MLPs: the gate pre-activation
    MlpPreLinear,  // blocks.L.mlp.hook_pre_linear   [B, T, m]       gated MLPs only: the up projection
    MlpPost,       // blocks.L.mlp.hook_post         [B, T, m]       act(pre), gated: act(gate) * up
    MlpOut,        // blocks.L.hook_mlp_out          [B, T, d]       what is added to the residual (after ln2_post)
    ResidPost,     // blocks.L.hook_resid_post       [B, T, d]
    LnFinalScale,  // ln_final.hook_scale            [B, T, 1]
    Logits,        // logits                         [B, T, V]      (after the final soft-cap, if any)
    Ln1PostScale,  // blocks.L.ln1_post.hook_scale   [B, T, 1]       RMS of the attention output (post norms only)
    Ln2PostScale,  // blocks.L.ln2_post.hook_scale   [B, T, 1]       RMS of the MLP output (post norms only)
};
constexpr int kHookPointCount = static_cast<int>(HookPoint::Ln2PostScale) + 1;

// One hook: a point and, for per-layer points, the layer.
struct HookId {
    HookPoint point = HookPoint::ResidPre;
    int layer = -1;  // -1 for hook_embed, hook_pos_embed, ln_final.hook_scale, logits

    // Parses a TransformerLens hook name ("blocks.3.attn.hook_z", "logits"); throws headlight::Error
    // naming the hook if it is not one of the names above (layer ranges are checked against a model later).
    static HookId parse(const std::string& name);
    std::string name() const;
    bool perLayer() const;
    bool operator<(const HookId& o) const { return layer != o.layer ? layer < o.layer : point < o.point; }
    bool operator==(const HookId& o) const { return point == o.point && layer == o.layer; }
};

// An intervention callback: gets the activation (full shape with batch, in the compute dtype) and
// returns the tensor to use instead (same shape). It may modify and return its argument.
using HookFn = std::function<at::Tensor(const at::Tensor& activation, const HookId& where)>;

class HookSet {
public:
    // ---- what to capture
    HookSet& capture(const std::string& name);            // throws on an unknown hook name
    HookSet& capture(const std::vector<std::string>& names);
    HookSet& capture(HookId id);

    // ---- where: by default every position; otherwise one position per batch row
    HookSet& atPositions(std::vector<int64_t> positionPerRow);
    HookSet& atLastTokens();                              // each row's own last real token (length - 1)

    // ---- interventions (applied before capture at the same hook)
    // Zero head `head`'s value vectors at all positions (the paper's ablation): its z, hook_result and
    // contribution to attn_out become 0. With fold_value_biases on, b_V's share stays in b_O, as in TL.
    HookSet& zeroHeadValues(int layer, int head);
    // Zero head `head`'s output (hook_result, i.e. z at the head's slice after hook_z is captured).
    HookSet& zeroHeadOutput(int layer, int head);
    // Replace an activation by `value` (full shape with batch, any float dtype).
    HookSet& replace(const std::string& name, at::Tensor value);
    // Pass an activation through `fn`.
    HookSet& edit(const std::string& name, HookFn fn);

    // ---- how far: by default the pass stops after the last layer any hook needs and skips the
    // unembedding unless logits are asked for. runToEnd() computes everything (for benchmarks).
    HookSet& runToEnd(bool on = true);

    // ---- read back (for the engine)
    struct Edit {
        HookId where;
        at::Tensor value;  // replacement, or undefined
        HookFn fn;         // callback, or empty
    };
    const std::vector<HookId>& captures() const { return captures_; }
    const std::vector<std::pair<int, int>>& zeroedValues() const { return zeroValues_; }   // (layer, head)
    const std::vector<std::pair<int, int>>& zeroedOutputs() const { return zeroOutputs_; }
    const std::vector<Edit>& edits() const { return edits_; }
    const std::optional<std::vector<int64_t>>& positions() const { return positions_; }
    bool lastTokens() const { return lastTokens_; }
    bool runsToEnd() const { return runToEnd_; }
    bool empty() const { return captures_.empty() && zeroValues_.empty() && zeroOutputs_.empty() && edits_.empty(); }

private:
    std::vector<HookId> captures_;
    std::vector<std::pair<int, int>> zeroValues_, zeroOutputs_;
    std::vector<Edit> edits_;
    std::optional<std::vector<int64_t>> positions_;
    bool lastTokens_ = false;
    bool runToEnd_ = false;
};

// What a forward pass captured, by TransformerLens hook name. Tensors are float32, with batch dimension.
class ActivationCache {
public:
    bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
    const at::Tensor& at(const std::string& name) const;  // throws headlight::Error if not captured
    const std::map<std::string, at::Tensor>& tensors() const { return tensors_; }
    void insert(const std::string& name, at::Tensor value) { tensors_[name] = std::move(value); }

    // How far the pass went (early stop): blocks entered (0..L) and whether logits were computed.
    int layersRun() const { return layersRun_; }
    bool unembedded() const { return unembedded_; }
    void setRunInfo(int layersRun, bool unembedded) {
        layersRun_ = layersRun;
        unembedded_ = unembedded;
    }

private:
    std::map<std::string, at::Tensor> tensors_;
    int layersRun_ = 0;
    bool unembedded_ = false;
};

}  // namespace headlight
