// The main window: menus, the neuron table (left) and the views of the selected neuron, the study
// overview and the playground (tabs), status bar. Holds no business logic: views observe the open
// StudyDocument and the shared StudySelection; jobs run on worker threads.
#pragma once

#include <memory>

#include <QMainWindow>

class QMenu;
class QTabWidget;
class QCustomPlot;

namespace headlight::ui {

class StudyDocument;
class StudySelection;
class NeuronTablePanel;
class NeuronView;
class OverviewView;
class PlaygroundView;
class HeadsView;
class TokenSearchView;
class RunDialog;
class AblationDialog;
class StudyCompletion;
struct FigureOptions;
struct FigureRequest;
enum class FigureKind;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Text of Help > About: Headlight, Qt and libtorch versions, licence.
    static QString aboutText();

    QMenu* fileMenu() const { return fileMenu_; }
    QMenu* viewMenu() const { return viewMenu_; }
    QMenu* helpMenu() const { return helpMenu_; }

    // Opens a bundle. On failure shows an error dialog (object name "errorBox", not blocking) and keeps
    // the current study; returns false.
    bool openBundle(const QString& path);
    // Saves the open study as a bundle (atomic). Returns false (after an error dialog) on failure.
    bool saveStudyAs(const QString& path);
    // Exports: the neuron table as shown (CSV), the selected neuron's contexts (svg/pdf/html/tex).
    bool exportNeuronTable(const QString& path);
    bool exportContexts(const QString& path);
    bool exportPlot(QCustomPlot* plot, const QString& path, const FigureOptions& options);
    // A figure of the open study as File > Export Figure writes it (and `headlight-cli study figure`):
    // drawn fresh in the paper theme (or dark), of the selected neuron / context / ablation / text.
    bool exportFigure(FigureKind kind, const QString& path, const FigureOptions& options, bool dark = false);
    FigureRequest figureRequest(FigureKind kind, bool dark = false) const;
    // Screenshot mode: shows each view with real data and saves QWidget::grab() PNGs into `dir`.
    QStringList saveScreenshots(const QString& dir);

    std::shared_ptr<const StudyDocument> document() const { return document_; }
    StudySelection* selection() const { return selection_; }
    NeuronTablePanel* neuronPanel() const { return neuronPanel_; }
    NeuronView* neuronView() const { return neuronView_; }
    OverviewView* overviewView() const { return overviewView_; }
    PlaygroundView* playgroundView() const { return playgroundView_; }
    HeadsView* headsView() const { return headsView_; }
    TokenSearchView* tokenSearchView() const { return tokenSearchView_; }
    QTabWidget* tabs() const { return tabs_; }
    RunDialog* runDialog();
    StudyCompletion* studyCompletion() const { return completion_; }

public Q_SLOTS:
    void showAbout();
    void openDialog();
    void saveAsDialog();
    void exportFigureDialog();
    void exportContextsDialog();
    void exportTableDialog();
    void showRunDialog();
    void showAblationDialog();   // Validate > Ablate Heads… (ui/ablation_dialog.*)
    void completeStudy();        // File > Complete Study… (ui/study_completion.*)
    // Opens the Run dialog prefilled with `neurons` ("L3N12"; a study of exactly these) and the open
    // study's model and corpus.
    void newStudyFromNeurons(const QStringList& neurons);
    void showPreferences();
    // Asks for the folder of the open study's model when it was not found (tokens shown by id, no
    // playground); remembers it for the model id and reopens the study. Returns false if cancelled.
    bool locateModel();
    // Points the open study's model id at `folder` and reopens the study (what locateModel does after its dialog).
    bool setModelLocation(const QString& folder);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void setDocument(std::shared_ptr<const StudyDocument> document);
    void showError(const QString& title, const QString& message);
    void rebuildRecentMenu();
    void offerLocateModel();

    QMenu* fileMenu_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QMenu* viewMenu_ = nullptr;
    QMenu* helpMenu_ = nullptr;
    QAction* saveAs_ = nullptr;
    QAction* locateModel_ = nullptr;
    QList<QAction*> studyActions_;
    std::shared_ptr<const StudyDocument> document_;
    StudySelection* selection_;
    NeuronTablePanel* neuronPanel_;
    NeuronView* neuronView_;
    OverviewView* overviewView_;
    PlaygroundView* playgroundView_;
    HeadsView* headsView_;
    TokenSearchView* tokenSearchView_;
    QTabWidget* tabs_;
    RunDialog* runDialog_ = nullptr;
    AblationDialog* ablationDialog_ = nullptr;
    StudyCompletion* completion_ = nullptr;
    bool saving_ = false;  // a Save As is being written on the worker pool
};

}  // namespace headlight::ui
