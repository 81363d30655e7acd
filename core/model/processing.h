// Weight processing flags (TransformerLens' fold_ln, center_writing_weights, center_unembed,
// fold_value_biases) and the weight hash: together with the model id they are a model's identity,
// recorded with every result. Torch-free, so the GUI and the bundle code can include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace headlight {

class Checkpoint;

// Which of TransformerLens' load-time weight transformations are applied (METHOD.md section 0).
// For RMSNorm models TransformerLens v1.14 folds only the norm gains (no bias, no centring of the
// reading weights) and skips center_writing_weights (no mean subtraction to make it a no-op);
// a loaded model reports the flags as actually applied, so centerWritingWeights reads false there.
struct WeightProcessing {
    bool foldLn = true;                // fold each norm's gain (and LayerNorm bias) into the weights reading it
    bool centerWritingWeights = true;  // centre W_E, W_pos, W_O, W_out (and b_O, b_out) over d_model
    bool centerUnembed = true;         // centre W_U over the vocabulary (and b_U)
    bool foldValueBiases = true;       // fold b_V into b_O (then b_V = 0)

    static WeightProcessing transformerLensDefaults() { return {}; }  // all four on (what the paper used)
    static WeightProcessing none() { return {false, false, false, false}; }  // raw weights

    bool any() const { return foldLn || centerWritingWeights || centerUnembed || foldValueBiases; }
    // "fold_ln, center_writing_weights, center_unembed, fold_value_biases" or "none (raw weights)".
    std::string describe() const;
    // {"fold_ln": true, "center_writing_weights": true, "center_unembed": true, "fold_value_biases": true}
    nlohmann::json toJson() const;
    // Inverse of toJson(); throws headlight::Error on a missing or non-boolean field.
    static WeightProcessing fromJson(const nlohmann::json& j);

    bool operator==(const WeightProcessing& o) const {
        return foldLn == o.foldLn && centerWritingWeights == o.centerWritingWeights &&
               centerUnembed == o.centerUnembed && foldValueBiases == o.foldValueBiases;
    }
    bool operator!=(const WeightProcessing& o) const { return !(*this == o); }
};

// XXH64 (Yann Collet's xxHash, 64-bit variant) of a byte range; hand-written, matches the reference.
uint64_t xxh64(const void* data, std::size_t size, uint64_t seed = 0);

// Streams tensors into one hash: each tensor's name, dtype, shape and XXH64 of its bytes, in the
// order added. Used for checkpoints (sorted names) and for models built from given weights.
class WeightHasher {
public:
    void add(const std::string& name, const std::string& dtype, const int64_t* shape, std::size_t rank,
             const void* data, std::size_t nbytes);
    std::string hex() const;   // "xxh64:" + 16 hex digits
private:
    std::string records_;      // name \0 dtype \0 shape... \0 data-hash, per tensor
};

// The hash of every tensor of a checkpoint (buffers included), independent of how it is sharded.
std::string checkpointWeightHash(const Checkpoint& checkpoint);

}  // namespace headlight
