#include "ui/main_window.h"

#include "ui/ablation_dialog.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QCryptographicHash>
#include <QPushButton>
#include <QSettings>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QEventLoop>
#include <QFutureWatcher>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include "ui/qcp.h"

#include "core/base/error.h"
#include "core/base/versions.h"
#include "core/study/bundle.h"
#include "ui/app_settings.h"
#include "ui/appearance.h"
#include "ui/color_scale.h"
#include "ui/context_list.h"
#include "ui/download_dialog.h"
#include "ui/export/context_export.h"
#include "ui/export/csv_export.h"
#include "ui/export/figure.h"
#include "ui/export/plot_export.h"
#include "ui/head_heatmap.h"
#include "ui/neuron_table_model.h"
#include "ui/neuron_table_panel.h"
#include "ui/neuron_facts_view.h"
#include "ui/neuron_view.h"
#include "ui/overview_view.h"
#include "ui/playground_view.h"
#include "ui/head_view.h"
#include "ui/lookup_view.h"
#include "ui/token_search_view.h"
#include "ui/run_dialog.h"
#include "ui/study_completion.h"
#include "ui/study_document.h"
#include "ui/validate_dialog.h"

namespace headlight::ui {

namespace {
// The platform's keys for a standard action plus the documented one: plain X11 (no desktop
// environment's theme) binds none for Save As and Full Screen.
QList<QKeySequence> withFallback(QKeySequence::StandardKey key, const QKeySequence& documented) {
    QList<QKeySequence> keys = QKeySequence::keyBindings(key);
    if (!keys.contains(documented)) keys.prepend(documented);
    return keys;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), selection_(new StudySelection(this)) {
    setWindowTitle(QStringLiteral("Headlight"));
    setAcceptDrops(true);
    resize(1400, 900);
    setCurrentDivergingScale(loadColorScaleSetting());

    fileMenu_ = menuBar()->addMenu(tr("&File"));
    QAction* open = fileMenu_->addAction(tr("&Open…"), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    open->setObjectName(QStringLiteral("actionOpen"));
    recentMenu_ = fileMenu_->addMenu(tr("Open &Recent"));
    QAction* run = fileMenu_->addAction(tr("&Run Study…"), this, &MainWindow::showRunDialog);
    run->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    run->setObjectName(QStringLiteral("actionRun"));
    QAction* download = fileMenu_->addAction(tr("&Download Model…"), this, [this] {
        DownloadDialog* d = runDialog()->downloadDialog();  // one dialog: a download started here fills the Run form
        d->show();
        d->raise();
    });
    download->setObjectName(QStringLiteral("actionDownload"));
    saveAs_ = fileMenu_->addAction(tr("Save &As…"), this, &MainWindow::saveAsDialog);
    saveAs_->setShortcuts(withFallback(QKeySequence::SaveAs, QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S)));
    saveAs_->setObjectName(QStringLiteral("actionSaveAs"));
    locateModel_ = fileMenu_->addAction(tr("&Locate Model…"), this, &MainWindow::locateModel);
    locateModel_->setObjectName(QStringLiteral("actionLocateModel"));
    locateModel_->setEnabled(false);
    QAction* complete = fileMenu_->addAction(tr("&Complete Study…"), this, &MainWindow::completeStudy);
    complete->setObjectName(QStringLiteral("actionCompleteStudy"));
    complete->setToolTip(tr("Add what a study made by an older Headlight lacks: look-ups, neuron facts, histograms"));
    studyActions_ << complete;
    fileMenu_->addSeparator();
    QMenu* exportMenu = fileMenu_->addMenu(tr("&Export"));
    QAction* exportFigure = exportMenu->addAction(tr("&Figure…"), this, &MainWindow::exportFigureDialog);
    exportFigure->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    QAction* exportContexts = exportMenu->addAction(tr("Highlighted &Contexts…"), this, &MainWindow::exportContextsDialog);
    QAction* exportTable = exportMenu->addAction(tr("Neuron &Table (CSV)…"), this, &MainWindow::exportTableDialog);
    studyActions_ = {saveAs_, exportFigure, exportContexts, exportTable};
    fileMenu_->addSeparator();
    fileMenu_->addAction(tr("&Preferences…"), this, &MainWindow::showPreferences)->setShortcut(QKeySequence::Preferences);
    QAction* quit = fileMenu_->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);
    quit->setObjectName(QStringLiteral("actionQuit"));

