#include "core/analysis/activation_scan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include <QFileInfo>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

namespace {

struct PendingDocument {
    int64_t index;            // global document index
    std::vector<int> ids;     // BOS + tokens, cut at n_ctx
};

// The selected neurons grouped by layer: for each layer, the neuron indices and their slots in the result.
struct LayerSelection {
    int layer;
    std::vector<int64_t> neurons;  // indices in d_mlp
    std::vector<int64_t> slots;    // positions in ScanOptions::neurons
    at::Tensor neuronTensor;       // neurons as an int64 tensor for index_select
};

std::vector<LayerSelection> groupByLayer(const Transformer& model, const std::vector<NeuronRef>& neurons) {
    std::map<int, LayerSelection> byLayer;
    for (std::size_t i = 0; i < neurons.size(); ++i) {
        const NeuronRef& r = neurons[i];
        if (r.layer < 0 || r.layer >= model.config().nLayers)
            throw Error("scan: " + neuronName(r) + " names a layer the model does not have");
        if (r.neuron < 0 || r.neuron >= model.config().dMlp)
            throw Error("scan: " + neuronName(r) + " is outside d_mlp = " + std::to_string(model.config().dMlp));
        LayerSelection& s = byLayer[r.layer];
        s.layer = r.layer;
        s.neurons.push_back(r.neuron);
        s.slots.push_back(static_cast<int64_t>(i));
    }
    std::vector<LayerSelection> out;
    for (auto& [layer, s] : byLayer) {
        s.neuronTensor = torch::tensor(s.neurons, torch::kLong);
        out.push_back(std::move(s));
    }
    return out;
}

// ---- the batching plan -------------------------------------------------------------------------------
// Documents are scanned in groups of kGroupDocuments consecutive global indices (a shard holds whole
// groups: CorpusOptions::shardBlock), and inside a group packed in order into passes of at most
// kPackTokens tokens (a longer document runs alone, as before). Each packed document keeps positions
// 0.. of its own and attends only to itself, so the plan, and with it every number, depends only on the
// corpus: never on sharding, maxDocuments cutting a later group, or a resume (checkpoints fall between
// groups).
constexpr int64_t kGroupDocuments = kScanGroupDocuments;
constexpr int64_t kPackTokens = 1024;

int64_t groupOf(int64_t documentIndex) { return documentIndex / kGroupDocuments; }

// The passes of a group (its documents' token counts, in order): [begin, end) ranges of documents.
std::vector<std::pair<std::size_t, std::size_t>> packGroup(const std::vector<int64_t>& lengths) {
    std::vector<std::pair<std::size_t, std::size_t>> passes;
    int64_t tokens = 0;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        const int64_t n = lengths[i];
        if (passes.empty() || tokens + n > kPackTokens) {
            passes.push_back({i, i});
            tokens = 0;
        }
        ++passes.back().second;
        tokens += n;
    }
    return passes;
}

// One document's per-neuron maxima (all scanned neurons, in ScanOptions order), to be offered.
struct DocumentMaxima {
    int64_t document = -1;
    std::vector<float> values;
    std::vector<int32_t> positions;
};

// THE place every document's activations pass through: `acts` [positions, k] are the scanned neurons
// of one layer (selection `s`) at every position of the document, BOS included. Keeps each neuron's
// maximum over positions >= 1 (after BOS) and its position.
void takeDocumentActivations(const LayerSelection& s, const at::Tensor& acts, DocumentMaxima& out) {
    const auto [values, argmax] = acts.narrow(0, 1, acts.size(0) - 1).max(0);  // [k]
    const at::Tensor v = values.to(at::kFloat).contiguous();
    const at::Tensor p = argmax.to(torch::kInt).contiguous();
    const float* vp = v.data_ptr<float>();
    const int32_t* pp = p.data_ptr<int32_t>();
    for (std::size_t j = 0; j < s.slots.size(); ++j) {
        out.values[s.slots[j]] = vp[j];
        out.positions[s.slots[j]] = pp[j] + 1;
    }
}

