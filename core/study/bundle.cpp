#include "core/study/bundle.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <QDir>
#include <QFileInfo>

#include "core/base/error.h"
#include "core/base/utf8.h"
#include "core/io/safetensors.h"
#include "core/study/bundle_facts.h"
#include "core/study/bundle_lookups.h"
#include "core/study/bundle_texts.h"
#include "core/study/study_json.h"

namespace headlight {

using io::DType;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr const char* kMetadataKey = "headlight";
constexpr const char* kSchemaName = "headlight.bundle";

// Columns of a study, laid out as the bundle stores them.
struct Columns {
    std::vector<int32_t> neuronLayer, neuronIndex, neuronToken;
    std::vector<float> neuronCongruence;
    std::vector<uint8_t> neuronBaseline;
    std::vector<int64_t> neuronTokenTextOffset{0}, neuronContextOffset{0};
    std::string neuronTokenText;
    std::vector<uint8_t> neuronCandidate, neuronRelevant;
    std::vector<float> neuronActiveFraction;

    std::vector<int64_t> contextDoc, contextDocLine;
    std::vector<int32_t> contextSource, contextPosition, contextStart;
    std::vector<float> contextActivation, contextTruncated;
    std::vector<int64_t> contextTokenOffset{0}, contextTextOffset{0};
    std::vector<int32_t> contextTokens;
    std::vector<float> contextTokenActivations;
    std::string contextText;
    std::vector<float> contextHeadScores;
    std::vector<uint8_t> contextActive, contextKept;
};

template <typename T>
void addColumn(io::SafetensorsWriter& w, const std::string& name, DType dtype, std::vector<int64_t> shape,
               const std::vector<T>& v) {
    w.addBorrowed(name, dtype, std::move(shape), v.data(), v.size() * sizeof(T));
}

void requireSize(std::size_t got, std::size_t want, const std::string& what) {
    if (got != want)
        throw Error("cannot save study: " + what + " has " + std::to_string(got) + " entries, expected " +
                    std::to_string(want));
}

}  // namespace

// The provenance with the model folder stored absolute and relative to the bundle's folder, so that
// the bundle finds its model when opened from elsewhere (a hub id has neither).
static Provenance withModelPaths(Provenance p, const QString& bundlePath) {
    QString folder = QString::fromStdString(p.modelPath);
    if (folder.isEmpty() && QFileInfo(QString::fromStdString(p.modelId)).isDir())
        folder = QFileInfo(QString::fromStdString(p.modelId)).absoluteFilePath();
    if (folder.isEmpty()) return p;
    p.modelPath = folder.toStdString();
    p.modelPathRelative = QDir(QFileInfo(bundlePath).absolutePath()).relativeFilePath(folder).toStdString();
    return p;
}

namespace {

// The study as the bundle's columns: neurons, their contexts, the look-ups, the corpus sources.
struct BundleColumns {
    Columns c;
    LookupColumns lookups;
    FactColumns facts;
    std::map<std::string, int32_t> sourceIndex;
    json sources = json::array();
    int64_t heads = 0;

    void addContext(const NeuronResult& n, const NeuronContext& x) {
        const std::string where = neuronName(n.neuron.ref) + " context of document " + std::to_string(x.doc);
        auto [it, inserted] = sourceIndex.emplace(x.docSource, static_cast<int32_t>(sourceIndex.size()));
        if (inserted) sources.push_back(x.docSource);
        c.contextDoc.push_back(x.doc);
        c.contextDocLine.push_back(x.docLine);
        c.contextSource.push_back(it->second);
        c.contextPosition.push_back(x.position);
        c.contextStart.push_back(x.start);
        c.contextActivation.push_back(x.activation);
        c.contextTruncated.push_back(x.truncatedActivation);
        c.contextTokens.insert(c.contextTokens.end(), x.tokens.begin(), x.tokens.end());
        std::vector<float> acts = x.tokenActivations;
        if (acts.empty()) acts.assign(x.tokens.size(), std::numeric_limits<float>::quiet_NaN());
        requireSize(acts.size(), x.tokens.size(), where + " token activations");
        c.contextTokenActivations.insert(c.contextTokenActivations.end(), acts.begin(), acts.end());
        c.contextTokenOffset.push_back(static_cast<int64_t>(c.contextTokens.size()));
        c.contextText += x.text;
        c.contextTextOffset.push_back(static_cast<int64_t>(c.contextText.size()));
        requireSize(x.headScores.size(), heads, where + " head scores");
        c.contextHeadScores.insert(c.contextHeadScores.end(), x.headScores.begin(), x.headScores.end());
        std::vector<uint8_t> active = x.active;
        if (active.empty()) active.assign(heads, 0);
        requireSize(active.size(), heads, where + " active mask");
        c.contextActive.insert(c.contextActive.end(), active.begin(), active.end());
        c.contextKept.push_back(x.kept ? 1 : 0);
        lookups.addContext(x);
    }