    neuronPanel_ = new NeuronTablePanel(selection_, this);
    neuronView_ = new NeuronView(selection_, this);
    connect(neuronView_->factsView(), &NeuronFactsView::completeRequested, this, &MainWindow::completeStudy);
    overviewView_ = new OverviewView(this);
    playgroundView_ = new PlaygroundView(selection_, this);
    tabs_ = new QTabWidget(this);
    tabs_->setObjectName(QStringLiteral("views"));
    tabs_->addTab(neuronView_, tr("&Neuron"));
    tabs_->addTab(overviewView_, tr("O&verview"));
    tabs_->addTab(playgroundView_, tr("&Playground"));
    headsView_ = new HeadsView(selection_, this);
    tabs_->addTab(headsView_, tr("He&ads"));
    connect(headsView_, &HeadsView::showNeuronRequested, this, [this] { tabs_->setCurrentWidget(neuronView_); });
    tokenSearchView_ = new TokenSearchView(this);
    tabs_->addTab(tokenSearchView_, tr("&Token → neurons"));
    // The token search uses the playground's model (loaded once); a row opens its neuron, and "New study
    // from these neurons" opens the Run dialog prefilled with them.
    tokenSearchView_->setModelSource([this] { return playgroundView_->model(); }, [this] { playgroundView_->loadModel(); });
    connect(playgroundView_, &PlaygroundView::modelAvailable, tokenSearchView_, &TokenSearchView::modelReady);
    connect(tokenSearchView_, &TokenSearchView::newStudyRequested, this, &MainWindow::newStudyFromNeurons);
    connect(tokenSearchView_, &TokenSearchView::neuronActivated, this, [this](int layer, int neuron) {
        for (int i = 0; document_ && i < document_->neuronCount(); ++i)
            if (document_->layer(i) == layer && document_->neuronIndex(i) == neuron) {
                selection_->setNeuron(i);
                tabs_->setCurrentWidget(neuronView_);
                return;
            }
        playgroundView_->showNeuron(layer, neuron);
        tabs_->setCurrentWidget(playgroundView_);
    });
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(neuronPanel_);
    split->addWidget(tabs_);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 5);
    split->setSizes({560, 1040});
    setCentralWidget(split);

    // Validate: steps 4-5 on the open bundle (ui/validate_dialog.*).
    QMenu* validateMenu = menuBar()->addMenu(tr("Va&lidate"));
    validateMenu->setObjectName(QStringLiteral("validateMenu"));
    auto openValidate = [this](ValidateDialog::Mode mode) {
        if (!document_) return;
        auto* d = findChild<ValidateDialog*>();
        if (!d) {
            d = new ValidateDialog(this);
            connect(d, &ValidateDialog::bundleUpdated, this, [this](const QString& path) {
                const int neuron = selection_->neuron();  // reopen where the user was: the new records show
                if (openBundle(path) && neuron >= 0 && neuron < document_->neuronCount()) selection_->setNeuron(neuron);
            });
        }
        if (!d->isRunning()) {
            d->setStudy(document_->path(), document_->modelPath());
            d->setMode(mode);
        }
        d->show();
        d->raise();
    };
    QAction* explainHeads = validateMenu->addAction(tr("&Explain Heads…"), this, [openValidate] { openValidate(ValidateDialog::Mode::Explain); });
    explainHeads->setObjectName(QStringLiteral("actionExplainHeads"));
    QAction* scoreExplanations = validateMenu->addAction(tr("&Score Explanations…"), this, [openValidate] { openValidate(ValidateDialog::Mode::Score); });
    scoreExplanations->setObjectName(QStringLiteral("actionScoreExplanations"));
    QAction* ablate = validateMenu->addAction(tr("&Ablate Heads…"), this, &MainWindow::showAblationDialog);
    ablate->setObjectName(QStringLiteral("actionAblate"));
    studyActions_ << explainHeads << scoreExplanations << ablate;

