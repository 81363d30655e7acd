// Settings kept across sessions (QSettings): LLM endpoint and models, default study parameters,
// the colour scale, recent files. The API key is never written: it lives in memory for the session
// only (or comes from OPENAI_API_KEY).
#pragma once

#include <QString>
#include <QStringList>

#include "core/study/pipeline.h"

namespace headlight::ui {

struct LlmSettings {
    QString endpoint = QStringLiteral("https://api.openai.com/v1");
    QString explainerModel = QStringLiteral("gpt-4-1106-preview");   // the paper's explainer
    QString classifierModel = QStringLiteral("gpt-4-1106-preview");
    int concurrency = 4;
    bool explain = false;          // Run dialog: also run steps 4-5 (explain, and score on the held-out corpus)
    bool offlineOnly = false;      // ... with the offline n-gram baseline only (no LLM request)
};

LlmSettings loadLlmSettings();
void saveLlmSettings(const LlmSettings& settings);

// The session's API key: set in the Run dialog or Preferences, else OPENAI_API_KEY. Never stored.
QString sessionApiKey();
void setSessionApiKey(const QString& key);

// Default parameters of the Run dialog (the paper's unless the user saved others).
PipelineOptions loadDefaultPipelineOptions();
void saveDefaultPipelineOptions(const PipelineOptions& options);

QStringList recentFiles();
void addRecentFile(const QString& path);
void removeRecentFile(const QString& path);

QString loadColorScaleSetting();
void saveColorScaleSetting(const QString& name);

}  // namespace headlight::ui