    void addNeuron(const NeuronResult& n) {
        c.neuronLayer.push_back(n.neuron.ref.layer);
        c.neuronIndex.push_back(n.neuron.ref.neuron);
        c.neuronToken.push_back(n.neuron.tokenId);
        c.neuronCongruence.push_back(n.neuron.congruence);
        c.neuronBaseline.push_back(n.neuron.baseline ? 1 : 0);
        c.neuronTokenText += n.neuron.token;
        c.neuronTokenTextOffset.push_back(static_cast<int64_t>(c.neuronTokenText.size()));
        std::vector<uint8_t> candidate(heads, 0), relevant(heads, 0);
        for (int h : n.candidateHeads) candidate.at(h) = 1;
        for (int h : n.relevantHeads) relevant.at(h) = 1;
        c.neuronCandidate.insert(c.neuronCandidate.end(), candidate.begin(), candidate.end());
        c.neuronRelevant.insert(c.neuronRelevant.end(), relevant.begin(), relevant.end());
        std::vector<float> fraction = n.activeFraction;
        if (fraction.empty()) fraction.assign(heads, 0.f);
        requireSize(fraction.size(), heads, neuronName(n.neuron.ref) + " active fractions");
        c.neuronActiveFraction.insert(c.neuronActiveFraction.end(), fraction.begin(), fraction.end());
        facts.addNeuron(n);
        for (const NeuronContext& x : n.contexts) addContext(n, x);
        c.neuronContextOffset.push_back(static_cast<int64_t>(c.contextDoc.size()));
    }
};

// Adds every column to the writer (borrowed: `b` must outlive the write).
void addColumns(io::SafetensorsWriter& w, const BundleColumns& b, const Study& study) {
    const Columns& c = b.c;
    const int64_t heads = b.heads;
    const int64_t n = static_cast<int64_t>(study.neurons.size());
    const int64_t nc = static_cast<int64_t>(c.contextDoc.size());
    addColumn(w, "neurons.layer", DType::I32, {n}, c.neuronLayer);
    addColumn(w, "neurons.neuron", DType::I32, {n}, c.neuronIndex);
    addColumn(w, "neurons.token_id", DType::I32, {n}, c.neuronToken);
    addColumn(w, "neurons.congruence", DType::F32, {n}, c.neuronCongruence);
    addColumn(w, "neurons.baseline", DType::U8, {n}, c.neuronBaseline);
    addColumn(w, "neurons.token_text_offset", DType::I64, {n + 1}, c.neuronTokenTextOffset);
    w.addBorrowed("neurons.token_text", DType::U8, {int64_t(c.neuronTokenText.size())}, c.neuronTokenText.data(),
                  c.neuronTokenText.size());
    addColumn(w, "neurons.context_offset", DType::I64, {n + 1}, c.neuronContextOffset);
    addColumn(w, "neurons.candidate", DType::U8, {n, heads}, c.neuronCandidate);
    addColumn(w, "neurons.relevant", DType::U8, {n, heads}, c.neuronRelevant);
    addColumn(w, "neurons.active_fraction", DType::F32, {n, heads}, c.neuronActiveFraction);
    addColumn(w, "contexts.doc", DType::I64, {nc}, c.contextDoc);
    addColumn(w, "contexts.doc_line", DType::I64, {nc}, c.contextDocLine);
    addColumn(w, "contexts.source", DType::I32, {nc}, c.contextSource);
    addColumn(w, "contexts.position", DType::I32, {nc}, c.contextPosition);
    addColumn(w, "contexts.start", DType::I32, {nc}, c.contextStart);
    addColumn(w, "contexts.activation", DType::F32, {nc}, c.contextActivation);
    addColumn(w, "contexts.truncated_activation", DType::F32, {nc}, c.contextTruncated);
    addColumn(w, "contexts.token_offset", DType::I64, {nc + 1}, c.contextTokenOffset);
    addColumn(w, "contexts.tokens", DType::I32, {int64_t(c.contextTokens.size())}, c.contextTokens);
    addColumn(w, "contexts.token_activations", DType::F32, {int64_t(c.contextTokenActivations.size())},
              c.contextTokenActivations);
    addColumn(w, "contexts.text_offset", DType::I64, {nc + 1}, c.contextTextOffset);
    w.addBorrowed("contexts.text", DType::U8, {int64_t(c.contextText.size())}, c.contextText.data(),
                  c.contextText.size());
    addColumn(w, "contexts.head_scores", DType::F32, {nc, heads}, c.contextHeadScores);
    addColumn(w, "contexts.active", DType::U8, {nc, heads}, c.contextActive);
    addColumn(w, "contexts.kept", DType::U8, {nc}, c.contextKept);
    b.lookups.addTo(w);
    b.facts.addTo(w);
    for (const LayerCongruence& lc : study.congruence) {
        const std::string prefix = "congruence.L" + std::to_string(lc.layer);
        requireSize(lc.argmaxToken.size(), lc.maxValue.size(), prefix + " argmax");
        addColumn(w, prefix + ".max", DType::F32, {int64_t(lc.maxValue.size())}, lc.maxValue);
        addColumn(w, prefix + ".argmax", DType::I32, {int64_t(lc.argmaxToken.size())}, lc.argmaxToken);
    }
}

// The metadata document: schema, model shape, counts, provenance, parameters and the small records.
ordered_json metadataDocument(const Study& study, const BundleColumns& b, const QString& path) {
    const int64_t n = static_cast<int64_t>(study.neurons.size());
    const int64_t nc = static_cast<int64_t>(b.c.contextDoc.size());
    ordered_json doc;
    doc["schema"] = kSchemaName;
    doc["schema_version"] = Study::kSchemaVersion;
    doc["model"] = {{"n_layers", study.nLayers}, {"n_heads", study.nHeads}, {"d_mlp", study.dMlp}};
    doc["counts"] = {{"neurons", n}, {"contexts", nc}, {"tokens", int64_t(b.c.contextTokens.size())}};
    doc["provenance"] = toJson(withModelPaths(study.provenance, path));
    doc["parameters"] = toJson(study.parameters);
    doc["sources"] = b.sources;
    json congruenceLayers = json::array();
    for (const LayerCongruence& lc : study.congruence) congruenceLayers.push_back(lc.layer);
    doc["congruence_layers"] = congruenceLayers;
    ordered_json ablations = ordered_json::array();
    for (const AblationResult& a : study.ablations) ablations.push_back(toJson(a, study.nHeads));
    doc["ablations"] = ablations;
    if (!study.explanations.empty()) {  // steps 4-5 (optional key)
        ordered_json explanations = ordered_json::array();
        for (const HeadExplanation& e : study.explanations) explanations.push_back(toJson(e, study.nHeads));
        doc["explanations"] = std::move(explanations);
    }
    if (!study.heldOut.corpus.empty() || !study.heldOut.corpusHash.empty()) doc["held_out"] = toJson(study.heldOut);
    doc["extra"] = study.extra;
    return doc;
}

}  // namespace

