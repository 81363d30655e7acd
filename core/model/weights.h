// Model weights in TransformerLens' form, by TL state-dict name, float32:
//   embed.W_E [V, d]            pos_embed.W_pos [n_ctx, d] (learned positions only)
//   blocks.L.ln1.w / .b [d]     blocks.L.ln2.w / .b [d]    (.b: LayerNorm only; gone after fold_ln)
//   blocks.L.attn.W_Q [H, d, dh]   W_K / W_V [Hkv, d, dh]   W_O [H, dh, d]
//   blocks.L.attn.b_Q [H, dh]      b_K / b_V [Hkv, dh]      b_O [d]     (zeros where the model has none)
//   blocks.L.mlp.W_in [d, m]  b_in [m]  W_gate [d, m] (gated MLPs)  W_out [m, d]  b_out [d]
//   ln_final.w / .b [d]         unembed.W_U [d, V]   unembed.b_U [V]
//   blocks.L.ln1_post.w / ln2_post.w [d]   norms of the attention / MLP output (Gemma 2/3 sandwich, OLMo 2)
//   blocks.L.attn.q_norm.w / k_norm.w [dh] (per head) or [H dh] / [Hkv dh] (OLMo 2: over the full width)
// Gemma's norm gains are stored as the 1 + w the pass multiplies by (as TL loads them); OLMo 2 has no ln1/ln2.
// Gated MLPs follow TL: W_in is the up projection, W_gate the gate, hook_post = act(x W_gate) * (x W_in).
// Loading converts each family's Hugging Face layout to this form; processing applies TL's recipe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/io/safetensors.h"
#include "core/model/config.h"
#include "core/model/processing.h"

namespace headlight {

class Checkpoint;

using StateDict = std::map<std::string, at::Tensor>;

// The TL names and shapes a model of `config` has, raw (with every norm parameter) or after fold_ln
// (no norm parameters).
std::vector<std::pair<std::string, std::vector<int64_t>>> expectedWeightShapes(const ModelConfig& config,
                                                                             bool normsFolded);

// Checks that `weights` holds exactly the expected raw tensors with the expected shapes (float dtype);
// throws headlight::Error naming `source` and the first missing, unexpected or misshapen tensor.
void validateWeights(const ModelConfig& config, const StateDict& weights, const std::string& source);

// Reads a checkpoint's tensors into raw TL form (float32 copies; F32/F16/BF16/F64 accepted).
// GPT-2 names with or without the "transformer." prefix; known buffers (attn.bias, masked_bias,
// rotary_emb.inv_freq) are ignored; any other unused tensor, a missing one or a wrong shape is an error.
StateDict loadWeights(const Checkpoint& checkpoint);
// The same with another reading of the architecture (tests switch one family piece off this way).
StateDict loadWeights(const Checkpoint& checkpoint, const ModelConfig& config);

// Applies TransformerLens' processing in TL's order (fold_ln, center_writing_weights, center_unembed,
// fold_value_biases) in place; returns the flags as applied (RMSNorm: no centring of writing weights).
WeightProcessing processWeights(StateDict& weights, const ModelConfig& config, const WeightProcessing& requested);

// Random raw weights for tests and benchmarks: matrices N(0, std²), norm gains 1, biases 0.
StateDict randomWeights(const ModelConfig& config, uint64_t seed, double std = 0.02);

// A float32 copy of a safetensors tensor (F32, F16, BF16 or F64).
at::Tensor tensorFromView(const io::TensorView& view);

}  // namespace headlight