// Runs one pass of the plan (documents packed in one row; a single one alone), appends each
// document's maxima to `out` and offers its activations (positions after BOS) to `histogram`.
void scanPass(const Transformer& model, const std::vector<LayerSelection>& layers, std::size_t neurons,
              const PendingDocument* docs, std::size_t count, std::vector<DocumentMaxima>& out,
              HistogramAccumulator& histogram) {
    std::vector<std::vector<int>> rows;
    for (std::size_t i = 0; i < count; ++i) rows.push_back(docs[i].ids);
    const TokenBatch batch = count == 1 ? TokenBatch::single(rows[0]) : TokenBatch::packed(rows);
    HookSet hooks;
    for (const LayerSelection& s : layers) hooks.capture("blocks." + std::to_string(s.layer) + ".mlp.hook_post");
    const ActivationCache cache = model.run(batch, hooks);
    const std::size_t first = out.size();
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back({docs[i].index, std::vector<float>(neurons), std::vector<int32_t>(neurons)});
    }
    for (const LayerSelection& s : layers) {
        const at::Tensor post = cache.at("blocks." + std::to_string(s.layer) + ".mlp.hook_post")[0];  // [T, m]
        const at::Tensor acts = post.index_select(1, s.neuronTensor);                                // [T, k]
        int64_t start = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const int64_t n = static_cast<int64_t>(docs[i].ids.size());
            const at::Tensor doc = acts.narrow(0, start, n);
            takeDocumentActivations(s, doc, out[first + i]);
            const at::Tensor rows = doc.to(at::kFloat).contiguous();  // the activation histogram, after BOS
            histogram.offerRows(s.slots, rows.data_ptr<float>() + rows.size(1), n - 1, rows.size(1));
            start += n;
        }
    }
}

// ---- checkpoint: the accumulator + the corpus position, in one safetensors file written atomically

nlohmann::json scanIdentity(const Transformer& model, const ScanOptions& o, const std::string& corpusHash) {
    nlohmann::json neurons = nlohmann::json::array();
    for (const NeuronRef& r : o.neurons) neurons.push_back(neuronName(r));
    return {{"model", model.weightHash()},        {"processing", model.processing().describe()},
            {"neurons", neurons},                 {"top_documents", o.topDocuments},
            {"corpus_hash", corpusHash},          {"text_field", o.corpus.textField},
            {"max_documents", o.corpus.maxDocuments}, {"shard_index", o.corpus.shardIndex},
            {"shard_count", o.corpus.shardCount},  {"plan", "groups of " + std::to_string(kGroupDocuments) +
                                                                " documents, packed to " + std::to_string(kPackTokens) + " tokens"}};
}

void writeCheckpoint(const QString& path, const nlohmann::json& identity, const TopKAccumulator& top,
                     const HistogramAccumulator& histogram, const CorpusPosition& position, int64_t documents,
                     int64_t tokens) {
    const TopKFlat flat = top.toFlat();
    io::SafetensorsWriter w;
    w.add("values", io::DType::F32, {flat.neurons, flat.k}, flat.values);
    w.add("documents", io::DType::I64, {flat.neurons, flat.k}, flat.documents);
    w.add("positions", io::DType::I32, {flat.neurons, flat.k}, flat.positions);
    w.add("counts", io::DType::I32, {flat.neurons}, flat.counts);
    w.add("histogram.counts", io::DType::I64, {flat.neurons, histogram_bins::kBins}, histogram.counts());
    w.add("histogram.nan", io::DType::I64, {flat.neurons}, histogram.nanCounts());
    w.add("histogram.min", io::DType::F32, {flat.neurons}, histogram.minima());
    w.add("histogram.max", io::DType::F32, {flat.neurons}, histogram.maxima());
    nlohmann::json state = {{"identity", identity},
                            {"position", toJson(position)},
                            {"documents", documents},
                            {"tokens", tokens}};
    w.setMetadata("headlight.scan_checkpoint", state.dump());
    w.write(path);
}