void saveBundle(const Study& study, const QString& path) {
    BundleColumns columns;
    columns.heads = static_cast<int64_t>(study.nLayers) * study.nHeads;
    if (columns.heads <= 0) throw Error("cannot save study: model shape (layers x heads) is not set");
    for (const NeuronResult& n : study.neurons) columns.addNeuron(n);
    io::SafetensorsWriter w;
    addColumns(w, columns, study);
    ordered_json doc = metadataDocument(study, columns, path);
    std::string texts;  // the records' long texts (bundle_texts.h); borrowed by the writer
    if (doc.contains("explanations")) spillLongTexts(doc["explanations"], texts);
    if (!texts.empty()) w.addBorrowed(kTextsTensor, DType::U8, {static_cast<int64_t>(texts.size())}, texts.data(), texts.size());
    std::string metadata;
    try {
        metadata = doc.dump();
    } catch (const json::exception&) {
        throw Error("cannot save study to " + path.toStdString() + ": a text of its metadata is not valid UTF-8");
    }
    // The reader refuses headers over its limit: refuse to write one (the escaped header is larger still).
    if (metadata.size() > io::SafetensorsFile::kMaxHeaderBytes)
        throw Error("cannot save study to " + path.toStdString() + ": its metadata is " + std::to_string(metadata.size()) +
                    " bytes, over the bundle reader's limit of " + std::to_string(io::SafetensorsFile::kMaxHeaderBytes) +
                    " bytes (" + std::to_string(study.explanations.size()) + " explanation records): split the study)");
    w.setMetadata(kMetadataKey, metadata);
    w.setMetadata("format", "headlight");
    w.write(path);
}

// ---------------------------------------------------------------------------------------------------------

namespace {

// A typed, validated column of the mapped file. Reads go through memcpy: tensors may be unaligned.
template <typename T>
struct Column {
    const std::byte* data = nullptr;
    int64_t size = 0;
    T operator[](int64_t i) const {
        T v;
        std::memcpy(&v, data + i * sizeof(T), sizeof(T));
        return v;
    }
};

}  // namespace

