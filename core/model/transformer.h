// One decoder-only transformer for GPT-2, GPT-NeoX/Pythia and Llama, with TransformerLens hooks.
// The family differences are small named parts of the one forward pass (see transformer.cpp):
// positional scheme (learned / rotary), norm (LayerNorm / RMSNorm, or their folded "Pre" forms),
// MLP (standard / gated), residual wiring (sequential / parallel), attention (multi-head / grouped-query).
//
//   Transformer model = Transformer::load("gpt2");                 // TL's default weight processing
//   HookSet hooks; hooks.capture("blocks.5.mlp.hook_post");
//   ActivationCache cache = model.run(TokenBatch::single(ids), hooks);
//
// A Transformer is immutable after loading and cheap to copy (shared state); run() is const and may
// be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <QString>

#include "core/model/config.h"
#include "core/model/hooks.h"
#include "core/model/processing.h"
#include "core/model/weights.h"

namespace headlight {

class Checkpoint;

enum class ComputeDType { Float32, BFloat16 };

struct LoadOptions {
    WeightProcessing processing = WeightProcessing::transformerLensDefaults();  // none() for raw weights
    ComputeDType dtype = ComputeDType::Float32;   // BFloat16: weights converted once; captures stay float32
    // Where the forward pass runs: "cpu", "cuda", "cuda:N" or "auto" (CUDA when a GPU is visible);
    // empty: $HEADLIGHT_DEVICE, else "cpu". Captures always come back as CPU tensors, and weight()
    // stays on the CPU, so nothing outside the engine needs to know.
    std::string device;
};

// The device `name` means (see LoadOptions::device). Throws headlight::Error for an unknown name or
// a CUDA device that this libtorch cannot reach (a CPU-only build, no GPU visible, index too high).
c10::Device resolveDevice(const std::string& name);

// Token ids of one or more sequences, right-padded to a common length. With a causal mask real
// tokens never attend to the padding behind them, so each row computes exactly what it would alone.
// Packed: several sequences concatenated in one row (`segments` their lengths); each gets positions
// 0.. of its own and attends only within itself (a block-diagonal causal mask, run block by block), so
// it computes what it would alone, up to the summation order of the GEMMs over all rows.
struct TokenBatch {
    at::Tensor ids;                 // [B, T] int64
    std::vector<int64_t> lengths;   // real tokens per row, 1..T
    std::vector<int64_t> segments;  // packed (B = 1): lengths of the sequences in the row; empty: one per row

    static TokenBatch single(const std::vector<int64_t>& ids);
    static TokenBatch single(const std::vector<int>& ids);
    static TokenBatch padded(const std::vector<std::vector<int64_t>>& rows, int64_t padId = 0);
    static TokenBatch padded(const std::vector<std::vector<int>>& rows, int64_t padId = 0);
    static TokenBatch packed(const std::vector<std::vector<int>>& sequences);  // one row, no padding
    int64_t rows() const { return static_cast<int64_t>(lengths.size()); }
};

// The model's identity for provenance: where it came from, its weight hash and the processing applied.
struct ModelIdentity {
    std::string modelId;              // what the user gave (folder or hub id), or a label for built models
    std::string weightHash;           // "xxh64:..." over the checkpoint's (or given) tensors
    WeightProcessing processing;      // as applied
    std::string computeDType;         // "float32" or "bfloat16"
    std::string describe() const;     // one line
    nlohmann::json toJson() const;
};

class Transformer {
public:
    // Loads a checkpoint folder or hub id.
    static Transformer load(const QString& dirOrHubId, const LoadOptions& options = {});
    static Transformer fromCheckpoint(const Checkpoint& checkpoint, const LoadOptions& options = {});
    // Builds a model from raw TL-form weights (names and shapes as in weights.h; validated), e.g. from
    // randomWeights(config, seed) or hand-planted circuits; the options' processing is applied to them.
    static Transformer fromWeights(const ModelConfig& config, StateDict rawWeights, const LoadOptions& options = {},
                                   const std::string& modelId = "in-memory");

    const ModelConfig& config() const;
    const ModelIdentity& identity() const;
    const WeightProcessing& processing() const { return identity().processing; }
    const std::string& weightHash() const { return identity().weightHash; }
    ComputeDType computeDType() const;
    c10::Device device() const;   // where the forward pass runs
    std::optional<int> bosTokenId() const { return config().bosTokenId; }

    // A processed weight by TL name ("blocks.3.mlp.W_in", "unembed.W_U", "embed.W_E"; the short
    // forms W_E, W_pos, W_U, b_U are accepted), float32, in TL's shape (may be a non-contiguous view).
    // Norm parameters exist only when fold_ln is off. Throws headlight::Error for unknown names.
    at::Tensor weight(const std::string& name) const;
    bool hasWeight(const std::string& name) const;
    std::vector<std::string> weightNames() const;

    // The method's readings where a norm sits between a component and the residual stream (Gemma 2/3
    // post-attention and post-MLP norms, OLMo 2's post-norm blocks). The norm's gain is folded in and its
    // 1/RMS scale frozen, as the paper freezes LayerNorm scales (METHOD.md; docs/user-guide.md):
    //   residualWOut(l) = W_out · diag(ln2_post.w)  [m, d]: what neuron n writes, up to the frozen 1/RMS of
    //     the MLP output (a positive factor shared by every neuron and token at a position), so congruence
    //     W_out · W_U keeps its meaning and ranking;
    //   headContributions(cache, l) = hook_result · diag(ln1_post.w) / ln1_post.hook_scale: each head's exact
    //     share of hook_attn_out at the captured positions (they sum, with b_O's share, to it), read by r · W_in.
    // Without post norms both are W_out and hook_result themselves. Describe the choice: postNormReading().
    at::Tensor residualWOut(int layer) const;
    void captureHeadContributions(HookSet& hooks, int layer) const;   // the hooks headContributions() reads
    at::Tensor headContributions(const ActivationCache& cache, int layer) const;  // shape of hook_result
    std::string postNormReading() const;  // "" without post norms, else one line for provenance

    // The forward pass. Validates the batch (ids within the vocabulary, length <= n_ctx) and the hooks
    // (layers, heads and points that exist in this model); throws headlight::Error otherwise.
    ActivationCache run(const TokenBatch& batch, const HookSet& hooks) const;
    ActivationCache run(const std::vector<int64_t>& ids, const HookSet& hooks) const {
        return run(TokenBatch::single(ids), hooks);
    }

    struct Impl;

private:
    explicit Transformer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

}  // namespace headlight
