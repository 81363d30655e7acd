// The main window: menus, the central views, status bar. Holds no business logic: views observe a
// Study, jobs run on the worker pool.
#pragma once

#include <QMainWindow>

class QMenu;

namespace headlight::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    // Text of Help > About: Headlight, Qt and libtorch versions, licence.
    static QString aboutText();

    QMenu* fileMenu() const { return fileMenu_; }
    QMenu* viewMenu() const { return viewMenu_; }
    QMenu* helpMenu() const { return helpMenu_; }

public Q_SLOTS:
    void showAbout();

private:
    QMenu* fileMenu_ = nullptr;
    QMenu* viewMenu_ = nullptr;
    QMenu* helpMenu_ = nullptr;
};

}  // namespace headlight::ui