struct Bundle::Impl {
    QString path;
    io::SafetensorsFile file;
    Provenance provenance;
    StudyParameters parameters;
    int nLayers = 0, nHeads = 0, dMlp = 0;
    int64_t heads = 0, neurons = 0, contexts = 0;
    std::vector<std::string> sources;
    std::vector<int> congruenceLayers;
    std::vector<AblationResult> ablations;
    std::map<std::string, std::string> extra;
    std::vector<HeadExplanation> explanations;
    HeldOutProvenance heldOut;

    Column<int32_t> neuronLayer, neuronIndex, neuronToken;
    Column<float> neuronCongruence;
    Column<uint8_t> neuronBaseline;
    Column<int64_t> neuronTokenTextOffset, neuronContextOffset;
    Column<uint8_t> neuronTokenText, neuronCandidate, neuronRelevant;
    Column<float> neuronActiveFraction;
    Column<int64_t> contextDoc, contextDocLine;
    Column<int32_t> contextSource, contextPosition, contextStart;
    Column<float> contextActivation, contextTruncated;
    Column<int64_t> contextTokenOffset, contextTextOffset;
    Column<int32_t> contextTokens;
    Column<float> contextTokenActivations;
    Column<uint8_t> contextText;
    Column<float> contextHeadScores;
    Column<uint8_t> contextActive, contextKept;
    LookupReader lookups;  // optional columns (absent in bundles made before look-ups)
    FactReader facts;      // optional columns (absent in bundles made before neuron facts)

    [[noreturn]] void fail(const std::string& what) const {
        throw Error("bundle " + path.toStdString() + ": " + what);
    }
    void readMetadata();
    void readRecords(const json& doc, const std::string& where);
    void validateColumns() const;
    void validateContextHeads(int64_t context) const;

    template <typename T>
    Column<T> column(const std::string& name, DType dtype, std::vector<int64_t> shape) const {
        const io::TensorView* t = file.find(name);
        if (!t) fail("missing tensor '" + name + "' (not a Headlight bundle, or truncated)");
        if (t->dtype != dtype)
            fail("tensor '" + name + "' has dtype " + io::dtypeName(t->dtype) + ", expected " + io::dtypeName(dtype));
        for (std::size_t i = 0; i < shape.size(); ++i)
            if (shape[i] < 0) shape[i] = i < t->shape.size() ? t->shape[i] : -1;
        if (t->shape != shape) {
            io::TensorView expected;
            expected.shape = shape;
            fail("tensor '" + name + "' has shape " + t->shapeString() + ", expected " + expected.shapeString());
        }
        return Column<T>{t->data, t->numel()};
    }

    // Offsets must start at 0, never decrease and end at the length of what they index.
    void checkOffsets(const Column<int64_t>& off, int64_t length, const std::string& name) const {
        if (off[0] != 0) fail("tensor '" + name + "' does not start at 0");
        for (int64_t i = 1; i < off.size; ++i)
            if (off[i] < off[i - 1]) fail("tensor '" + name + "' decreases at entry " + std::to_string(i));
        if (off[off.size - 1] != length)
            fail("tensor '" + name + "' ends at " + std::to_string(off[off.size - 1]) + ", expected " +
                 std::to_string(length));
    }

    std::string text(const Column<uint8_t>& bytes, const Column<int64_t>& off, int64_t i) const {
        const int64_t b = off[i], e = off[i + 1];
        return std::string(reinterpret_cast<const char*>(bytes.data) + b, static_cast<std::size_t>(e - b));
    }
};

namespace {

// Bounds on what a bundle may declare: far above any supported model, low enough that nothing
// quadratic in them is slow and no product of them overflows.
constexpr int kMaxLayers = 4096, kMaxHeadsPerLayer = 4096, kMaxDMlp = 1 << 24;
constexpr int64_t kMaxHeads = 1 << 20;  // layers x heads
// Activations, congruences and head scores are finite and below this in magnitude (NaN where documented).
constexpr float kMaxMagnitude = 1e9f;

bool plausible(float v) { return std::isfinite(v) && std::fabs(v) <= kMaxMagnitude; }

}  // namespace

