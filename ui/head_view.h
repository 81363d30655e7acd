// The head-centric view (issue 13, item 4): pick a head and see every studied neuron it is active or
// relevant for, with its active fraction and explanation score E, and the source tokens it typically
// reads across those neurons' contexts (core/study/head_view.h, the numbers of `study info --head`).
// Activating a neuron row (click or Enter) selects that neuron with this head and asks to show it.
// Neurons are read from the bundle one at a time on the worker pool.
#pragma once

#include <memory>
#include <utility>

#include <QFutureWatcher>
#include <QWidget>

#include "core/study/head_view.h"

class QComboBox;
class QLabel;
class QTableWidget;

namespace headlight::ui {

class StudyDocument;
class StudySelection;

class HeadsView : public QWidget {
    Q_OBJECT
public:
    explicit HeadsView(StudySelection* selection, QWidget* parent = nullptr);
    ~HeadsView() override;
    void setDocument(std::shared_ptr<const StudyDocument> document);

    // Shows flat head `head` (computed on the worker pool; `ready` when shown).
    void setHead(int head);
    int head() const { return head_; }
    bool busy() const;
    const HeadView& view() const { return view_; }
    QComboBox* headBox() const { return headBox_; }
    QTableWidget* neuronsTable() const { return neurons_; }
    QTableWidget* sourcesTable() const { return sources_; }
    QLabel* summaryLabel() const { return summary_; }
    // Selects the neuron of row `row` of the neurons table with this head (what a click does).
    void jumpToRow(int row);

Q_SIGNALS:
    void ready();
    void showNeuronRequested();   // the owner brings the Neuron view forward

protected:
    void showEvent(QShowEvent* event) override;   // follows the selected head while shown

private:
    void show(const HeadView& view);

    StudySelection* selection_;
    std::shared_ptr<const StudyDocument> document_;
    int head_ = -1;
    HeadView view_;
    QComboBox* headBox_;
    QLabel* summary_;
    QTableWidget* neurons_;
    QTableWidget* sources_;
    QFutureWatcher<std::pair<int, HeadView>>* watcher_;   // (generation, view)
    int generation_ = 0;  // bumped per document: a view computed for an earlier one is dropped
    int pending_ = -1;   // a head asked for while another was being computed
};

}  // namespace headlight::ui
