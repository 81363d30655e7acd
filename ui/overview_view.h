// The study overview: histogram of the head explanation score E (10 bins on [0, 1]) with the random-
// neuron baseline overlaid and mean / std / skew; the head-ablation experiment (box plots of the
// probability drop, active vs inactive contexts, KS statistic and p-value); the congruence of the
// selected neurons, real vs baseline. Each plot says clearly when the study has no data for it.
// Every number comes from core (explain::summarizeScores, analysis::histogram, analysis::boxStatistics),
// so the window and `study info` agree to the last bin.
#pragma once

#include <memory>
#include <vector>

#include <QWidget>

class QComboBox;
class QLabel;
class QCustomPlot;

namespace headlight::ui {

class StudyDocument;

class OverviewView : public QWidget {
    Q_OBJECT
public:
    explicit OverviewView(QWidget* parent = nullptr);
    void setDocument(std::shared_ptr<const StudyDocument> document);
    // Shows ablation record `record` (bundle order; ignored when out of range).
    void showAblationRecord(int record);

    QCustomPlot* scorePlot() const { return scorePlot_; }
    QCustomPlot* ablationPlot() const { return ablationPlot_; }
    QCustomPlot* congruencePlot() const { return congruencePlot_; }
    QLabel* scoreStats() const { return scoreStats_; }
    QLabel* ablationStats() const { return ablationStats_; }
    QComboBox* ablationMeasure() const { return ablationMeasure_; }

protected:
    void changeEvent(QEvent* event) override;   // a live light/dark switch restyles the plots

private:
    void rebuildScores();
    void rebuildAblation(int record);
    void rebuildCongruence();

    std::shared_ptr<const StudyDocument> document_;
    QCustomPlot* scorePlot_;
    QCustomPlot* ablationPlot_;
    QCustomPlot* congruencePlot_;
    QLabel* scoreStats_;
    QLabel* ablationStats_;
    QComboBox* ablationChoice_;
    QComboBox* ablationMeasure_;   // drop in p(token) or in the neuron's activation
};

// Styles a plot from a palette (background, axes, labels); the data colours stay fixed.
void stylePlot(QCustomPlot* plot, const QPalette& palette);
// Shows `message` in the middle of an emptied plot.
void showNoData(QCustomPlot* plot, const QString& message);

}  // namespace headlight::ui