// A checkpoint tensor as a vector: dtype and shape must be exactly as written (never trust sizes).
template <typename T>
std::vector<T> readVector(const io::SafetensorsFile& file, const char* name, io::DType dtype,
                          const std::vector<int64_t>& shape, const std::string& where) {
    const io::TensorView* view = file.find(name);
    io::TensorView expected;
    expected.shape = shape;
    if (!view) throw Error(where + ": tensor '" + name + "' is missing; delete it to start over");
    if (view->dtype != dtype || view->shape != shape || view->nbytes != sizeof(T) * static_cast<std::size_t>(expected.numel()))
        throw Error(where + ": tensor '" + name + "' is " + io::dtypeName(view->dtype) + " " + view->shapeString() +
                    ", expected " + io::dtypeName(dtype) + " " + expected.shapeString() + "; delete it to start over");
    std::vector<T> out(static_cast<std::size_t>(expected.numel()));
    if (view->nbytes) std::memcpy(out.data(), view->data, view->nbytes);
    return out;
}

// A checkpoint's JSON state field, or an error naming it.
template <typename T>
T stateField(const nlohmann::json& state, const char* key, const std::string& where) {
    if (!state.is_object() || !state.contains(key)) throw Error(where + ": field '" + key + "' is missing; delete it to start over");
    try {
        return state.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw Error(where + ": field '" + std::string(key) + "' has the wrong type; delete it to start over");
    }
}

// Reads a checkpoint written by writeCheckpoint for the scan `identity` (false: none). Validated like a
// bundle: dtypes and shapes as written, entries in order, every kept position inside the model's
// context and every document before the checkpoint's corpus position.
bool readCheckpoint(const QString& path, const nlohmann::json& identity, int nCtx, TopKAccumulator& top,
                    HistogramAccumulator& histogram, CorpusPosition& position, int64_t& documents, int64_t& tokens) {
    if (!QFileInfo::exists(path)) return false;
    const std::string where = "scan checkpoint " + path.toStdString();
    const io::SafetensorsFile file = io::SafetensorsFile::open(path);
    const auto meta = file.metadata().find("headlight.scan_checkpoint");
    if (meta == file.metadata().end()) throw Error(where + ": not a scan checkpoint");
    const nlohmann::json state = nlohmann::json::parse(meta->second, nullptr, false);
    if (state.is_discarded()) throw Error(where + ": metadata is not valid JSON; delete it to start over");
    if (stateField<nlohmann::json>(state, "identity", where) != identity)
        throw Error(where + " belongs to another scan (model, neurons, corpus or options differ); "
                            "delete it to start over");
    const int64_t neurons = top.neurons();
    const int32_t k = top.k();
    TopKFlat flat;
    flat.neurons = neurons;
    flat.k = k;
    flat.values = readVector<float>(file, "values", io::DType::F32, {neurons, k}, where);
    flat.documents = readVector<int64_t>(file, "documents", io::DType::I64, {neurons, k}, where);
    flat.positions = readVector<int32_t>(file, "positions", io::DType::I32, {neurons, k}, where);
    flat.counts = readVector<int32_t>(file, "counts", io::DType::I32, {neurons}, where);
    histogram.counts() = readVector<int64_t>(file, "histogram.counts", io::DType::I64, {neurons, histogram_bins::kBins}, where);
    histogram.nanCounts() = readVector<int64_t>(file, "histogram.nan", io::DType::I64, {neurons}, where);
    histogram.minima() = readVector<float>(file, "histogram.min", io::DType::F32, {neurons}, where);
    histogram.maxima() = readVector<float>(file, "histogram.max", io::DType::F32, {neurons}, where);
    for (int64_t c : histogram.counts())
        if (c < 0) throw Error(where + ": tensor 'histogram.counts' has a negative count; delete it to start over");
    const nlohmann::json positionJson = stateField<nlohmann::json>(state, "position", where);
    try {
        position = corpusPositionFromJson(positionJson);
        top = TopKAccumulator::fromFlat(flat);
    } catch (const Error& e) {
        throw Error(where + ": " + e.what() + "; delete it to start over");
    }
    documents = stateField<int64_t>(state, "documents", where);
    tokens = stateField<int64_t>(state, "tokens", where);
    for (int64_t n = 0; n < neurons; ++n)
        for (const TopKEntry& e : top.sorted(n))
            if (e.position < 1 || e.position >= nCtx || e.document >= position.nextIndex)
                throw Error(where + ": neuron " + std::to_string(n) + " keeps document " + std::to_string(e.document) +
                            " position " + std::to_string(e.position) + ", outside the model's context (" +
                            std::to_string(nCtx) + ") or the documents read; delete it to start over");
    if (documents < 0 || tokens < 0) throw Error(where + ": negative document or token count; delete it to start over");
    return true;
}

