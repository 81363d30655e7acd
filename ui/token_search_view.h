// Token -> neurons (issue 13): type a token and the layers, get every neuron of those layers ranked by
// its congruence W_out[n] . W_U[:, token] with it (analysis::rankNeuronsForToken, as `headlight-cli
// neurons --token`), neurons outside the study included. Double-click a row: the study's neuron is
// selected, another one opens in the playground. "New study from these neurons" opens the Run dialog
// prefilled with the selected rows (all listed rows when none is selected). The model is the
// playground's (loaded once, on a worker thread); the ranking runs on a worker thread too.
#pragma once

#include <functional>
#include <memory>

#include <QFutureWatcher>
#include <QWidget>

#include "core/analysis/congruence.h"

class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QStandardItemModel;
class QTableView;

namespace headlight::analysis {
class Playground;
}

namespace headlight::ui {

class StudyDocument;

class TokenSearchView : public QWidget {
    Q_OBJECT
public:
    explicit TokenSearchView(QWidget* parent = nullptr);
    ~TokenSearchView() override;
    void setDocument(std::shared_ptr<const StudyDocument> document);
    // Where the model comes from: `model` returns the loaded playground (nullptr until loaded), `load`
    // starts loading it; call modelReady() when it has loaded.
    void setModelSource(std::function<const analysis::Playground*()> model, std::function<void()> load);
    void modelReady();

    QLineEdit* tokenEdit() const { return token_; }
    QLineEdit* layersEdit() const { return layers_; }
    QSpinBox* rowsBox() const { return rows_; }
    QTableView* table() const { return table_; }
    QPushButton* newStudyButton() const { return newStudy_; }
    QLabel* statusLabel() const { return status_; }
    const std::vector<analysis::TokenNeuronRow>& results() const { return results_; }
    // The neurons "New study from these neurons" takes: the selected rows, or every row listed.
    QStringList chosenNeurons() const;

public Q_SLOTS:
    void search();

Q_SIGNALS:
    void resultsReady();
    void newStudyRequested(const QStringList& neurons);
    void neuronActivated(int layer, int neuron);   // a row double-clicked

private:
    void showResults();
    std::vector<int> chosenLayers() const;

    std::shared_ptr<const StudyDocument> document_;
    std::function<const analysis::Playground*()> model_;
    std::function<void()> load_;
    QLineEdit* token_;
    QLineEdit* layers_;
    QSpinBox* rows_;
    QPushButton* search_;
    QPushButton* newStudy_;
    QTableView* table_;
    QStandardItemModel* tableModel_;
    QLabel* status_;
    QFutureWatcher<std::vector<analysis::TokenNeuronRow>>* worker_;
    QString error_;
    bool waitingForModel_ = false;
    std::vector<analysis::TokenNeuronRow> results_;
};

}  // namespace headlight::ui
