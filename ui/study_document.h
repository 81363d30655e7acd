// The open study as the views see it: the memory-mapped bundle (read lazily), per-neuron summaries in
// flat arrays made once at open (what the neuron table sorts and filters on), the tokenizer used to
// show token text, and the shared selection (current neuron, context, head). No widgets here.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <QHash>
#include <QObject>
#include <QString>

#include "core/explain/scorer.h"
#include "core/study/bundle.h"
#include "core/study/study.h"

namespace headlight {
class Tokenizer;
}

namespace headlight::ui {

class StudyDocument {
public:
    // Opens and validates a bundle; throws headlight::Error with the bundle's message on failure.
    static std::shared_ptr<StudyDocument> open(const QString& path);
    ~StudyDocument();

    const Bundle& bundle() const { return bundle_; }
    const QString& path() const { return bundle_.path(); }
    int neuronCount() const { return static_cast<int>(layer_.size()); }
    int nLayers() const { return bundle_.nLayers(); }
    int nHeads() const { return bundle_.nHeads(); }
    QString headLabel(int flatHead) const;   // "L2H5"
    QString neuronLabel(int i) const;        // "L3N127"

    // Flat per-neuron summaries (index = bundle neuron index).
    int layer(int i) const { return layer_[i]; }
    int neuronIndex(int i) const { return neuron_[i]; }
    float congruence(int i) const { return congruence_[i]; }
    bool baseline(int i) const { return baseline_[i] != 0; }
    float maxActivation(int i) const { return maxActivation_[i]; }
    int keptContexts(int i) const { return kept_[i]; }
    int relevantHeads(int i) const { return relevant_[i]; }
    float bestScore(int i) const { return bestScore_[i]; }   // best explanation score E, NaN if none
    const QString& tokenText(int i) const { return tokenText_[i]; }
    const std::vector<int>& layers() const { return layerList_; }  // distinct layers, ascending

    // Steps 4-5: the explanations of neuron i (LLM and offline baseline), in bundle order.
    std::vector<const HeadExplanation*> explanationsOf(int i) const;
    // The explanation of (neuron i, head) from `source` ("llm" or "baseline"), or null.
    const HeadExplanation* explanation(int i, int head, const std::string& source) const;
    // E over the explanations from `source` of real neurons or of random-baseline neurons: the same
    // summary and histogram as `study info` (explain::summarizeScores).
    explain::ScoreSummary scoreSummary(const std::string& source, bool baselineNeurons) const;
    // "llm" if any LLM explanation is scored, else "baseline" if any offline one is, else "".
    std::string scoreSource() const;

    // One neuron with its contexts (materialised from the bundle on demand; the last few cached).
    std::shared_ptr<const NeuronResult> neuronResult(int i) const;

    // Text of one vocabulary token for display ("#id" when no tokenizer could be loaded).
    QString vocabText(int tokenId) const;
    bool hasTokenizer() const { return tokenizer_ != nullptr; }
    // The text of a run of tokens, decoded together (empty without a tokenizer).
    QString decodeTokens(const std::vector<int>& ids) const;
    QString tokenizerNote() const { return tokenizerNote_; }
    // The study's model as found at open: an absolute folder, or the hub id; empty if not found.
    const QString& modelPath() const { return modelPath_; }
    // The folder the user pointed at for a model id that did not resolve ("Locate Model…"), remembered
    // in QSettings; open() tries it after the paths the bundle stores.
    static QString locatedModel(const QString& modelId);
    static void setLocatedModel(const QString& modelId, const QString& folder);

private:
    StudyDocument() = default;
    Bundle bundle_;
    std::vector<int32_t> layer_, neuron_;
    std::vector<float> congruence_, maxActivation_, bestScore_;
    std::vector<uint8_t> baseline_;
    std::vector<int16_t> kept_, relevant_;
    std::vector<QString> tokenText_;
    std::vector<int> layerList_;
    std::vector<std::vector<int>> explanationIndex_;   // per neuron: indices into bundle().explanations()
    std::unique_ptr<Tokenizer> tokenizer_;
    QString tokenizerNote_;
    QString modelPath_;
    mutable QHash<int, QString> vocabCache_;
    mutable std::vector<std::pair<int, std::shared_ptr<const NeuronResult>>> resultCache_;
};

// The selection every view shares: current neuron (bundle index), context (index into the neuron's
// contexts, dropped ones included) and head (flat layer-major index). -1 means none.
class StudySelection : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    int neuron() const { return neuron_; }
    int context() const { return context_; }
    int head() const { return head_; }

public Q_SLOTS:
    void setNeuron(int neuron);   // resets context and head
    void setContext(int context);
    void setHead(int head);
    void setContextAndHead(int context, int head);
    void clear();

Q_SIGNALS:
    void neuronChanged(int neuron);
    void contextChanged(int context);
    void headChanged(int head);

private:
    int neuron_ = -1, context_ = -1, head_ = -1;
};

}  // namespace headlight::ui
