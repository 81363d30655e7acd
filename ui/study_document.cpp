#include "ui/study_document.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include <QCryptographicHash>
#include <QDir>
#include <QSettings>
#include <QFileInfo>

#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"

namespace headlight::ui {

namespace {

QString locationKey(const QString& modelId) {
    return QStringLiteral("models/location/") +
           QString::fromLatin1(QCryptographicHash::hash(modelId.toUtf8(), QCryptographicHash::Sha1).toHex());
}

// The tokenizer folder of a study's model: the model id as a folder (as given, or relative to the
// bundle's folder), the stored absolute and bundle-relative model paths, the folder the user located
// for this model id (QSettings), else the hub cache.
std::unique_ptr<Tokenizer> findTokenizer(const Provenance& provenance, const QString& bundlePath, QString* note, QString* modelDir) {
    const QString modelId = QString::fromStdString(provenance.modelId);
    if (modelId.isEmpty()) {
        *note = QObject::tr("The study names no model: tokens are shown by id.");
        return nullptr;
    }
    const QDir bundleDir = QFileInfo(bundlePath).absoluteDir();
    QStringList candidates = {modelId, bundleDir.filePath(modelId)};
    if (!provenance.modelPath.empty()) candidates << QString::fromStdString(provenance.modelPath);
    if (!provenance.modelPathRelative.empty()) candidates << bundleDir.filePath(QString::fromStdString(provenance.modelPathRelative));
    const QString located = StudyDocument::locatedModel(modelId);
    if (!located.isEmpty()) candidates << located;
    for (const QString& dir : candidates) {
        if (!QFileInfo(dir).isDir()) continue;
        *modelDir = QFileInfo(dir).absoluteFilePath();
        try {
            return std::make_unique<Tokenizer>(Tokenizer::fromFolder(dir));
        } catch (const Error& e) {
            *note = QObject::tr("Tokenizer of %1 could not be read (%2): tokens are shown by id.")
                        .arg(dir, QString::fromStdString(e.what()));
            return nullptr;
        }
    }
    try {  // a hub id in the local cache
        const QString dir = resolveModelDir(modelId);
        *modelDir = modelId;
        return std::make_unique<Tokenizer>(Tokenizer::fromFolder(dir));
    } catch (const Error&) {
    }
    *note = QObject::tr("Model %1 not found: tokens are shown by id.").arg(modelId);
    return nullptr;
}

}  // namespace

StudyDocument::~StudyDocument() = default;

QString StudyDocument::locatedModel(const QString& modelId) {
    return QSettings().value(locationKey(modelId)).toString();
}

void StudyDocument::setLocatedModel(const QString& modelId, const QString& folder) {
    QSettings().setValue(locationKey(modelId), QFileInfo(folder).absoluteFilePath());
}

std::shared_ptr<StudyDocument> StudyDocument::open(const QString& path) {
    std::shared_ptr<StudyDocument> d(new StudyDocument());
    d->bundle_ = Bundle::open(path);
    const Bundle& b = d->bundle_;
    const int n = b.neuronCount();
    d->layer_.resize(n);
    d->neuron_.resize(n);
    d->congruence_.resize(n);
    d->maxActivation_.resize(n);
    d->bestScore_.assign(n, std::numeric_limits<float>::quiet_NaN());
    d->baseline_.resize(n);
    d->kept_.resize(n);
    d->relevant_.resize(n);
    d->tokenText_.resize(n);
    std::set<int> layers;
    for (int i = 0; i < n; ++i) {
        const NextTokenNeuron x = b.neuron(i);
        d->layer_[i] = x.ref.layer;
        d->neuron_[i] = x.ref.neuron;
        d->congruence_[i] = x.congruence;
        d->baseline_[i] = x.baseline ? 1 : 0;
        d->tokenText_[i] = QString::fromStdString(x.token);
        d->maxActivation_[i] = b.maxActivationOf(i);
        d->kept_[i] = static_cast<int16_t>(std::min(b.keptCountOf(i), 32767));
        d->relevant_[i] = static_cast<int16_t>(std::min(b.relevantCountOf(i), 32767));
        layers.insert(x.ref.layer);
    }
    d->layerList_.assign(layers.begin(), layers.end());
    const std::vector<HeadExplanation>& explanations = b.explanations();
    if (!explanations.empty()) {
        std::map<std::tuple<int, int, bool>, int> byRef;
        for (int i = 0; i < n; ++i) byRef.emplace(std::make_tuple(d->layer_[i], d->neuron_[i], d->baseline_[i] != 0), i);
        d->explanationIndex_.resize(n);
        for (int k = 0; k < static_cast<int>(explanations.size()); ++k) {
            const HeadExplanation& e = explanations[k];
            const auto it = byRef.find(std::make_tuple(e.neuron.layer, e.neuron.neuron, e.baseline));
            if (it == byRef.end()) continue;
            d->explanationIndex_[it->second].push_back(k);
        }
        const std::string source = d->scoreSource();
        for (int i = 0; i < n; ++i)
            for (int k : d->explanationIndex_[i]) {
                const HeadExplanation& e = explanations[k];
                if (e.source != source || !e.score) continue;
                if (std::isnan(d->bestScore_[i]) || *e.score > d->bestScore_[i]) d->bestScore_[i] = static_cast<float>(*e.score);
            }
    }
    d->tokenizer_ = findTokenizer(b.provenance(), path, &d->tokenizerNote_, &d->modelPath_);
    return d;
}

std::vector<const HeadExplanation*> StudyDocument::explanationsOf(int i) const {
    std::vector<const HeadExplanation*> out;
    if (i < 0 || i >= static_cast<int>(explanationIndex_.size())) return out;
    for (int k : explanationIndex_[i]) out.push_back(&bundle_.explanations()[k]);
    return out;
}

const HeadExplanation* StudyDocument::explanation(int i, int head, const std::string& source) const {
    for (const HeadExplanation* e : explanationsOf(i))
        if (e->head == head && e->source == source) return e;
    return nullptr;
}

explain::ScoreSummary StudyDocument::scoreSummary(const std::string& source, bool baselineNeurons) const {
    return explain::summarizeScores(bundle_.explanations(), source, baselineNeurons);
}

std::string StudyDocument::scoreSource() const {
    bool llm = false, offline = false;
    for (const HeadExplanation& e : bundle_.explanations()) {
        if (!e.score) continue;
        llm |= e.source == "llm";
        offline |= e.source == "baseline";
    }
    return llm ? "llm" : (offline ? "baseline" : "");
}

QString StudyDocument::headLabel(int flatHead) const {
    if (flatHead < 0 || nHeads() <= 0) return QString();
    return QStringLiteral("L%1H%2").arg(flatHead / nHeads()).arg(flatHead % nHeads());
}

QString StudyDocument::neuronLabel(int i) const { return QStringLiteral("L%1N%2").arg(layer_[i]).arg(neuron_[i]); }

std::shared_ptr<const NeuronResult> StudyDocument::neuronResult(int i) const {
    for (const auto& [index, result] : resultCache_)
        if (index == i) return result;
    auto result = std::make_shared<const NeuronResult>(bundle_.neuronResult(i));
    resultCache_.insert(resultCache_.begin(), {i, result});
    if (resultCache_.size() > 8) resultCache_.pop_back();
    return result;
}

QString StudyDocument::vocabText(int tokenId) const {
    auto it = vocabCache_.constFind(tokenId);
    if (it != vocabCache_.constEnd()) return *it;
    QString text;
    if (tokenizer_ && tokenId >= 0 && tokenId < tokenizer_->vocabSize()) text = tokenizer_->tokenText(tokenId);
    else text = QStringLiteral("#%1").arg(tokenId);
    vocabCache_.insert(tokenId, text);
    return text;
}

QString StudyDocument::decodeTokens(const std::vector<int>& ids) const {
    if (!tokenizer_) return {};
    try {
        return tokenizer_->decode(ids);
    } catch (const Error&) {
        return {};
    }
}

// ---------------------------------------------------------------------------------------------------

void StudySelection::setNeuron(int neuron) {
    const bool changed = neuron != neuron_;
    neuron_ = neuron;
    const bool contextReset = context_ != -1, headReset = head_ != -1;
    context_ = -1;
    head_ = -1;
    if (changed) Q_EMIT neuronChanged(neuron_);
    if (contextReset) Q_EMIT contextChanged(-1);
    if (headReset) Q_EMIT headChanged(-1);
}

void StudySelection::setContext(int context) {
    if (context == context_) return;
    context_ = context;
    Q_EMIT contextChanged(context_);
}

void StudySelection::setHead(int head) {
    if (head == head_) return;
    head_ = head;
    Q_EMIT headChanged(head_);
}

void StudySelection::setContextAndHead(int context, int head) {
    setContext(context);
    setHead(head);
}

void StudySelection::clear() { setNeuron(-1); }

}  // namespace headlight::ui
