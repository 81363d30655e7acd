#include "ui/appearance.h"

#include <QApplication>
#include <QProcess>
#include <QSettings>
#include <QStandardPaths>
#include <QStyle>
#include <QStyleFactory>

namespace headlight::ui {

namespace {

// What the platform gave us before the first change, to go back to for Light / System-light.
struct PlatformLook {
    QPalette palette;
    QString style;
    bool known = false;
};
PlatformLook& platformLook() {
    static PlatformLook look;
    return look;
}

bool gsettingsPrefersDark() {
    const QString gsettings = QStandardPaths::findExecutable(QStringLiteral("gsettings"));
    if (gsettings.isEmpty()) return false;
    QProcess p;
    p.start(gsettings, {QStringLiteral("get"), QStringLiteral("org.gnome.desktop.interface"), QStringLiteral("color-scheme")});
    if (!p.waitForFinished(1500)) {
        p.kill();
        p.waitForFinished(500);
        return false;
    }
    return p.exitCode() == 0 && p.readAllStandardOutput().contains("prefer-dark");
}

}  // namespace

QStringList colorSchemeNames() { return {QStringLiteral("System"), QStringLiteral("Light"), QStringLiteral("Dark")}; }

ColorScheme colorSchemeFromName(const QString& name) {
    if (name.compare(QStringLiteral("light"), Qt::CaseInsensitive) == 0) return ColorScheme::Light;
    if (name.compare(QStringLiteral("dark"), Qt::CaseInsensitive) == 0) return ColorScheme::Dark;
    return ColorScheme::System;
}

QString colorSchemeName(ColorScheme scheme) {
    switch (scheme) {
    case ColorScheme::Light: return QStringLiteral("Light");
    case ColorScheme::Dark: return QStringLiteral("Dark");
    case ColorScheme::System: break;
    }
    return QStringLiteral("System");
}

bool systemPrefersDark(const QPalette& platformPalette) {
    if (platformPalette.color(QPalette::Window).lightness() < 128) return true;  // a dark platform theme
    const QString gtkTheme = qEnvironmentVariable("GTK_THEME");
    if (gtkTheme.endsWith(QStringLiteral(":dark"), Qt::CaseInsensitive)) return true;
    return gsettingsPrefersDark();
}

QPalette darkPalette() {
    QPalette p;
    const QColor window(45, 45, 48), base(30, 30, 32), text(225, 225, 228), disabled(128, 128, 132);
    const QColor highlight(42, 130, 218);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(40, 40, 43));
    p.setColor(QPalette::ToolTipBase, QColor(60, 60, 64));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(150, 150, 155));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(255, 90, 90));
    p.setColor(QPalette::Light, QColor(70, 70, 74));
    p.setColor(QPalette::Midlight, QColor(60, 60, 64));
    p.setColor(QPalette::Mid, QColor(90, 90, 95));
    p.setColor(QPalette::Dark, QColor(20, 20, 22));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, highlight);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(100, 170, 255));
    p.setColor(QPalette::LinkVisited, QColor(170, 140, 255));
    for (QPalette::ColorRole role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(80, 80, 85));
    return p;
}

void applyColorScheme(ColorScheme scheme) {
    PlatformLook& look = platformLook();
    if (!look.known) {
        look.palette = QApplication::palette();
        look.style = QApplication::style() ? QApplication::style()->name() : QString();
        look.known = true;
    }
    const bool dark = scheme == ColorScheme::Dark || (scheme == ColorScheme::System && systemPrefersDark(look.palette));
    const bool platformDark = look.palette.color(QPalette::Window).lightness() < 128;
    if (dark && !platformDark) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(darkPalette());
    } else if (!dark && platformDark) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(QApplication::style()->standardPalette());
    } else {
        if (!look.style.isEmpty()) QApplication::setStyle(QStyleFactory::create(look.style));
        QApplication::setPalette(look.palette);
    }
}

ColorScheme loadColorScheme() {
    return colorSchemeFromName(QSettings().value(QStringLiteral("appearance/colorScheme")).toString());
}

void saveColorScheme(ColorScheme scheme) {
    QSettings().setValue(QStringLiteral("appearance/colorScheme"), colorSchemeName(scheme));
}

}  // namespace headlight::ui