std::string formatEta(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const int s = static_cast<int>(seconds + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    return buf;
}

}  // namespace

std::vector<std::vector<int64_t>> scanPlan(const std::vector<std::pair<int64_t, int64_t>>& documents) {
    std::vector<std::vector<int64_t>> passes;
    for (std::size_t first = 0; first < documents.size();) {
        std::size_t end = first;
        std::vector<int64_t> lengths;
        while (end < documents.size() && groupOf(documents[end].first) == groupOf(documents[first].first))
            lengths.push_back(documents[end++].second);
        for (const auto& [b, e] : packGroup(lengths)) {
            passes.emplace_back();
            for (std::size_t i = b; i < e; ++i) passes.back().push_back(documents[first + i].first);
        }
        first = end;
    }
    return passes;
}

std::vector<int> documentTokens(const Transformer& model, const Tokenizer& tokenizer, const std::string& text) {
    std::vector<int> ids;
    if (const auto bos = model.bosTokenId()) ids.push_back(*bos);
    const Encoding enc = tokenizer.encodeUtf8(text);
    const std::size_t room = static_cast<std::size_t>(model.config().nCtx) - ids.size();
    ids.insert(ids.end(), enc.ids.begin(), enc.ids.begin() + std::min(room, enc.ids.size()));
    return ids;
}

namespace {

// One scan in progress: the pending group, the counters, progress and checkpoints.
struct ScanRun {
    const Transformer& model;
    const std::vector<LayerSelection>& layers;
    const ScanOptions& options;
    const Progress& progress;
    const nlohmann::json& identity;
    ScanResult& result;
    CorpusReader& reader;
    const std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
    const int64_t tokensAtStart = result.tokens;
    int64_t sinceCheckpoint = 0;
    std::vector<PendingDocument> group = {};  // the documents of the group being read
    CorpusPosition groupStart = {};           // reader position before its first document

