// Everything about the selected neuron: its contexts with token highlighting, the contexts x candidate
// heads heat map, the layers x heads map of the selected context, and the relevant heads with their
// active fraction and explanations. All parts follow and drive the shared StudySelection.
#pragma once

#include <memory>

#include <QWidget>

class QCheckBox;
class QLabel;
class QPlainTextEdit;
class QStandardItemModel;
class QTableView;
class QTabWidget;

namespace headlight {
struct NeuronResult;
}

namespace headlight::ui {

class StudyDocument;
class StudySelection;
class ContextListView;
class HeadHeatMap;
class LookupView;
class NeuronFactsView;

class NeuronView : public QWidget {
    Q_OBJECT
public:
    explicit NeuronView(StudySelection* selection, QWidget* parent = nullptr);
    void setDocument(std::shared_ptr<const StudyDocument> document);

    ContextListView* contextList() const { return contexts_; }
    HeadHeatMap* contextHeadMap() const { return contextMap_; }
    HeadHeatMap* layerHeadMap() const { return layerMap_; }
    QTableView* relevantHeadsTable() const { return relevant_; }
    QCheckBox* showDroppedBox() const { return showDropped_; }
    QCheckBox* boundariesBox() const { return boundaries_; }
    QPlainTextEdit* detailsPane() const { return details_; }
    NeuronFactsView* factsView() const { return facts_; }   // neuron facts: tokens, histogram (a tab beside details)
    QTabWidget* detailTabs() const { return detailTabs_; }
    QLabel* titleLabel() const { return title_; }
    LookupView* lookupView() const { return lookup_; }   // what the selected head reads in the selected context
    const NeuronResult* neuron() const { return neuron_.get(); }
    // Candidate heads, in the context map's column order.
    const std::vector<int>& columnHeads() const { return columnHeads_; }

private:
    void onNeuronChanged(int neuron);
    void onContextChanged(int context);
    void onHeadChanged(int head);
    void rebuildContextMap();
    void rebuildLayerMap();
    void rebuildRelevant();
    void updateDetails();
    // What head `head` reads in context `context` (its look-up: top source tokens), for the details pane.
    QString lookupText(int context, int head) const;

    StudySelection* selection_;
    std::shared_ptr<const StudyDocument> document_;
    std::shared_ptr<const NeuronResult> neuron_;
    std::vector<int> columnHeads_;
    QLabel* title_;
    QCheckBox* showDropped_;
    QCheckBox* boundaries_;
    ContextListView* contexts_;
    HeadHeatMap* contextMap_;
    HeadHeatMap* layerMap_;
    QTableView* relevant_;
    QStandardItemModel* relevantModel_;
    QPlainTextEdit* details_;
    LookupView* lookup_;
    NeuronFactsView* facts_;
    QTabWidget* detailTabs_;
};

}  // namespace headlight::ui
