// headlight: the desktop explorer.
#include <QApplication>

#include "core/base/versions.h"
#include "ui/main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Headlight"));
    QApplication::setOrganizationName(QStringLiteral("Headlight"));
    QApplication::setApplicationVersion(QString::fromStdString(headlight::headlightVersion()));
    headlight::ui::MainWindow window;
    window.show();
    return app.exec();
}
