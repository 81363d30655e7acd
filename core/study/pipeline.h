// Steps 1-3 of METHOD.md end to end, as one call the GUI and the CLI both drive: load the model,
// rank next-token neurons (congruence + the paper's selection, plus the random baseline), scan the
// corpus, truncate, attribute heads, mark active/relevant heads, and return the Study. Torch-free.
#pragma once

#include <QString>

#include "core/analysis/ablation.h"
#include "core/analysis/congruence.h"
#include "core/base/progress.h"
#include "core/study/study.h"

namespace headlight {

class Transformer;
class Tokenizer;

struct PipelineOptions {
    QString model;                   // checkpoint folder or hub id
    QString corpus;                  // JSON Lines / text file or folder
    QString textField = "text";      // JSON Lines field
    bool rawWeights = false;         // turn TransformerLens' weight processing off
    bool bf16 = false;               // compute in bfloat16 (captures stay float32)
    QString device;                  // "cpu", "cuda", "cuda:N", "auto"; empty: $HEADLIGHT_DEVICE or the CPU
    StudyParameters parameters;      // every METHOD.md parameter (layers empty: the last 3 layers)
    QString checkpointPath;          // scan checkpoint for resuming; empty: none
    int64_t batchTokens = 4096;      // padded tokens per forward batch
};

// Step names reported through Progress messages: "congruence", "scan", "truncate", "attribute".
// Throws headlight::Cancelled if cancelled, headlight::Error on bad input.
Study runStudyPipeline(const PipelineOptions& options, const Progress& progress = {});

// The same with a model and tokenizer already loaded (tests build planted models in memory).
Study runStudyPipeline(const Transformer& model, const Tokenizer& tokenizer, const PipelineOptions& options,
                       const Progress& progress = {});

// Step 1 alone: the selected neurons (real, then baseline) for options.parameters' layers.
std::vector<NextTokenNeuron> rankNextTokenNeurons(const PipelineOptions& options, const Progress& progress = {});

// Step 1 read the other way, token -> neurons: every neuron of options.parameters.layers (default the
// last 3) ranked by its congruence W_out[n] . W_U[:, token] with `token` (text that must be exactly one
// token of the model's tokenizer), best first, at most `top` rows (all when top < 0). Neurons outside any
// study are included. Throws headlight::Error if `token` is not one token.
using TokenNeuronRow = analysis::TokenNeuronRow;  // core/analysis/congruence.h (the GUI ranks with a loaded model)
std::vector<TokenNeuronRow> rankNeuronsForToken(const PipelineOptions& options, const std::string& token, int top,
                                                const Progress& progress = {});

// Adds the head-ablation experiment (METHOD.md section 6) to a study; `model` overrides the model
// recorded in its provenance (same weights required: the weight hash is checked). With options, the
// experiments of analysis::runAblations (mode, heads, neuron groups; sameLayerHeads is taken from the
// study); its records replace those of the same (neuron, mode, heads, group), the others are kept.
// The heads and neurons are checked against the study before the model is loaded.
void addAblations(Study& study, const QString& model = {}, const Progress& progress = {});
// Returns where the fresh records are in study.ablations.
std::vector<std::size_t> addAblations(Study& study, const analysis::AblationOptions& options, const QString& model = {},
                                      const Progress& progress = {});

// Look-ups on demand (issue 13): the look-up of flat head `head` in each of `contexts` (indices into
// neuron.contexts), for pairs a bundle lacks (made before look-ups were stored, or a head that was not
// active there). Runs step 3's attribution pass with the study's model (`model` overrides the one in
// the provenance; the weight hash must match), weight processing and attribution score. Throws
// headlight::Error when the head is not a candidate of the neuron or a context is past the length cut.
std::vector<HeadLookup> computeLookups(const Provenance& provenance, const StudyParameters& parameters,
                                       const NeuronResult& neuron, const std::vector<int>& contexts, int head,
                                       const QString& model = {}, const Progress& progress = {});

// Completing a study made by an older Headlight (issue 13): what its bundle lacks, computed with the
// study's model (weight hash checked) and stored as a fresh run would store it.
struct CompletionOptions {
    QString model;               // overrides the model in the provenance (weight hash must match)
    QString corpus;              // overrides the corpus in the provenance (its SHA-256 must match)
    QString textField = "text";  // JSON Lines field the study was scanned with
    bool lookups = true;         // look-ups of the active heads of every kept context
    bool tokenFacts = true;      // promoted / suppressed tokens
    bool histograms = true;      // activation histograms: a scan of the whole corpus for those neurons
};
struct Completion {
    int64_t lookups = 0;      // look-ups added
    int64_t tokenFacts = 0;   // neurons given promoted / suppressed tokens
    int64_t histograms = 0;   // neurons given an activation histogram
    int64_t total() const { return lookups + tokenFacts + histograms; }
};
// What completeStudy would add, without a model (nothing to add: all zero).
Completion missingFromStudy(const Study& study, const CompletionOptions& options = {});
// Adds the missing parts in place. A recomputed head score that differs from the stored one, a corpus
// whose hash differs, or a histogram whose maximum is not the neuron's top activation throws
// headlight::Error (the inputs are not the study's); nothing is changed then. Cancellable.
Completion completeStudy(Study& study, const CompletionOptions& options, const Progress& progress = {});

// Merges shard studies of one run (same model, corpus, parameters; shards 0..N-1): the scans' top N
// merge exactly, then truncation and attribution run once on the merged contexts with the model
// (`model` overrides the one recorded in the shards; the weight hash must match), so the result equals
// a single-machine run bit for bit. Throws headlight::Error naming what differs.
Study mergeStudies(const std::vector<Study>& shards, const QString& model = {}, const Progress& progress = {});

}  // namespace headlight
