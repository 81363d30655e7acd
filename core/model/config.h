// The architecture of a checkpoint, read from a Hugging Face config.json. Torch-free.
// Family differences are named fields (norm kind, MLP kind, positional scheme, residual wiring), so the
// forward pass can be one function that consults them.
#pragma once

#include <optional>
#include <string>

#include <QString>

namespace headlight {

enum class Family { Gpt2, GptNeoX, Llama };
enum class NormKind { LayerNorm, RmsNorm };
enum class MlpKind { Standard, Gated };          // W_out(act(W_in x)) or down(act(gate x) * up x)
enum class PositionalKind { Learned, Rotary };
enum class Activation { GeluNew, Gelu, Silu, Relu };

const char* familyName(Family family);           // "gpt2", "gpt_neox", "llama"
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
    bool attnBias = true;            // q/k/v/o biases present
    bool mlpBias = true;             // MLP biases present
    std::optional<int> bosTokenId;   // from config.json
    std::optional<int> eosTokenId;
    std::string torchDtype;          // config.json's torch_dtype, informational

    // Parses config.json text; `source` names the file in error messages. Throws headlight::Error.
    static ModelConfig fromJsonText(const std::string& text, const std::string& source);
    static ModelConfig fromFile(const QString& path);

    std::string summary() const;     // one line: "llama, 5 layers, d_model 64, ..."
};

}  // namespace headlight
