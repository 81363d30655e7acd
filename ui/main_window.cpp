#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

#include "core/base/versions.h"

namespace headlight::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("Headlight"));
    resize(1200, 800);

    fileMenu_ = menuBar()->addMenu(tr("&File"));
    QAction* quit = fileMenu_->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);
    quit->setObjectName(QStringLiteral("actionQuit"));

    viewMenu_ = menuBar()->addMenu(tr("&View"));
    QAction* fullScreen = viewMenu_->addAction(tr("&Full Screen"), this, [this](bool on) {
        on ? showFullScreen() : showNormal();
    });
    fullScreen->setCheckable(true);
    fullScreen->setShortcut(QKeySequence::FullScreen);

    helpMenu_ = menuBar()->addMenu(tr("&Help"));
    QAction* about = helpMenu_->addAction(tr("&About Headlight"), this, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("actionAbout"));
    helpMenu_->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    auto* placeholder = new QLabel(tr("Open a Headlight bundle (File > Open) or run a study."), this);
    placeholder->setAlignment(Qt::AlignCenter);
    setCentralWidget(placeholder);
    statusBar()->showMessage(tr("Ready"));
}

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

}  // namespace headlight::ui
