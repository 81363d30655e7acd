// The Study: everything one run of the method produced, as small typed records. Torch-free; the
// bundle (core/study/bundle.h) stores it as one safetensors file. Field comments say what each is;
// METHOD.md names the steps.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace headlight {

// One MLP neuron: blocks.{layer}.mlp.hook_post[neuron].
struct NeuronRef {
    int layer = 0;   // 0-based layer
    int neuron = 0;  // index in d_mlp
    bool operator==(const NeuronRef& o) const { return layer == o.layer && neuron == o.neuron; }
    bool operator<(const NeuronRef& o) const { return layer != o.layer ? layer < o.layer : neuron < o.neuron; }
};
std::string neuronName(const NeuronRef& ref);  // "L3N127"

// A head: flat index layer * n_heads + head, in layer-major order.
std::string headName(int layer, int head);      // "L2H5"

// Step 1: a selected neuron and the token it promotes.
struct NextTokenNeuron {
    NeuronRef ref;            // which neuron
    int tokenId = -1;         // argmax_t of W_out[n] . W_U[:, t]
    std::string token;        // decoded text of tokenId (UTF-8), e.g. " only"
    float congruence = 0.f;   // max_t of the same dot product
    bool baseline = false;    // true for the random-neuron baseline
};

// Steps 2-3: one max-activating context of a neuron, truncated, with its head attribution.
struct NeuronContext {
    int64_t doc = 0;                  // 0-based document index in the corpus (reading order)
    std::string docSource;            // corpus file (relative) the document came from
    int64_t docLine = 0;              // 0-based line of that file
    int position = 0;                 // token index of the max in the document, BOS at index 0
    float activation = 0.f;           // the document's max activation (at position)
    int start = 0;                    // index where the kept prompt begins (same indexing; >= 1)
    float truncatedActivation = 0.f;  // activation at the last token of the truncated prompt (no BOS)
    std::vector<int> tokens;          // document tokens [1, position] (no BOS): the prompt is [start, position]
    std::vector<float> tokenActivations;  // the neuron's activation at each of `tokens` (full document run)
    std::string text;                 // decoded prompt, tokens [start, position]
    std::vector<float> headScores;    // score per head, all L*H heads layer-major; NaN where not a candidate
    std::vector<uint8_t> active;      // 1 where the head is active in this context (L*H entries)
    bool kept = true;                 // false: among the scan's top N but dropped (too long, duplicate
                                      // text, or past the first P); kept so that shard studies merge exactly
};

// Step 3 summary for one neuron.
struct NeuronResult {
    NextTokenNeuron neuron;                 // the neuron and its token
    std::vector<NeuronContext> contexts;    // the scan's top N, descending activation; `kept` marks the P used
    std::vector<int> candidateHeads;        // flat indices of the candidate heads, ascending
    std::vector<float> activeFraction;      // per head (L*H), fraction of contexts where active
    std::vector<int> relevantHeads;         // flat indices of relevant heads, ascending
};

// Every parameter of METHOD.md with the paper's defaults.
struct StudyParameters {
    std::vector<int> layers;                // layers studied
    int topK = 20;                          // neurons kept per layer (step 1)
    int randomPerLayer = 0;                 // random-neuron baseline neurons per layer (0: none)
    uint64_t randomSeed = 0;                // seed of the baseline selection
    int minTokenChars = 3;                  // decoded token length (code points) at least this
    bool requireWordBoundary = true;        // token must start with a space / U+2581
    std::vector<std::string> rejectTokens;  // token strings never selected
    std::vector<std::string> rejectNeurons; // "L{l}N{n}" never selected
    int topDocuments = 30;                  // N: documents kept per neuron by the scan (step 2)
    int maxDocuments = 0;                   // corpus documents scanned (0: all)
    double truncationRatio = 0.8;           // keep suffix while activation > ratio * max
    int maxContextTokens = 100;             // drop contexts of this many tokens or more
    int promptsPerNeuron = 20;              // P: contexts kept per neuron
    bool sameLayerHeads = false;            // candidate heads in layers <= l instead of < l
    double activeStdMultiplier = 2.0;       // active: s > mean + k * std (Bessel)
    double relevantMin = 0.25;              // relevant: active in at least this fraction ...
    double relevantMax = 0.75;              // ... and at most this fraction of contexts
    bool mimicNewlineRoundTrip = false;     // paper: replace newlines by spaces and re-tokenize
    int shardIndex = 0;                     // this run scanned shard shardIndex of shardCount
    int shardCount = 1;
    int64_t batchTokens = 4096;             // padded tokens per forward batch (results are bit-identical
                                            // across runs and shard merges for the same value)
};