    viewMenu_ = menuBar()->addMenu(tr("&View"));
    QAction* find = viewMenu_->addAction(tr("&Find Neuron"), this, [this] {
        neuronPanel_->searchField()->setFocus();
        neuronPanel_->searchField()->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    QAction* table = viewMenu_->addAction(tr("Neuron &Table"), this, [this] { neuronPanel_->table()->setFocus(); });
    table->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
    const QStringList tabKeys = {QStringLiteral("Ctrl+2"), QStringLiteral("Ctrl+3"), QStringLiteral("Ctrl+4"),
                                  QStringLiteral("Ctrl+5"), QStringLiteral("Ctrl+6")};
    for (int i = 0; i < tabs_->count(); ++i) {
        QAction* a = viewMenu_->addAction(tabs_->tabText(i).remove(QLatin1Char('&')), this, [this, i] {
            tabs_->setCurrentIndex(i);
            tabs_->currentWidget()->setFocus();
        });
        if (i < tabKeys.size()) a->setShortcut(QKeySequence(tabKeys[i]));
    }
    QAction* dropped = viewMenu_->addAction(tr("Show &Dropped Contexts"));
    dropped->setCheckable(true);
    connect(dropped, &QAction::toggled, neuronView_->showDroppedBox(), &QCheckBox::setChecked);
    connect(neuronView_->showDroppedBox(), &QCheckBox::toggled, dropped, &QAction::setChecked);
    viewMenu_->addSeparator();
    QAction* fullScreen = viewMenu_->addAction(tr("&Full Screen"), this, [this](bool on) {
        on ? showFullScreen() : showNormal();
    });
    fullScreen->setCheckable(true);
    fullScreen->setShortcuts(withFallback(QKeySequence::FullScreen, QKeySequence(Qt::Key_F11)));

    helpMenu_ = menuBar()->addMenu(tr("&Help"));
    QAction* about = helpMenu_->addAction(tr("&About Headlight"), this, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("actionAbout"));
    helpMenu_->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    connect(selection_, &StudySelection::neuronChanged, this, [this](int n) {
        if (document_ && n >= 0)
            statusBar()->showMessage(tr("%1 → \"%2\"").arg(document_->neuronLabel(n), document_->tokenText(n)));
    });
    rebuildRecentMenu();
    setDocument(nullptr);
    statusBar()->showMessage(tr("Open a Headlight bundle (File > Open, or drop it here) or run a study (File > Run Study)."));
}

MainWindow::~MainWindow() = default;

QString MainWindow::aboutText() {
    return QStringLiteral(
               "<h3>Headlight %1</h3>"
               "<p>Attention heads that switch on next-token neurons in transformer language models "
               "(after Neo, Cohen &amp; Barez, arXiv 2402.15055).</p>"
               "<p>Qt %2 &middot; libtorch %3</p>"
               "<p>Licence: GPL-3.0-or-later. Uses QCustomPlot (GPL-3.0-or-later), Qt (LGPL-3.0), "
               "libtorch (BSD-3-Clause), nlohmann_json (MIT).</p>")
        .arg(QString::fromStdString(headlightVersion()), QString::fromStdString(qtVersion()),
             QString::fromStdString(libtorchVersion()));
}

void MainWindow::showAbout() {
    auto* box = new QMessageBox(QMessageBox::NoIcon, tr("About Headlight"), aboutText(), QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("aboutBox"));
    box->setTextFormat(Qt::RichText);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::showError(const QString& title, const QString& message) {
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorBox"));
    box->setTextFormat(Qt::PlainText);   // messages quote file names and file content: never rich text
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

bool MainWindow::openBundle(const QString& path) {
    std::shared_ptr<StudyDocument> document;
    QElapsedTimer timer;
    timer.start();
    try {
        document = StudyDocument::open(path);
    } catch (const std::exception& e) {
        showError(tr("Cannot open study"), tr("%1 could not be opened; the current study stays open.\n\n%2")
                                               .arg(QDir::toNativeSeparators(path), QString::fromUtf8(e.what())));
        return false;
    }
    setDocument(document);
    addRecentFile(path);
    rebuildRecentMenu();
    QString message = tr("Opened %1: %n neuron(s)", nullptr, document->neuronCount()).arg(QFileInfo(path).fileName());
    message += tr(" in %1 ms").arg(timer.elapsed());
    if (!document->hasTokenizer()) message += QStringLiteral(" — ") + document->tokenizerNote();
    statusBar()->showMessage(message);
    offerLocateModel();
    return true;
}

void MainWindow::offerLocateModel() {
    const bool missing = document_ && document_->modelPath().isEmpty() && !document_->bundle().provenance().modelId.empty();
    locateModel_->setEnabled(missing);
    if (!missing) return;
    const QString modelId = QString::fromStdString(document_->bundle().provenance().modelId);
    QSettings settings;
    const QString asked = QStringLiteral("models/asked/") + QString::fromLatin1(QCryptographicHash::hash(modelId.toUtf8(), QCryptographicHash::Sha1).toHex());
    if (settings.value(asked).toBool()) return;   // asked once; File > Locate Model… stays
    settings.setValue(asked, true);
    auto* box = new QMessageBox(QMessageBox::Question, tr("Model not found"),
                                tr("The study's model %1 was not found, here or next to the bundle: tokens are shown by id "
                                   "and the playground cannot run.\n\nPoint Headlight at the model's folder?").arg(modelId),
                                QMessageBox::NoButton, this);
    box->setObjectName(QStringLiteral("locateModelBox"));
    box->setTextFormat(Qt::PlainText);
    QPushButton* locate = box->addButton(tr("&Locate Model…"), QMessageBox::AcceptRole);
    box->addButton(tr("Not Now"), QMessageBox::RejectRole);
    box->setAttribute(Qt::WA_DeleteOnClose);
    connect(box, &QMessageBox::buttonClicked, this, [this, locate](QAbstractButton* b) {
        if (b == locate) QTimer::singleShot(0, this, &MainWindow::locateModel);
    });
    box->open();
}

bool MainWindow::locateModel() {
    if (!document_) return false;
    const QString folder = QFileDialog::getExistingDirectory(
        this, tr("Locate Model %1").arg(QString::fromStdString(document_->bundle().provenance().modelId)));
    return !folder.isEmpty() && setModelLocation(folder);
}

bool MainWindow::setModelLocation(const QString& folder) {
    if (!document_) return false;
    const QString modelId = QString::fromStdString(document_->bundle().provenance().modelId);
    StudyDocument::setLocatedModel(modelId, folder);
    const int neuron = selection_->neuron();
    const QString path = document_->path();   // a copy: reopening replaces the document
    if (!openBundle(path)) return false;
    if (neuron >= 0 && neuron < document_->neuronCount()) selection_->setNeuron(neuron);
    if (document_->modelPath().isEmpty()) {
        showError(tr("Model not found"), tr("%1 holds no tokenizer of the model %2.").arg(folder, modelId));
        return false;
    }
    return true;
}

void MainWindow::setDocument(std::shared_ptr<const StudyDocument> document) {
    document_ = std::move(document);
    selection_->clear();
    neuronPanel_->setDocument(document_);
    neuronView_->setDocument(document_);
    overviewView_->setDocument(document_);
    playgroundView_->setDocument(document_);
    headsView_->setDocument(document_);
    tokenSearchView_->setDocument(document_);
    for (QAction* a : studyActions_) a->setEnabled(document_ != nullptr);
    setWindowTitle(document_ ? tr("%1 — Headlight").arg(QFileInfo(document_->path()).fileName()) : QStringLiteral("Headlight"));
    if (document_ && document_->neuronCount() > 0) {
        // Start on the real neuron with the most relevant heads (ties: table order): something to see.
        int best = 0;
        if (document_->neuronCount() <= 100000)
            for (int i = 1; i < document_->neuronCount(); ++i)
                if (document_->relevantHeads(i) > document_->relevantHeads(best) && !document_->baseline(i)) best = i;
        selection_->setNeuron(best);
    }
}

bool MainWindow::saveStudyAs(const QString& path) {
    if (!document_ || saving_) return false;
    // The copy and the write run on the worker pool; the window keeps painting meanwhile (a local
    // event loop), with the study actions off until the write is done.
    saving_ = true;
    for (QAction* a : studyActions_) a->setEnabled(false);
    statusBar()->showMessage(tr("Saving %1…").arg(path));
    QFutureWatcher<QString> watcher;
    QEventLoop loop;
    connect(&watcher, &QFutureWatcher<QString>::finished, &loop, &QEventLoop::quit);
    const std::shared_ptr<const StudyDocument> document = document_;
    watcher.setFuture(QtConcurrent::run([document, path]() -> QString {
        try {
            saveBundle(document->bundle().toStudy(), path);
            return QString();
        } catch (const std::exception& e) {
            return QString::fromUtf8(e.what());
        }
    }));
    if (!watcher.isFinished()) loop.exec(QEventLoop::ExcludeUserInputEvents);
    const QString error = watcher.result();
    saving_ = false;
    for (QAction* a : studyActions_) a->setEnabled(document_ != nullptr);
    if (!error.isEmpty()) {
        statusBar()->clearMessage();
        showError(tr("Cannot save study"), error);
        return false;
    }
    addRecentFile(path);
    rebuildRecentMenu();
    statusBar()->showMessage(tr("Saved %1").arg(path));
    return true;
}

bool MainWindow::exportNeuronTable(const QString& path) {
    try {
        exportModelCsv(*neuronPanel_->proxy(), path);
    } catch (const std::exception& e) {
        showError(tr("Cannot export table"), QString::fromUtf8(e.what()));
        return false;
    }
    return true;
}

bool MainWindow::exportContexts(const QString& path) {
    const ContextListModel* model = neuronView_->contextList()->contextModel();
    if (!model->neuron()) return false;
    std::vector<HighlightedContext> contexts;
    for (int r = 0; r < model->rowCount(); ++r) contexts.push_back(model->highlighted(r));
    try {
        ui::exportContexts(contexts, path, tr("%1: max-activating contexts").arg(document_->neuronLabel(selection_->neuron())));
    } catch (const std::exception& e) {
        showError(tr("Cannot export contexts"), QString::fromUtf8(e.what()));
        return false;
    }
    return true;
}

bool MainWindow::exportPlot(QCustomPlot* plot, const QString& path, const FigureOptions& options) {
    try {
        ui::exportPlot(*plot, path, options);
    } catch (const std::exception& e) {
        showError(tr("Cannot export figure"), QString::fromUtf8(e.what()));
        return false;
    }
    return true;
}

FigureRequest MainWindow::figureRequest(FigureKind kind, bool dark) const {
    FigureRequest r;
    r.kind = kind;
    r.dark = dark;
    r.neuron = selection_->neuron();
    r.context = selection_->context();
    r.includeDropped = neuronView_->showDroppedBox()->isChecked();
    if (auto* choice = overviewView_->findChild<QComboBox*>()) r.ablation = std::max(0, choice->currentIndex());
    if (kind == FigureKind::Playground) r.playground = &playgroundView_->lastResult();
    r.head = selection_->head();
    if (const LookupView* lookup = neuronView_->lookupView(); kind == FigureKind::Lookup && lookup->row()) {
        r.lookup = &*lookup->row();   // what the view shows, computed on demand or stored
        r.attention = lookup->mode() == LookupMode::Attention;
    }
    return r;
}

bool MainWindow::exportFigure(FigureKind kind, const QString& path, const FigureOptions& options, bool dark) {
    try {
        ui::exportFigure(document_, figureRequest(kind, dark), path, options);
    } catch (const std::exception& e) {
        showError(tr("Cannot export figure"), QString::fromUtf8(e.what()));
        return false;
    }
    return true;
}

void MainWindow::openDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Study"), QString(),
                                                      tr("Headlight bundles (*.headlight);;All files (*)"));
    if (!path.isEmpty()) openBundle(path);
}

void MainWindow::saveAsDialog() {
    if (!document_) return;
    QString path = QFileDialog::getSaveFileName(this, tr("Save Study As"), QString(), tr("Headlight bundles (*.headlight)"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".headlight");
    saveStudyAs(path);
}

void MainWindow::exportFigureDialog() {
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Export Figure"));
    auto* plot = new QComboBox(&dialog);
    plot->setObjectName(QStringLiteral("figureKind"));
    for (const FigureKindInfo& k : figureKinds())
        plot->addItem(QString::fromLatin1(k.name), QVariant::fromValue(static_cast<int>(k.kind)));
    for (int i = 0; i < plot->count(); ++i) plot->setItemData(i, QString::fromLatin1(figureKinds()[i].description), Qt::ToolTipRole);
    plot->setCurrentIndex(tabs_->currentWidget() == overviewView_ ? 2 : (tabs_->currentWidget() == playgroundView_ ? 5 : 0));
    auto* about = new QLabel(&dialog);
    about->setWordWrap(true);
    about->setText(QString::fromLatin1(figureKinds()[plot->currentIndex()].description));
    connect(plot, qOverload<int>(&QComboBox::currentIndexChanged), about,
            [about](int i) { about->setText(QString::fromLatin1(figureKinds()[i].description)); });
    auto* preset = new QComboBox(&dialog);
    preset->addItems({tr("Single column (3.25 in)"), tr("Double column (6.75 in)"), tr("Custom")});
    auto* width = new QDoubleSpinBox(&dialog);
    width->setRange(1, 40);
    width->setSuffix(tr(" in"));
    width->setValue(3.25);
    auto* height = new QDoubleSpinBox(&dialog);
    height->setRange(1, 40);
    height->setSuffix(tr(" in"));
    height->setValue(2.4);
    auto* dpi = new QSpinBox(&dialog);
    dpi->setRange(72, 1200);
    dpi->setValue(300);
    auto* font = new QDoubleSpinBox(&dialog);
    font->setRange(4, 24);
    font->setValue(8);
    font->setSuffix(tr(" pt"));
    auto* family = new QLineEdit(FigureOptions().fontFamily, &dialog);
    auto* dark = new QCheckBox(tr("Dark background (default: paper white)"), &dialog);
    connect(preset, qOverload<int>(&QComboBox::currentIndexChanged), &dialog, [=](int i) {
        if (i == 0) {
            width->setValue(3.25);
            height->setValue(2.4);
        }
        if (i == 1) {
            width->setValue(6.75);
            height->setValue(3.0);
        }
    });
    auto* form = new QFormLayout(&dialog);
    form->addRow(tr("&Plot:"), plot);
    form->addRow(QString(), about);
    form->addRow(tr("&Size:"), preset);
    form->addRow(tr("&Width:"), width);
    form->addRow(tr("&Height:"), height);
    form->addRow(tr("&DPI (PNG):"), dpi);
    form->addRow(tr("&Font size:"), font);
    form->addRow(tr("F&ont:"), family);
    form->addRow(QString(), dark);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, &dialog);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Figure"), QString(),
                                                      tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png);;LaTeX, look-up only (*.tex)"));
    if (path.isEmpty()) return;
    FigureOptions o;
    o.widthInches = width->value();
    o.heightInches = height->value();
    o.dpi = dpi->value();
    o.fontPoints = font->value();
    o.fontFamily = family->text();
    exportFigure(static_cast<FigureKind>(plot->currentData().toInt()), path, o, dark->isChecked());
}

void MainWindow::exportContextsDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Highlighted Contexts"), QString(),
                                                      tr("PDF (*.pdf);;SVG (*.svg);;HTML (*.html);;LaTeX snippet (*.tex)"));
    if (!path.isEmpty()) exportContexts(path);
}

