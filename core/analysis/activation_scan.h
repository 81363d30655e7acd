// Step 2 of METHOD.md, the scan: one pass over a corpus computes, for all selected neurons (of any
// layers) at once, each document's max activation (blocks.{l}.mlp.hook_post[n], BOS prepended, cut at
// n_ctx, positions after BOS) and keeps the top N documents per neuron in memory neurons x N.
// Batching plan (fixed, depends only on global document indices): groups of 8 consecutive indices;
// inside a group, documents packed in order into passes of at most 1,024 tokens (no padding: each keeps
// positions 0.. of its own and attends only to itself; a longer document runs alone). A shard holds
// whole groups (CorpusOptions::shardBlock) and checkpoints fall between groups, so a document always
// meets the same neighbours in the same pass: a merge of shards, or a resumed scan, equals the single
// run bit for bit. Cancellable, resumable from a checkpoint file, shardable. Torch-free header.
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

// Documents per group of the batching plan; a shard holds whole groups, so a reader of the documents a
// shard scanned sets CorpusOptions::shardBlock to it (the scan does so itself).
constexpr int64_t kScanGroupDocuments = 8;

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

// The batching plan: the passes the scan runs for `documents` (global index, tokens with BOS), given in
// reading order; each pass the global indices of the documents packed into it.
std::vector<std::vector<int64_t>> scanPlan(const std::vector<std::pair<int64_t, int64_t>>& documents);

// Token ids of a document as the scan runs it: BOS (if the model has one) + tokens, cut at n_ctx.
std::vector<int> documentTokens(const Transformer& model, const Tokenizer& tokenizer, const std::string& text);

}  // namespace headlight::analysis