    void report(int64_t tokensDone) const {
        const CorpusStats stats = reader.stats();
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        const double rate = elapsed > 0 ? double(tokensDone - tokensAtStart) / elapsed : 0;
        const double fraction = stats.totalBytes > 0 ? double(stats.bytesRead) / double(stats.totalBytes) : 0;
        const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : -1;
        progress.report(stats.bytesRead, stats.totalBytes,
                        std::to_string(result.documents) + " documents, " + std::to_string(tokensDone) + " tokens, " +
                            std::to_string(static_cast<int64_t>(rate)) + " tokens/s, ETA " + formatEta(eta));
    }
    void checkpoint(const CorpusPosition& at) {
        if (options.checkpointPath.isEmpty()) return;
        writeCheckpoint(options.checkpointPath, identity, result.top, result.histogram, at, result.documents, result.tokens);
        sinceCheckpoint = 0;
    }
    // Cancelled: the checkpoint at `at` (everything before it offered, nothing after), then Cancelled.
    void stopIfCancelled(const CorpusPosition& at) {
        if (!progress.isCancelled()) return;
        checkpoint(at);
        throw Cancelled();
    }
    // Scans the group pass by pass (a cancellation between passes forgets the group: the checkpoint
    // goes before it), then offers its documents; `after` is the reader position after the group.
    void runGroup(const CorpusPosition& after) {
        if (group.empty()) return stopIfCancelled(after);
        std::vector<DocumentMaxima> maxima;
        HistogramAccumulator histogram(static_cast<int64_t>(options.neurons.size()));  // the group's, merged at its end
        int64_t tokens = result.tokens;
        std::vector<int64_t> lengths;
        for (const PendingDocument& d : group) lengths.push_back(static_cast<int64_t>(d.ids.size()));
        for (const auto& [begin, end] : packGroup(lengths)) {
            scanPass(model, layers, options.neurons.size(), group.data() + begin, end - begin, maxima, histogram);
            for (std::size_t i = begin; i < end; ++i) tokens += static_cast<int64_t>(group[i].ids.size());
            report(tokens);
            if (end < group.size()) stopIfCancelled(groupStart);
        }
        for (const DocumentMaxima& m : maxima) result.top.offerDocument(m.document, m.values.data(), m.positions.data());
        result.histogram.merge(histogram);
        result.tokens = tokens;
        result.documents += static_cast<int64_t>(group.size());
        sinceCheckpoint += static_cast<int64_t>(group.size());
        group.clear();
        stopIfCancelled(after);
        if (sinceCheckpoint >= options.checkpointEveryDocuments) checkpoint(after);
    }
};

}  // namespace

ScanResult runActivationScan(const Transformer& model, const Tokenizer& tokenizer, const QString& corpusPath,
                             const ScanOptions& options, const Progress& progress) {
    if (options.neurons.empty()) throw Error("scan: no neurons selected");
    if (options.topDocuments < 1) throw Error("scan: the number of documents kept per neuron must be at least 1");
    const std::vector<LayerSelection> layers = groupByLayer(model, options.neurons);

    ScanResult result;
    result.neurons = options.neurons;
    result.corpusHash = corpusFingerprint(corpusPath, options.corpus.format);
    result.top = TopKAccumulator(static_cast<int64_t>(options.neurons.size()), options.topDocuments);
    result.histogram = HistogramAccumulator(static_cast<int64_t>(options.neurons.size()));
    const nlohmann::json identity = scanIdentity(model, options, result.corpusHash);

    CorpusPosition start;
    if (!options.checkpointPath.isEmpty())
        result.resumed = readCheckpoint(options.checkpointPath, identity, model.config().nCtx, result.top,
                                        result.histogram, start, result.documents, result.tokens);
    CorpusOptions corpus = options.corpus;
    corpus.shardBlock = kGroupDocuments;  // shards of whole groups
    CorpusReader reader = result.resumed ? CorpusReader::open(corpusPath, corpus, start)
                                         : CorpusReader::open(corpusPath, corpus);

    ScanRun run{model, layers, options, progress, identity, result, reader};
    Document doc;
    for (;;) {
        const CorpusPosition here = reader.position();
        if (!reader.next(doc)) break;
        if (!run.group.empty() && groupOf(doc.index) != groupOf(run.group.front().index)) run.runGroup(here);
        if (run.group.empty()) run.groupStart = here;
        std::vector<int> ids = documentTokens(model, tokenizer, doc.text);
        if (ids.size() < 2) continue;  // a document with nothing after BOS has no activation to offer
        run.group.push_back({doc.index, std::move(ids)});
    }
    run.runGroup(reader.position());
    result.stats = reader.stats();
    run.checkpoint(reader.position());
    return result;
}

}  // namespace headlight::analysis