// The metadata document: model shape, records and provenance; every field checked and named.
void Bundle::Impl::readMetadata() {
    const auto meta = file.metadata().find(kMetadataKey);
    if (meta == file.metadata().end()) fail("no 'headlight' metadata: not a Headlight bundle");
    json doc;
    try {
        doc = json::parse(meta->second);
    } catch (const json::parse_error& e) {
        fail("metadata 'headlight' is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
    } catch (const json::exception&) {
        fail("metadata 'headlight' is not valid JSON");
    }
    const std::string where = "bundle " + path.toStdString() + " metadata";
    if (!doc.is_object() || !doc.contains("schema") || doc["schema"] != kSchemaName)
        fail("metadata is not a Headlight study (field 'schema' is not \"" + std::string(kSchemaName) + "\")");
    int version = 0;
    readJsonField(doc, "schema_version", version, where);
    if (version > Study::kSchemaVersion)
        fail("schema version " + std::to_string(version) + " is newer than this Headlight understands (" +
             std::to_string(Study::kSchemaVersion) + "); update Headlight");
    if (version < 1) fail("metadata field 'schema_version' is " + std::to_string(version) + ", expected >= 1");
    const json model = doc.value("model", json::object());
    readJsonField(model, "n_layers", nLayers, where + " model");
    readJsonField(model, "n_heads", nHeads, where + " model");
    readJsonField(model, "d_mlp", dMlp, where + " model");
    if (nLayers < 1 || nLayers > kMaxLayers || nHeads < 1 || nHeads > kMaxHeadsPerLayer ||
        int64_t(nLayers) * nHeads > kMaxHeads || dMlp < 1 || dMlp > kMaxDMlp)
        fail("metadata field 'model' declares " + std::to_string(nLayers) + " layers x " + std::to_string(nHeads) +
             " heads, d_mlp " + std::to_string(dMlp) + ": outside the supported range");
    heads = int64_t(nLayers) * nHeads;
    readJsonField(doc, "sources", sources, where);
    readJsonField(doc, "congruence_layers", congruenceLayers, where);
    std::vector<bool> seen(nLayers, false);
    for (int layer : congruenceLayers) {
        if (layer < 0 || layer >= nLayers || seen[layer])
            fail("metadata field 'congruence_layers' names layer " + std::to_string(layer) + " twice or outside the model");
        seen[layer] = true;
    }
    readJsonField(doc, "extra", extra, where, false);
    provenance = provenanceFromJson(doc.value("provenance", json::object()), where);
    parameters = parametersFromJson(doc.value("parameters", json::object()), where);
    readRecords(doc, where);
}

// Ablations, explanations and held-out provenance: every neuron and head inside the model.
void Bundle::Impl::readRecords(const json& doc, const std::string& where) {
    for (const char* key : {"ablations", "explanations"})
        if (doc.contains(key) && !doc[key].is_array()) fail("metadata field '" + std::string(key) + "' is not an array");
    auto checkRef = [&](const NeuronRef& ref, int64_t head, const char* what, std::size_t i) {
        if (ref.layer < 0 || ref.layer >= nLayers || ref.neuron < 0 || ref.neuron >= dMlp || head < 0 || head >= heads)
            fail("metadata field '" + std::string(what) + "' entry " + std::to_string(i) + " names " + neuronName(ref) +
                 " head " + std::to_string(head) + ", outside the model");
    };
    for (const json& a : doc.value("ablations", json::array())) {
        ablations.push_back(ablationFromJson(a, where));
        const AblationResult& r = ablations.back();
        checkRef(r.neuron, r.head, "ablations", ablations.size() - 1);
        for (int head : r.heads) checkRef(r.neuron, head, "ablations", ablations.size() - 1);
        if (r.heads.empty() || r.heads.front() != r.head)
            fail("metadata field 'ablations' entry " + std::to_string(ablations.size() - 1) +
                 ": 'head_indices' does not start with 'head_index'");
        for (const NeuronRef& member : r.group) checkRef(member, 0, "ablations", ablations.size() - 1);
    }
    json explanationRecords = doc.value("explanations", json::array());
    std::string_view texts;
    if (file.find(kTextsTensor)) {
        const auto bytes = column<uint8_t>(kTextsTensor, DType::U8, {-1});
        texts = std::string_view(reinterpret_cast<const char*>(bytes.data), static_cast<std::size_t>(bytes.size));
    }
    restoreLongTexts(explanationRecords, texts, [this](const std::string& what) { fail(what); });
    for (const json& e : explanationRecords) {
        HeadExplanation x = headExplanationFromJson(e, where);
        checkRef(x.neuron, x.head, "explanations", explanations.size());
        const std::string at = "metadata field 'explanations' entry " + std::to_string(explanations.size());
        for (int64_t count : {x.tp, x.fn, x.fp, x.tn, x.invalid, x.promptTokens, x.completionTokens,
                              x.classifierPromptTokens, x.classifierCompletionTokens})
            if (count < 0) fail(at + " has a negative count");
        if (x.score && !(*x.score >= 0 && *x.score <= 1)) fail(at + " has a score outside [0, 1]");
        explanations.push_back(std::move(x));
    }
    if (doc.contains("held_out")) heldOut = heldOutFromJson(doc["held_out"], where);
}

// The cheap columns (one entry per neuron, context or token): ranges, flags, finite values, UTF-8.
void Bundle::Impl::validateColumns() const {
    auto entry = [](const char* tensor, int64_t i) { return "tensor '" + std::string(tensor) + "' entry " + std::to_string(i); };
    for (int64_t i = 0; i < neurons; ++i) {
        const int layer = neuronLayer[i], neuron = neuronIndex[i];
        if (layer < 0 || layer >= nLayers) fail("neuron " + std::to_string(i) + " has layer " + std::to_string(layer) + " outside the model");
        if (neuron < 0 || neuron >= dMlp) fail("neuron " + std::to_string(i) + " has index " + std::to_string(neuron) + " outside d_mlp");
        if (neuronToken[i] < 0) fail(entry("neurons.token_id", i) + " is negative");
        if (!plausible(neuronCongruence[i])) fail(entry("neurons.congruence", i) + " is not a finite value of plausible size");
        if (neuronBaseline[i] > 1) fail(entry("neurons.baseline", i) + " is not 0 or 1");
        if (!isValidUtf8(text(neuronTokenText, neuronTokenTextOffset, i))) fail(entry("neurons.token_text", i) + " is not valid UTF-8");
    }
    for (int64_t i = 0; i < contexts; ++i) {
        const int32_t pos = contextPosition[i], start = contextStart[i];
        const int64_t ntok = contextTokenOffset[i + 1] - contextTokenOffset[i];
        if (pos < 1 || start < 1 || start > pos || ntok != pos)
            fail("context " + std::to_string(i) + " has inconsistent position/start/tokens");
        const int32_t src = contextSource[i];
        if (src < 0 || src >= static_cast<int32_t>(sources.size()))
            fail("context " + std::to_string(i) + " names source " + std::to_string(src) + " that does not exist");
        if (contextDoc[i] < 0) fail(entry("contexts.doc", i) + " is negative");
        if (contextDocLine[i] < 0) fail(entry("contexts.doc_line", i) + " is negative");
        if (!plausible(contextActivation[i])) fail(entry("contexts.activation", i) + " is not a finite value of plausible size");
        const float truncated = contextTruncated[i];
        if (!std::isnan(truncated) && !plausible(truncated))
            fail(entry("contexts.truncated_activation", i) + " is not a finite value of plausible size");
        if (contextKept[i] > 1) fail(entry("contexts.kept", i) + " is not 0 or 1");
        if (!isValidUtf8(text(contextText, contextTextOffset, i))) fail(entry("contexts.text", i) + " is not valid UTF-8");
    }
    for (int64_t t = 0; t < contextTokens.size; ++t) {
        if (contextTokens[t] < 0) fail(entry("contexts.tokens", t) + " is negative");
        const float a = contextTokenActivations[t];
        if (!std::isnan(a) && !plausible(a)) fail(entry("contexts.token_activations", t) + " is not a finite value of plausible size");
    }
    for (int64_t k = 0; k < neurons * heads; ++k) {
        if (neuronCandidate[k] > 1) fail(entry("neurons.candidate", k) + " is not 0 or 1");
        if (neuronRelevant[k] > 1) fail(entry("neurons.relevant", k) + " is not 0 or 1");
        const float f = neuronActiveFraction[k];
        if (!(f >= 0 && f <= 1)) fail(entry("neurons.active_fraction", k) + " is outside [0, 1]");
    }
}

// The per-head columns of one context (contexts x heads can be gigabytes: checked when materialised).
void Bundle::Impl::validateContextHeads(int64_t c) const {
    for (int64_t k = c * heads; k < (c + 1) * heads; ++k) {
        const float score = contextHeadScores[k];
        if (!std::isnan(score) && !plausible(score))
            fail("tensor 'contexts.head_scores' entry " + std::to_string(k) + " is not a finite value of plausible size");
        if (contextActive[k] > 1) fail("tensor 'contexts.active' entry " + std::to_string(k) + " is not 0 or 1");
    }
}

Bundle Bundle::open(const QString& path) {
    auto impl = std::make_shared<Impl>();
    impl->path = path;
    try {
        impl->file = io::SafetensorsFile::open(path);
    } catch (const Error& e) {
        throw Error("bundle " + path.toStdString() + " is not readable: " + e.what());
    }
    Impl& b = *impl;
    b.readMetadata();

    b.neuronLayer = b.column<int32_t>("neurons.layer", DType::I32, {-1});
    b.neurons = b.neuronLayer.size;
    const int64_t n = b.neurons, h = b.heads;
    b.neuronIndex = b.column<int32_t>("neurons.neuron", DType::I32, {n});
    b.neuronToken = b.column<int32_t>("neurons.token_id", DType::I32, {n});
    b.neuronCongruence = b.column<float>("neurons.congruence", DType::F32, {n});
    b.neuronBaseline = b.column<uint8_t>("neurons.baseline", DType::U8, {n});
    b.neuronTokenTextOffset = b.column<int64_t>("neurons.token_text_offset", DType::I64, {n + 1});
    b.neuronTokenText = b.column<uint8_t>("neurons.token_text", DType::U8, {-1});
    b.neuronContextOffset = b.column<int64_t>("neurons.context_offset", DType::I64, {n + 1});
    b.neuronCandidate = b.column<uint8_t>("neurons.candidate", DType::U8, {n, h});
    b.neuronRelevant = b.column<uint8_t>("neurons.relevant", DType::U8, {n, h});
    b.neuronActiveFraction = b.column<float>("neurons.active_fraction", DType::F32, {n, h});
    b.contextDoc = b.column<int64_t>("contexts.doc", DType::I64, {-1});
    b.contexts = b.contextDoc.size;
    const int64_t c = b.contexts;
    b.contextDocLine = b.column<int64_t>("contexts.doc_line", DType::I64, {c});
    b.contextSource = b.column<int32_t>("contexts.source", DType::I32, {c});
    b.contextPosition = b.column<int32_t>("contexts.position", DType::I32, {c});
    b.contextStart = b.column<int32_t>("contexts.start", DType::I32, {c});
    b.contextActivation = b.column<float>("contexts.activation", DType::F32, {c});
    b.contextTruncated = b.column<float>("contexts.truncated_activation", DType::F32, {c});
    b.contextTokenOffset = b.column<int64_t>("contexts.token_offset", DType::I64, {c + 1});
    b.contextTokens = b.column<int32_t>("contexts.tokens", DType::I32, {-1});
    b.contextTokenActivations = b.column<float>("contexts.token_activations", DType::F32, {b.contextTokens.size});
    b.contextTextOffset = b.column<int64_t>("contexts.text_offset", DType::I64, {c + 1});
    b.contextText = b.column<uint8_t>("contexts.text", DType::U8, {-1});
    b.contextHeadScores = b.column<float>("contexts.head_scores", DType::F32, {c, h});
    b.contextActive = b.column<uint8_t>("contexts.active", DType::U8, {c, h});
    b.contextKept = b.column<uint8_t>("contexts.kept", DType::U8, {c});

    b.checkOffsets(b.neuronTokenTextOffset, b.neuronTokenText.size, "neurons.token_text_offset");
    b.checkOffsets(b.neuronContextOffset, c, "neurons.context_offset");
    b.checkOffsets(b.contextTokenOffset, b.contextTokens.size, "contexts.token_offset");
    b.checkOffsets(b.contextTextOffset, b.contextText.size, "contexts.text_offset");
    b.validateColumns();
    b.lookups = LookupReader::open(b.file, c, h, [&b](const std::string& what) { b.fail(what); });
    b.facts = FactReader::open(b.file, n, [&b](const std::string& what) { b.fail(what); });
    for (int layer : b.congruenceLayers) {
        const std::string prefix = "congruence.L" + std::to_string(layer);
        const auto maxCol = b.column<float>(prefix + ".max", DType::F32, {b.dMlp});
        const auto argCol = b.column<int32_t>(prefix + ".argmax", DType::I32, {b.dMlp});
        for (int64_t k = 0; k < maxCol.size; ++k) {
            if (!plausible(maxCol[k])) b.fail("tensor '" + prefix + ".max' entry " + std::to_string(k) + " is not a finite value of plausible size");
            if (argCol[k] < 0) b.fail("tensor '" + prefix + ".argmax' entry " + std::to_string(k) + " is negative");
        }
    }
    Bundle bundle;
    bundle.impl_ = std::move(impl);
    return bundle;
}

const QString& Bundle::path() const { return impl_->path; }
int Bundle::neuronCount() const { return static_cast<int>(impl_->neurons); }
int64_t Bundle::contextCount() const { return impl_->contexts; }
const Provenance& Bundle::provenance() const { return impl_->provenance; }
const StudyParameters& Bundle::parameters() const { return impl_->parameters; }
const std::vector<HeadExplanation>& Bundle::explanations() const { return impl_->explanations; }
const HeldOutProvenance& Bundle::heldOut() const { return impl_->heldOut; }

NextTokenNeuron Bundle::neuron(int i) const {
    const Impl& b = *impl_;
    if (i < 0 || i >= b.neurons) throw Error("bundle: neuron index out of range");
    NextTokenNeuron n;
    n.ref = {b.neuronLayer[i], b.neuronIndex[i]};
    n.tokenId = b.neuronToken[i];
    n.token = b.text(b.neuronTokenText, b.neuronTokenTextOffset, i);
    n.congruence = b.neuronCongruence[i];
    n.baseline = b.neuronBaseline[i] != 0;
    return n;
}

int Bundle::contextCountOf(int i) const {
    return static_cast<int>(impl_->neuronContextOffset[i + 1] - impl_->neuronContextOffset[i]);
}

NeuronResult Bundle::neuronResult(int i) const {
    const Impl& b = *impl_;
    NeuronResult r;
    r.neuron = neuron(i);
    const int64_t h = b.heads;
    r.activeFraction.resize(h);
    for (int64_t k = 0; k < h; ++k) {
        if (b.neuronCandidate[i * h + k]) r.candidateHeads.push_back(static_cast<int>(k));
        if (b.neuronRelevant[i * h + k]) r.relevantHeads.push_back(static_cast<int>(k));
        r.activeFraction[k] = b.neuronActiveFraction[i * h + k];
    }
    b.facts.fill(i, r);
    for (int64_t c = b.neuronContextOffset[i]; c < b.neuronContextOffset[i + 1]; ++c) {
        b.validateContextHeads(c);
        NeuronContext x;
        x.doc = b.contextDoc[c];
        x.docLine = b.contextDocLine[c];
        x.docSource = b.sources[b.contextSource[c]];
        x.position = b.contextPosition[c];
        x.start = b.contextStart[c];
        x.activation = b.contextActivation[c];
        x.truncatedActivation = b.contextTruncated[c];
        for (int64_t t = b.contextTokenOffset[c]; t < b.contextTokenOffset[c + 1]; ++t) {
            x.tokens.push_back(b.contextTokens[t]);
            x.tokenActivations.push_back(b.contextTokenActivations[t]);
        }
        x.text = b.text(b.contextText, b.contextTextOffset, c);
        x.kept = b.contextKept[c] != 0;
        x.headScores.resize(h);
        x.active.resize(h);
        for (int64_t k = 0; k < h; ++k) {
            x.headScores[k] = b.contextHeadScores[c * h + k];
            x.active[k] = b.contextActive[c * h + k];
        }
        x.lookups = b.lookups.of(c);
        r.contexts.push_back(std::move(x));
    }
    return r;
}

Study Bundle::toStudy() const {
    const Impl& b = *impl_;
    Study s;
    s.provenance = b.provenance;
    s.parameters = b.parameters;
    s.nLayers = b.nLayers;
    s.nHeads = b.nHeads;
    s.dMlp = b.dMlp;
    s.ablations = b.ablations;
    s.explanations = b.explanations;
    s.heldOut = b.heldOut;
    s.extra = b.extra;
    for (int layer : b.congruenceLayers) {
        const std::string prefix = "congruence.L" + std::to_string(layer);
        const auto maxCol = b.column<float>(prefix + ".max", DType::F32, {b.dMlp});
        const auto argCol = b.column<int32_t>(prefix + ".argmax", DType::I32, {b.dMlp});
        LayerCongruence lc;
        lc.layer = layer;
        for (int64_t k = 0; k < maxCol.size; ++k) {
            lc.maxValue.push_back(maxCol[k]);
            lc.argmaxToken.push_back(argCol[k]);
        }
        s.congruence.push_back(std::move(lc));
    }
    for (int i = 0; i < neuronCount(); ++i) s.neurons.push_back(neuronResult(i));
    return s;
}

Study loadStudy(const QString& path) { return Bundle::open(path).toStudy(); }

int Bundle::nLayers() const { return impl_->nLayers; }
bool Bundle::hasLookups() const { return impl_->lookups.present(); }
bool Bundle::hasTokenFacts() const { return impl_->facts.hasTokens(); }
bool Bundle::hasHistograms() const { return impl_->facts.hasHistograms(); }
int Bundle::nHeads() const { return impl_->nHeads; }
int Bundle::dMlp() const { return impl_->dMlp; }
int Bundle::layerOf(int i) const { return impl_->neuronLayer[i]; }
bool Bundle::isBaseline(int i) const { return impl_->neuronBaseline[i] != 0; }
const std::vector<AblationResult>& Bundle::ablations() const { return impl_->ablations; }

float Bundle::maxActivationOf(int i) const {
    const Impl& b = *impl_;
    float best = std::numeric_limits<float>::quiet_NaN();
    for (int64_t c = b.neuronContextOffset[i]; c < b.neuronContextOffset[i + 1]; ++c) {
        const float a = b.contextActivation[c];
        if (std::isnan(best) || a > best) best = a;
    }
    return best;
}

int Bundle::keptCountOf(int i) const {
    const Impl& b = *impl_;
    int kept = 0;
    for (int64_t c = b.neuronContextOffset[i]; c < b.neuronContextOffset[i + 1]; ++c) kept += b.contextKept[c] != 0;
    return kept;
}

int Bundle::relevantCountOf(int i) const {
    const Impl& b = *impl_;
    const uint8_t* row = reinterpret_cast<const uint8_t*>(b.neuronRelevant.data) + int64_t(i) * b.heads;
    int count = 0;
    for (int64_t k = 0; k < b.heads; ++k) count += row[k] != 0;
    return count;
}

}  // namespace headlight
