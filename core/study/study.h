// The Study: everything one run of the method produced: the records of core/records/ with the parameters
// and provenance that made them. Torch-free; the bundle (core/study/bundle.h) stores it as one
// safetensors file. Field comments say what each is; METHOD.md names the steps.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/records/ablation.h"
#include "core/records/explanation.h"
#include "core/records/neuron.h"

namespace headlight {

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
    std::vector<std::string> neurons;       // "L{l}N{n}": study exactly these (step 1's selection and the
                                            // baseline are skipped; layers default to theirs); empty: select
    int topDocuments = 30;                  // N: documents kept per neuron by the scan (step 2)
    int maxDocuments = 0;                   // corpus documents scanned (0: all)
    double truncationRatio = 0.8;           // keep suffix while activation > ratio * max
    int maxContextTokens = 100;             // drop contexts of this many tokens or more
    int promptsPerNeuron = 20;              // P: contexts kept per neuron
    bool sameLayerHeads = false;            // candidate heads in layers <= l instead of < l
    AttributionScore attributionScore = AttributionScore::UpProjection;  // step 3's score: the paper's
                                            // W_in column, or gate-aware for gated MLPs (attribution.h)
    double activeStdMultiplier = 2.0;       // active: s > mean + k * std (Bessel)
    double relevantMin = 0.25;              // relevant: active in at least this fraction ...
    double relevantMax = 0.75;              // ... and at most this fraction of contexts
    bool mimicNewlineRoundTrip = false;     // paper: replace newlines by spaces and re-tokenize
    int shardIndex = 0;                     // this run scanned shard shardIndex of shardCount
    int shardCount = 1;
    int64_t shardBlock = 8;                 // documents dealt to a shard together (the scan's groups,
                                            // analysis::kScanGroupDocuments; 1 in bundles made before
                                            // the scan packed documents): shards merge only with equals
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
