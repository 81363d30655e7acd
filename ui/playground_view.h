// The playground: type or paste text and see a neuron's activation at every token and the head scores
// at a chosen position (click a token or use the spin box). The neuron is the table's selection or any
// neuron of the model (layer / neuron pickers; "Follow table" off). Click a head in the map (or name
// it) to see its look-up on the text: each source token coloured by its contribution to the head's
// score. "Switch off" heads (zero or mean ablation, analysis/playground.h) to see the neuron's
// activation and p(token) change. The model (the study's, per its provenance) loads once on a worker
// thread; each edit is debounced (300 ms) and recomputed on a worker thread; the newest request wins.
#pragma once

#include <memory>
#include <optional>

#include <QFutureWatcher>
#include <QWidget>

#include "core/analysis/playground.h"
#include "ui/token_layout.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTimer;

namespace headlight::ui {

class StudyDocument;
class StudySelection;
class HeadHeatMap;

// A strip of token boxes (token_layout.h) that reports clicks on tokens.
class TokenStrip : public QWidget {
    Q_OBJECT
public:
    explicit TokenStrip(QWidget* parent = nullptr);
    void setContext(const HighlightedContext& context);
    const HighlightedContext& context() const { return context_; }
    QSize sizeHint() const override;
    int heightForWidth(int width) const override;
    bool hasHeightForWidth() const override { return true; }

Q_SIGNALS:
    void pieceClicked(int piece);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;

private:
    HighlightedContext context_;
};

// The playground's layers x heads map of `result` for bundle neuron `neuron` (also the playground figure).
// `label` names the neuron when it is not bundle neuron `neuron` (a neuron of the model outside the study).
void showPlaygroundHeadScores(HeadHeatMap& map, const StudyDocument& document, int neuron,
                              const analysis::PlaygroundResult& result, const QString& label = {});
// "L3N367 at token 4 (" cat"): activation 1.234 (of max 2.5 in the study)" for the readout.
QString playgroundReadout(const StudyDocument& document, int neuron, const analysis::PlaygroundResult& result);

class PlaygroundView : public QWidget {
    Q_OBJECT
public:
    PlaygroundView(StudySelection* selection, QWidget* parent = nullptr);
    ~PlaygroundView() override;
    void setDocument(std::shared_ptr<const StudyDocument> document);

    QPlainTextEdit* editor() const { return editor_; }
    TokenStrip* tokenStrip() const { return strip_; }
    TokenStrip* ablatedStrip() const { return ablatedStrip_; }   // activations with the heads off
    TokenStrip* lookupStrip() const { return lookupStrip_; }     // the look-up head's contributions
    QSpinBox* layerBox() const { return layer_; }
    QSpinBox* neuronBox() const { return neuronIndex_; }
    QCheckBox* followBox() const { return follow_; }
    QLineEdit* lookupHeadEdit() const { return lookupHead_; }
    QLineEdit* offHeadsEdit() const { return offHeads_; }
    QComboBox* modeBox() const { return mode_; }
    QLabel* effectLabel() const { return effect_; }
    const analysis::Playground* model() const { return playground_ ? &*playground_ : nullptr; }
    // Shows neuron (layer, neuron) of the model, not following the table (e.g. from the token search).
    void showNeuron(int layer, int neuron);
    // The request the controls describe (neuron, position, look-up head, heads off and mode).
    analysis::PlaygroundRequest request() const;
    HeadHeatMap* headMap() const { return headMap_; }
    QLabel* statusLabel() const { return status_; }
    bool modelLoaded() const { return playground_.has_value(); }
    const analysis::PlaygroundResult& lastResult() const { return result_; }

public Q_SLOTS:
    void loadModel();
    void recompute();   // now, without waiting for the debounce

Q_SIGNALS:
    void resultReady();
    void modelAvailable();   // the model finished loading

private:
    void showResult();
    void followSelection();
    HighlightedContext lookupContext() const;
    int studyIndex(const NeuronRef& ref) const;   // bundle index of the neuron (real first), -1: not studied
    QString effectText() const;
    std::shared_ptr<const StudyDocument> document_;
    StudySelection* selection_;
    QPlainTextEdit* editor_;
    TokenStrip* strip_;
    QSpinBox* position_;
    QSpinBox* layer_;
    QSpinBox* neuronIndex_;
    QCheckBox* follow_;
    QLineEdit* lookupHead_;
    QLineEdit* offHeads_;
    QComboBox* mode_;
    QLabel* effect_;
    TokenStrip* ablatedStrip_;
    TokenStrip* lookupStrip_;
    HeadHeatMap* headMap_;
    QLabel* status_;
    QPushButton* load_;
    QTimer* debounce_;
    std::optional<analysis::Playground> playground_;
    QFutureWatcher<std::optional<analysis::Playground>>* loader_;
    QFutureWatcher<analysis::PlaygroundResult>* worker_;
    QString loaderError_;
    bool pending_ = false;
    bool updatingPickers_ = false;   // the pickers follow the table: not a user's choice
    analysis::PlaygroundResult result_;
    std::vector<int> piecePositions_;   // per strip piece: the token position it stands for (its last token)
};

}  // namespace headlight::ui
