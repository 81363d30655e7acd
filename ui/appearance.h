// Light and dark appearance. "System" follows the desktop: the platform theme's palette when it is
// dark, else the GTK/GNOME preference (GTK_THEME=...:dark, or gsettings' color-scheme 'prefer-dark').
// Dark uses the Fusion style with a dark palette; every view reads its colours from the palette
// (plots restyle on QEvent::PaletteChange), so nothing else changes.
#pragma once

#include <QPalette>
#include <QString>
#include <QStringList>

namespace headlight::ui {

enum class ColorScheme { System, Light, Dark };

QStringList colorSchemeNames();                         // "System", "Light", "Dark"
ColorScheme colorSchemeFromName(const QString& name);   // unknown names: System
QString colorSchemeName(ColorScheme scheme);

// True when the desktop asks for dark windows (see above). `platformPalette` is the palette the
// platform theme gave the application before any change.
bool systemPrefersDark(const QPalette& platformPalette);
QPalette darkPalette();

// Applies `scheme` to the running QApplication (call after it exists; again whenever it changes).
void applyColorScheme(ColorScheme scheme);
// The scheme saved in the settings (Preferences), System by default.
ColorScheme loadColorScheme();
void saveColorScheme(ColorScheme scheme);

}  // namespace headlight::ui
