// Neuron facts (issue 13) for the details pane: the 10 tokens the neuron promotes most and the 10 it
// suppresses most (W_out[n] . W_U), and its activation histogram over the whole scanned corpus (log
// counts), with the near-dead mark. Bundles made before the facts existed say what is missing.
#pragma once

#include <QWidget>

class QCustomPlot;
class QLabel;
class QPushButton;

namespace headlight {
struct NeuronResult;
}

namespace headlight::ui {

class NeuronFactsView : public QWidget {
    Q_OBJECT
public:
    explicit NeuronFactsView(QWidget* parent = nullptr);
    // Shows `neuron` (nullptr: none). `hasTokens` / `hasHistogram`: whether the study stores them at all.
    void setNeuron(const NeuronResult* neuron, bool hasTokens, bool hasHistogram);

    QLabel* tokensLabel() const { return tokens_; }
    QLabel* statusLabel() const { return status_; }
    QCustomPlot* histogramPlot() const { return plot_; }
    // Shown when the study lacks facts: asks the window to complete the study (File > Complete Study…).
    QPushButton* completeButton() const { return complete_; }

Q_SIGNALS:
    void completeRequested();

private:
    void drawHistogram(const NeuronResult& neuron);

    QLabel* status_;
    QLabel* tokens_;
    QCustomPlot* plot_;
    QPushButton* complete_;
};

// The sketch's counts spread over `bins` equal-width bins on [min, max] (each sketch bin's count shared
// in proportion to its overlap: within the sketch's resolution of 1/8 octave). Edges: bins + 1 values.
struct DisplayHistogram {
    std::vector<double> edges, counts;
};
DisplayHistogram displayHistogram(const NeuronResult& neuron, int bins);

}  // namespace headlight::ui
