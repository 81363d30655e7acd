// headlight: the desktop explorer.
//   headlight [BUNDLE]                    opens the window (and the bundle)
//   headlight --screenshot DIR BUNDLE     opens the bundle, shows each view, saves PNGs into DIR, exits
#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QTimer>

#include <cstdio>

#include "core/base/versions.h"
#include "ui/appearance.h"
#include "ui/main_window.h"

int main(int argc, char** argv) {
    headlight::ensurePassiveOpenMpWait(argv);
    QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Headlight"));
    QApplication::setOrganizationName(QStringLiteral("Headlight"));
    QApplication::setApplicationVersion(QString::fromStdString(headlight::headlightVersion()));
    // The installed desktop entry and icon (packaging/linux): Wayland app id, window and task-bar icon.
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.headlight.Headlight"));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("io.github.headlight.Headlight")));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Headlight: attention heads that switch on next-token neurons."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Open BUNDLE, save a PNG of each view into DIR, and exit."),
                                        QStringLiteral("DIR"));
    parser.addOption(screenshot);
    const QCommandLineOption colorScheme(QStringLiteral("color-scheme"),
                                         QStringLiteral("Appearance: system (default: follow the desktop), light or dark."),
                                         QStringLiteral("SCHEME"));
    parser.addOption(colorScheme);
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("A .headlight study to open."), QStringLiteral("[bundle]"));
    parser.process(app);
    const QStringList args = parser.positionalArguments();
    headlight::ui::applyColorScheme(parser.isSet(colorScheme) ? headlight::ui::colorSchemeFromName(parser.value(colorScheme))
                                                              : headlight::ui::loadColorScheme());

    headlight::ui::MainWindow window;
    if (parser.isSet(screenshot)) {
        if (args.isEmpty()) {
            std::fprintf(stderr, "headlight: --screenshot needs a bundle\n");
            return 2;
        }
        window.resize(1600, 1000);
        window.show();
        if (!window.openBundle(args.first())) {
            std::fprintf(stderr, "headlight: cannot open %s\n", qPrintable(args.first()));
            return 1;
        }
        int rc = 0;
        QTimer::singleShot(300, &window, [&] {
            const QStringList files = window.saveScreenshots(parser.value(screenshot));
            for (const QString& f : files) std::printf("%s\n", qPrintable(f));
            rc = files.isEmpty() ? 1 : 0;
            app.quit();
        });
        app.exec();
        return rc;
    }
    window.show();
    if (!args.isEmpty()) window.openBundle(args.first());
    return app.exec();
}
