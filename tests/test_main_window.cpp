// The main window opens offscreen with File/View/Help menus and an About box with versions.
#include <QMenuBar>
#include <QMessageBox>
#include <QtTest>

#include "core/base/versions.h"
#include "ui/main_window.h"

using namespace headlight;

class TestMainWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void menusExist() {
        ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QStringList titles;
        for (QAction* a : w.menuBar()->actions()) titles << a->text().remove(QLatin1Char('&'));
        QCOMPARE(titles, (QStringList{QStringLiteral("File"), QStringLiteral("View"), QStringLiteral("Help")}));
    }

    void aboutShowsVersions() {
        const QString text = ui::MainWindow::aboutText();
        QVERIFY(text.contains(QString::fromLatin1(qVersion())));
        QVERIFY(text.contains(QString::fromStdString(libtorchVersion())));
        QVERIFY(text.contains(QStringLiteral("GPL-3.0-or-later")));

        ui::MainWindow w;
        w.show();
        QAction* about = w.findChild<QAction*>(QStringLiteral("actionAbout"));
        QVERIFY(about);
        about->trigger();
        auto* box = w.findChild<QMessageBox*>(QStringLiteral("aboutBox"));
        QVERIFY(box);
        QTRY_VERIFY(box->isVisible());
        QVERIFY(box->text().contains(QString::fromLatin1(qVersion())));
        box->accept();
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