void MainWindow::exportTableDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Neuron Table"), QString(), tr("CSV (*.csv)"));
    if (!path.isEmpty()) exportNeuronTable(path);
}

RunDialog* MainWindow::runDialog() {
    if (!runDialog_) {
        runDialog_ = new RunDialog(this);
        connect(runDialog_, &RunDialog::studyReady, this, [this](const QString& path) { openBundle(path); });
    }
    return runDialog_;
}

void MainWindow::newStudyFromNeurons(const QStringList& neurons) {
    RunDialog* d = runDialog();
    PipelineOptions o = d->options();
    if (document_) {  // the open study's model and corpus, as a starting point
        const Provenance& p = document_->bundle().provenance();
        o.model = document_->modelPath().isEmpty() ? QString::fromStdString(p.modelId) : document_->modelPath();
        if (o.corpus.isEmpty()) o.corpus = QString::fromStdString(p.corpus);
    }
    o.parameters.neurons.clear();
    for (const QString& n : neurons) o.parameters.neurons.push_back(n.toStdString());
    o.parameters.layers.clear();  // the neurons' own layers
    d->setOptions(o);
    showRunDialog();
}

void MainWindow::showRunDialog() {
    runDialog()->show();
    runDialog()->raise();
}

void MainWindow::showAblationDialog() {
    if (!ablationDialog_) {
        ablationDialog_ = new AblationDialog(this);
        connect(ablationDialog_, &AblationDialog::ablationReady, this, [this](const QString& path, int first) {
            if (!document_ || document_->path() != path) return;   // another study was opened meanwhile
            const int neuron = selection_->neuron();
            if (!openBundle(path)) return;
            if (neuron >= 0 && neuron < document_->neuronCount()) selection_->setNeuron(neuron);
            tabs_->setCurrentWidget(overviewView_);
            overviewView_->showAblationRecord(first);
        });
    }
    ablationDialog_->setDocument(document_, selection_->neuron());
    ablationDialog_->show();
    ablationDialog_->raise();
}

