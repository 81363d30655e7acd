// The neuron table with its filters: search (token text or "L3N12"), layer, real / baseline. The
// current row drives the shared selection's neuron.
#pragma once

#include <memory>

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;

namespace headlight::ui {

class StudyDocument;
class StudySelection;
class NeuronTableModel;
class NeuronFilterProxy;

class NeuronTablePanel : public QWidget {
    Q_OBJECT
public:
    NeuronTablePanel(StudySelection* selection, QWidget* parent = nullptr);
    void setDocument(std::shared_ptr<const StudyDocument> document);

    QTableView* table() const { return table_; }
    NeuronTableModel* model() const { return model_; }
    NeuronFilterProxy* proxy() const { return proxy_; }
    QLineEdit* searchField() const { return search_; }
    QComboBox* layerBox() const { return layer_; }
    QComboBox* kindBox() const { return kind_; }
    // Selects the table row of bundle neuron `neuron` (clearing filters that hide it).
    void selectNeuron(int neuron);

private:
    void updateCount();
    StudySelection* selection_;
    NeuronTableModel* model_;
    NeuronFilterProxy* proxy_;
    QTableView* table_;
    QLineEdit* search_;
    QComboBox* layer_;
    QComboBox* kind_;
    QLabel* count_;
};

}  // namespace headlight::ui
