// Step 2 of METHOD.md, the scan: one pass over a corpus computes, for all selected neurons (of any
// layers) at once, each document's max activation (blocks.{l}.mlp.hook_post[n], BOS prepended, cut at
// n_ctx, positions after BOS) and keeps the top N documents per neuron in memory neurons x N.
// Each document runs in a forward pass of its own (no padding, no neighbours), as the paper's code runs
// it: a document's activations never depend on which other documents are in the corpus or shard, so a
// merge of shards equals the single run bit for bit. Cancellable, resumable from a checkpoint file,
// shardable. Torch-free header.
#pragma once

#include <string>
#include <vector>

#include <QString>

#include "core/analysis/activation_histogram.h"
#include "core/analysis/corpus.h"
#include "core/analysis/topk.h"
#include "core/base/progress.h"
#include "core/records/names.h"

namespace headlight {
class Transformer;
class Tokenizer;
}  // namespace headlight

namespace headlight::analysis {

struct ScanOptions {
    std::vector<NeuronRef> neurons;           // neurons to scan, any layers; results follow this order
    int topDocuments = 30;                    // N: documents kept per neuron
    CorpusOptions corpus;                     // text field, maxDocuments, shard
    QString checkpointPath;                   // resumable state; empty: none
    int64_t checkpointEveryDocuments = 500;   // write the checkpoint this often
};

struct ScanResult {
    std::vector<NeuronRef> neurons;  // as in the options
    TopKAccumulator top;             // per neuron (same order): best (value, document, position)
    HistogramAccumulator histogram;  // per neuron (same order): every activation after BOS, same pass
    CorpusStats stats;               // what the corpus reader saw
    int64_t documents = 0;           // documents scanned (non-empty, this shard)
    int64_t tokens = 0;              // tokens run through the model (with BOS)
    std::string corpusHash;          // SHA-256 of the corpus
    bool resumed = false;            // true if the scan continued from a checkpoint
};

// Runs the scan. Throws headlight::Cancelled when cancelled (after writing the checkpoint if one is
// configured), headlight::Error on bad input (unknown layer/neuron, unreadable corpus, a checkpoint
// from another scan).
ScanResult runActivationScan(const Transformer& model, const Tokenizer& tokenizer, const QString& corpusPath,
                             const ScanOptions& options, const Progress& progress = {});

// Token ids of a document as the scan runs it: BOS (if the model has one) + tokens, cut at n_ctx.
std::vector<int> documentTokens(const Transformer& model, const Tokenizer& tokenizer, const std::string& text);

}  // namespace headlight::analysis