void MainWindow::completeStudy() {
    if (!document_) return;
    if (!completion_) {
        completion_ = new StudyCompletion(this);
        connect(completion_, &StudyCompletion::completed, this, [this](const QString& path, const QString& summary) {
            if (!document_ || document_->path() != path) return;   // another study was opened meanwhile
            const int neuron = selection_->neuron();
            if (!openBundle(path)) return;
            if (neuron >= 0 && neuron < document_->neuronCount()) selection_->setNeuron(neuron);
            statusBar()->showMessage(summary.isEmpty() ? tr("Nothing was missing.") : tr("Added %1.").arg(summary));
        });
        connect(completion_, &StudyCompletion::failed, this,
                [this](const QString& message) { showError(tr("Could not complete the study"), message); });
    }
    if (completion_->isRunning()) return;
    if (StudyCompletion::missingText(*document_).isEmpty()) {
        statusBar()->showMessage(tr("This study lacks nothing: look-ups, neuron facts and histograms are stored."));
        return;
    }
    if (document_->modelPath().isEmpty() && !locateModel()) return;
    completion_->start(*document_);
}

void MainWindow::showPreferences() {
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Preferences"));
    auto* scale = new QComboBox(&dialog);
    scale->addItems(divergingScaleNames());
    scale->setCurrentText(currentDivergingScale());
    LlmSettings s = loadLlmSettings();
    auto* endpoint = new QLineEdit(s.endpoint, &dialog);
    auto* explainer = new QLineEdit(s.explainerModel, &dialog);
    auto* classifier = new QLineEdit(s.classifierModel, &dialog);
    auto* concurrency = new QSpinBox(&dialog);
    concurrency->setRange(1, 256);
    concurrency->setValue(s.concurrency);
    auto* key = new QLineEdit(&dialog);
    key->setEchoMode(QLineEdit::Password);
    key->setPlaceholderText(sessionApiKey().isEmpty() ? tr("not set (memory only, never saved)")
                                                      : tr("set for this session (memory only, never saved)"));
    auto* scheme = new QComboBox(&dialog);
    scheme->addItems(colorSchemeNames());
    scheme->setCurrentText(colorSchemeName(loadColorScheme()));
    scheme->setObjectName(QStringLiteral("colorSchemeCombo"));
    auto* form = new QFormLayout(&dialog);
    form->addRow(tr("&Appearance:"), scheme);
    form->addRow(tr("Diverging colour &scale:"), scale);
    form->addRow(tr("LLM &endpoint:"), endpoint);
    form->addRow(tr("E&xplainer model:"), explainer);
    form->addRow(tr("&Classifier model:"), classifier);
    form->addRow(tr("C&oncurrency:"), concurrency);
    form->addRow(tr("API &key:"), key);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return;
    s.endpoint = endpoint->text();
    s.explainerModel = explainer->text();
    s.classifierModel = classifier->text();
    s.concurrency = concurrency->value();
    saveLlmSettings(s);
    if (!key->text().isEmpty()) setSessionApiKey(key->text());
    setCurrentDivergingScale(scale->currentText());
    saveColorScaleSetting(scale->currentText());
    const ColorScheme chosen = colorSchemeFromName(scheme->currentText());
    saveColorScheme(chosen);
    applyColorScheme(chosen);
    const auto doc = document_;
    const int neuron = selection_->neuron(), context = selection_->context(), head = selection_->head();
    setDocument(doc);
    selection_->setNeuron(neuron);
    selection_->setContextAndHead(context, head);
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList files = recentFiles();
    for (const QString& f : files) {
        recentMenu_->addAction(QFileInfo(f).fileName() + QStringLiteral("  (") + QDir::toNativeSeparators(QFileInfo(f).path()) +
                                   QStringLiteral(")"),
                               this, [this, f] { openBundle(f); });
    }
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) {
        for (const QUrl& url : event->mimeData()->urls())
            if (url.isLocalFile()) {
                event->acceptProposedAction();
                return;
            }
    }
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) {
            openBundle(url.toLocalFile());
            event->acceptProposedAction();
            return;
        }
}