// Where the numbers came from.
struct Provenance {
    std::string modelId;           // what the user gave (folder or hub id)
    std::string modelPath;         // the model folder, absolute ("" for a hub id); saveBundle fills it
    std::string modelPathRelative; // the same relative to the bundle's folder (saveBundle; "" if none)
    std::string modelFamily;       // gpt2 / gpt_neox / llama
    std::string weightHash;        // hash of the checkpoint tensors
    std::string processing;        // weight processing flags, e.g. "fold_ln,center_writing_weights,..."
    std::string tokenizer;         // tokenizer kind and source file
    std::string corpus;            // corpus path as given
    std::string corpusHash;        // SHA-256 of the corpus bytes
    int64_t corpusDocuments = 0;   // documents scanned
    int64_t corpusTokens = 0;      // tokens scanned
    std::string software;          // "headlight 0.1.0 (Qt ..., libtorch ...)"
    std::string createdAt;         // ISO 8601 UTC
};

// Congruence of every neuron of one studied layer (step 1, before selection).
struct LayerCongruence {
    int layer = 0;                  // which layer
    std::vector<float> maxValue;    // per neuron: max_t W_out[n] . W_U[:, t]
    std::vector<int> argmaxToken;   // per neuron: the maximising token
};

// Head zero-ablation experiment (METHOD.md section 6) for one (neuron, head).
struct AblationResult {
    NeuronRef neuron;                        // the neuron
    int head = 0;                            // flat head index
    std::vector<float> dropActive;           // probability drop of the neuron's token, contexts where the head is active
    std::vector<float> dropInactive;         // ... where it is not
    double ksStatistic = 0.0;                // two-sample KS D
    double ksPValue = 1.0;                   // its p-value
};

// Step 5: one held-out test context of a head explanation score.
struct ExplanationTest {
    int64_t doc = 0;                // 0-based line of the document in its held-out corpus file
    int64_t docIndex = 0;           // 0-based document index in the held-out corpus (reading order)
    std::string text;               // the context text (shown with the neuron's token appended)
    float activation = 0.f;         // the neuron's max activation in that document
    bool label = false;             // truth: the head is active in this context (steps 2-3 re-run)
    std::optional<bool> predicted;  // the classifier's Yes/No; empty: invalid reply
    std::string reply;              // the classifier's raw reply
};

// Steps 4-5: the explanation of one relevant (neuron, head) and its head explanation score E.
struct HeadExplanation {
    NeuronRef neuron;                 // the neuron
    bool baseline = false;            // the neuron's baseline flag (random-neuron baseline)
    int head = 0;                     // flat head index, layer * n_heads + head
    std::string source;               // "llm" or "baseline" (offline n-gram explainer, no LLM)
    std::string model;                // explainer model id ("ngram-log-odds" for the baseline)
    std::string endpoint;             // explainer URL, never the key ("" for the baseline)
    std::string prompt;               // rendered explainer prompt ("### role" lines start messages)
    std::string parameters;           // JSON: request parameters (baseline: its n-grams and threshold)
    std::string reply;                // raw reply (reasoning included)
    std::string explanation;          // the explanation (reasoning stripped)
    std::string error;                // "" or why the explainer request failed (then no explanation)
    int64_t promptTokens = 0;         // explainer usage
    int64_t completionTokens = 0;
    double cost = 0;                  // explainer cost (USD) at the configured prices
    std::string classifierModel;      // step 5: classifier model id ("" before scoring)
    std::string classifierEndpoint;   // classifier URL, never the key
    std::string classifierParameters; // JSON: classifier request parameters
    std::vector<ExplanationTest> tests;  // held-out test contexts, descending activation
    int64_t tp = 0, fn = 0, fp = 0, tn = 0;  // confusion matrix ("positive" = head active)
    int64_t invalid = 0;              // replies neither Yes nor No (not in the score)
    std::optional<double> score;      // E = balanced accuracy; empty: not scored, or one-class labels
    int64_t classifierPromptTokens = 0;      // classifier usage, all tests together
    int64_t classifierCompletionTokens = 0;
    double classifierCost = 0;        // classifier cost (USD)
};

// Step 5: where the held-out labels came from.
struct HeldOutProvenance {
    std::string corpus;               // held-out corpus path as given ("" before scoring)
    std::string corpusHash;           // its SHA-256 (analysis::corpusFingerprint)
    int testsPerHead = 10;            // test contexts per (neuron, head): the first, by activation
    std::string classifierTemplate;   // the classifier prompt template as used
    std::string createdAt;            // ISO 8601 UTC of the scoring run
};

struct Study {
    static constexpr int kSchemaVersion = 1;
    Provenance provenance;                   // where the numbers came from
    StudyParameters parameters;              // how they were made
    int nLayers = 0;                         // model shape, for head indexing
    int nHeads = 0;
    int dMlp = 0;
    std::vector<LayerCongruence> congruence; // per studied layer
    std::vector<NeuronResult> neurons;       // selected neurons (real first, then baseline)
    std::vector<AblationResult> ablations;   // optional validation experiment
    std::map<std::string, std::string> extra;  // free-form notes (JSON strings), kept on round trip
    std::vector<HeadExplanation> explanations;  // steps 4-5: LLM and baseline explanations with scores
    HeldOutProvenance heldOut;               // step 5: the held-out corpus of the scores

    const NeuronResult* find(const NeuronRef& ref, bool baseline = false) const;
};

}  // namespace headlight
