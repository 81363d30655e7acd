// The architecture of a checkpoint, read from a Hugging Face config.json. Torch-free.
// Family differences are named fields (norm kind, MLP kind, positional scheme, residual wiring), so the
// forward pass can be one function that consults them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <QString>

namespace headlight {

// Llama-layout families (Hugging Face "model.layers.L.self_attn/mlp" names) share one loader and one pass;
// what differs between them is the named pieces below, set from each family's config.json.
enum class Family { Gpt2, GptNeoX, Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma2, Gemma3, Olmo2, Phi3 };
enum class NormKind { LayerNorm, RmsNorm };
enum class MlpKind { Standard, Gated };          // W_out(act(W_in x)) or down(act(gate x) * up x)
enum class PositionalKind { Learned, Rotary };
enum class Activation { GeluNew, Gelu, Silu, Relu };

enum class RopeScaling { None, Linear, Llama3 };  // rope_scaling rope_type ("default" = None)
enum class QkNorm { None, PerHead, FullWidth };   // RMSNorm of q and k before RoPE: over d_head (shared by heads) or H*d_head
enum class BlockNorms { Pre, Sandwich, PostOnly }; // ln1/ln2 before attention/MLP; + ln1_post/ln2_post on their
                                                   // outputs (Gemma 2/3); only the post norms (OLMo 2)

const char* familyName(Family family);           // "gpt2", "gpt_neox", "llama", "mistral", "qwen2", ...
const char* activationName(Activation act);      // "gelu_new", ...

struct ModelConfig {
    Family family = Family::Gpt2;    // which model family
    std::string modelType;           // config.json's model_type
    std::string architecture;        // config.json's architectures[0], if any
    int nLayers = 0;                 // L
    int dModel = 0;                  // d
    int nHeads = 0;                  // H (query heads)
    int nKvHeads = 0;                // key/value heads (== nHeads unless grouped-query attention)
    int dHead = 0;                   // per-head dimension
    int dMlp = 0;                    // m, MLP hidden size
    int dVocab = 0;                  // V
    int nCtx = 0;                    // maximum sequence length
    double normEps = 1e-5;           // LayerNorm / RMSNorm epsilon
    NormKind norm = NormKind::LayerNorm;
    MlpKind mlp = MlpKind::Standard;
    PositionalKind positional = PositionalKind::Learned;
    Activation act = Activation::GeluNew;
    bool parallelResidual = false;   // attention and MLP both read resid_pre (GPT-NeoX)
    int rotaryDim = 0;               // rotated dims per head (rotary only)
    double rotaryBase = 10000.0;     // rotary theta
    bool tiedEmbeddings = false;     // unembedding = embedding^T
    bool attnBias = true;            // q/k/v biases present
    bool attnOutBias = true;         // o_proj bias present (Qwen 2: q/k/v biases but none on o_proj)
    bool mlpBias = true;             // MLP biases present
    std::optional<int> bosTokenId;   // the BOS prepended to every prompt; nullopt where the family adds none
                                     // (Qwen 2/3, OLMo 2: config.json may still name one, see configBosTokenId)
    std::optional<int> configBosTokenId;  // config.json's bos_token_id as written
    std::optional<int> eosTokenId;
    std::string torchDtype;          // config.json's torch_dtype, informational

    // ---- family pieces of the one forward pass (defaults: none, i.e. GPT-2 / Llama-2 behaviour)
    RopeScaling ropeScaling = RopeScaling::None;  // applied to the global rotary base's frequencies
    double ropeFactor = 1.0;                      // linear / llama3 factor
    double ropeLowFreqFactor = 1.0, ropeHighFreqFactor = 4.0;  // llama3
    int ropeOriginalContext = 8192;               // llama3 original_max_position_embeddings
    double rotaryBaseLocal = 0;      // rotary theta on sliding-window layers (Gemma 3: 1e4); 0: rotaryBase
    int slidingWindow = 0;           // keys a local layer's query sees, itself included (HF >= 4.46); 0: none
    std::vector<bool> localLayers;   // per layer: sliding-window attention (empty: none)
    QkNorm qkNorm = QkNorm::None;
    bool normPlusOne = false;        // RMSNorm gains stored as w, applied as 1 + w (Gemma); loaded as 1 + w
    double embedScale = 1.0;         // the embedding is multiplied by this before block 0 (Gemma: sqrt(d_model))
    BlockNorms blockNorms = BlockNorms::Pre;
    double attnSoftcap = 0;          // scores = cap * tanh(scores / cap) before the mask (0: off)
    double finalSoftcap = 0;         // logits = cap * tanh(logits / cap) (0: off)
    double queryPreAttnScalar = 0;   // scores scaled by its ^-1/2 (0: d_head)

    bool isLocalLayer(int l) const { return l >= 0 && l < static_cast<int>(localLayers.size()) && localLayers[l]; }
    bool hasPreNorms() const { return blockNorms != BlockNorms::PostOnly; }
    bool hasPostNorms() const { return blockNorms != BlockNorms::Pre; }
    double attnScale() const;        // the factor on q.k
    // The family pieces in use, one line: "rope llama3 x32, sliding window 8 on 2/3 layers, soft-cap 50/30, ..."
    std::string featureSummary() const;

    // Parses config.json text; `source` names the file in error messages. Throws headlight::Error.
    static ModelConfig fromJsonText(const std::string& text, const std::string& source);
    static ModelConfig fromFile(const QString& path);

    std::string summary() const;     // one line: "llama, 5 layers, d_model 64, ..."
};

}  // namespace headlight