QStringList MainWindow::saveScreenshots(const QString& dir) {
    QDir().mkpath(dir);
    QStringList written;
    auto grab = [&](QWidget* w, const QString& name) {
        QApplication::processEvents();
        const QString path = QDir(dir).filePath(name);
        if (w->grab().save(path)) written << path;
    };
    tabs_->setCurrentWidget(neuronView_);
    if (document_) {
        const int neuron = selection_->neuron();
        const NeuronResult* n = neuronView_->neuron();
        if (n && !n->contexts.empty()) {
            const int head = !n->relevantHeads.empty() ? n->relevantHeads.front()
                                                       : (!n->candidateHeads.empty() ? n->candidateHeads.back() : -1);
            int context = 0;   // the first kept context where the head is active: its look-up shows
            for (int c = static_cast<int>(n->contexts.size()) - 1; c >= 0; --c)
                if (head >= 0 && n->contexts[c].kept && !n->contexts[c].lookups.empty() && n->contexts[c].active[head]) context = c;
            selection_->setContextAndHead(context, head);
        }
        Q_UNUSED(neuron);
    }
    grab(this, QStringLiteral("main-window.png"));
    grab(neuronView_, QStringLiteral("neuron-view.png"));
    grab(neuronView_->contextHeadMap(), QStringLiteral("context-head-heatmap.png"));
    grab(neuronView_->contextList(), QStringLiteral("contexts.png"));
    grab(neuronView_->lookupView(), QStringLiteral("lookup-view.png"));
    {   // the Neuron facts tab of the details pane
        QTabWidget* details = neuronView_->detailTabs();
        const int before = details->currentIndex();
        details->setCurrentWidget(neuronView_->factsView());
        grab(details, QStringLiteral("neuron-facts.png"));
        details->setCurrentIndex(before);
    }
    if (document_ && selection_->head() >= 0) {   // the Heads tab on the selected head
        tabs_->setCurrentWidget(headsView_);
        QEventLoop loop;
        connect(headsView_, &HeadsView::ready, &loop, &QEventLoop::quit);
        QTimer::singleShot(60000, &loop, &QEventLoop::quit);
        if (headsView_->busy()) loop.exec();
        grab(this, QStringLiteral("heads.png"));
        tabs_->setCurrentWidget(neuronView_);
    }
    tabs_->setCurrentWidget(overviewView_);
    grab(this, QStringLiteral("overview.png"));
    tabs_->setCurrentWidget(neuronView_);
    grab(neuronPanel_, QStringLiteral("neuron-table.png"));
    {  // the dialogs, as they first open (nothing is run or fetched)
        RunDialog* run = runDialog();  // at the size it opens with
        grab(run, QStringLiteral("run-dialog.png"));
        DownloadDialog* download = run->downloadDialog();
        download->setHubId(QStringLiteral("EleutherAI/pythia-160m"));
        download->adjustSize();
        grab(download, QStringLiteral("download-dialog.png"));
    }
    if (document_) {  // the playground: load the study's model (worker thread) and show one sentence
        tabs_->setCurrentWidget(playgroundView_);
        QEventLoop loop;
        connect(playgroundView_, &PlaygroundView::resultReady, &loop, &QEventLoop::quit);
        QTimer::singleShot(120000, &loop, &QEventLoop::quit);
        playgroundView_->editor()->setPlainText(
            QStringLiteral("Poirot looked at the table and said to his mom that the door was closed."));
        loop.exec();
        grab(this, QStringLiteral("playground.png"));
        tabs_->setCurrentWidget(neuronView_);
    }
    return written;
}

}  // namespace headlight::ui
