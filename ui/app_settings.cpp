#include "ui/app_settings.h"

#include <QFileInfo>
#include <QSettings>

#include "core/base/error.h"

namespace headlight::ui {

namespace {
QString& apiKey() {
    static QString key;
    return key;
}
QString joinInts(const std::vector<int>& v) {
    QStringList s;
    for (int x : v) s << QString::number(x);
    return s.join(QLatin1Char(','));
}
std::vector<int> splitInts(const QString& text) {
    std::vector<int> out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = part.trimmed().toInt(&ok);
        if (ok) out.push_back(v);
    }
    return out;
}
}  // namespace

LlmSettings loadLlmSettings() {
    QSettings s;
    LlmSettings d;
    d.endpoint = s.value(QStringLiteral("llm/endpoint"), d.endpoint).toString();
    d.explainerModel = s.value(QStringLiteral("llm/explainerModel"), d.explainerModel).toString();
    d.classifierModel = s.value(QStringLiteral("llm/classifierModel"), d.classifierModel).toString();
    d.concurrency = s.value(QStringLiteral("llm/concurrency"), d.concurrency).toInt();
    d.explain = s.value(QStringLiteral("llm/explain"), d.explain).toBool();
    d.offlineOnly = s.value(QStringLiteral("llm/offlineOnly"), d.offlineOnly).toBool();
    return d;
}

void saveLlmSettings(const LlmSettings& d) {
    QSettings s;
    s.setValue(QStringLiteral("llm/endpoint"), d.endpoint);
    s.setValue(QStringLiteral("llm/explainerModel"), d.explainerModel);
    s.setValue(QStringLiteral("llm/classifierModel"), d.classifierModel);
    s.setValue(QStringLiteral("llm/concurrency"), d.concurrency);
    s.setValue(QStringLiteral("llm/explain"), d.explain);
    s.setValue(QStringLiteral("llm/offlineOnly"), d.offlineOnly);
}

QString sessionApiKey() {
    if (!apiKey().isEmpty()) return apiKey();
    return qEnvironmentVariable("OPENAI_API_KEY");
}
void setSessionApiKey(const QString& key) { apiKey() = key; }

PipelineOptions loadDefaultPipelineOptions() {
    QSettings s;
    PipelineOptions o;
    StudyParameters& p = o.parameters;
    s.beginGroup(QStringLiteral("parameters"));
    p.layers = splitInts(s.value(QStringLiteral("layers"), joinInts(p.layers)).toString());
    p.topK = s.value(QStringLiteral("topK"), p.topK).toInt();
    p.randomPerLayer = s.value(QStringLiteral("randomPerLayer"), p.randomPerLayer).toInt();
    p.randomSeed = s.value(QStringLiteral("randomSeed"), qulonglong(p.randomSeed)).toULongLong();
    p.minTokenChars = s.value(QStringLiteral("minTokenChars"), p.minTokenChars).toInt();
    p.requireWordBoundary = s.value(QStringLiteral("requireWordBoundary"), p.requireWordBoundary).toBool();
    p.topDocuments = s.value(QStringLiteral("topDocuments"), p.topDocuments).toInt();
    p.maxDocuments = s.value(QStringLiteral("maxDocuments"), p.maxDocuments).toInt();
    p.truncationRatio = s.value(QStringLiteral("truncationRatio"), p.truncationRatio).toDouble();
    p.maxContextTokens = s.value(QStringLiteral("maxContextTokens"), p.maxContextTokens).toInt();
    p.promptsPerNeuron = s.value(QStringLiteral("promptsPerNeuron"), p.promptsPerNeuron).toInt();
    p.sameLayerHeads = s.value(QStringLiteral("sameLayerHeads"), p.sameLayerHeads).toBool();
    try {
        p.attributionScore = parseAttributionScore(
            s.value(QStringLiteral("attributionScore"), QString::fromLatin1(attributionScoreName(p.attributionScore)))
                .toString()
                .toStdString());
    } catch (const Error&) {  // a hand-edited setting: keep the paper's default
    }
    p.activeStdMultiplier = s.value(QStringLiteral("activeStdMultiplier"), p.activeStdMultiplier).toDouble();
    p.relevantMin = s.value(QStringLiteral("relevantMin"), p.relevantMin).toDouble();
    p.relevantMax = s.value(QStringLiteral("relevantMax"), p.relevantMax).toDouble();
    p.mimicNewlineRoundTrip = s.value(QStringLiteral("mimicNewlineRoundTrip"), p.mimicNewlineRoundTrip).toBool();
    o.rawWeights = s.value(QStringLiteral("rawWeights"), o.rawWeights).toBool();
    o.bf16 = s.value(QStringLiteral("bf16"), o.bf16).toBool();
    o.batchTokens = s.value(QStringLiteral("batchTokens"), qlonglong(o.batchTokens)).toLongLong();
    o.textField = s.value(QStringLiteral("textField"), o.textField).toString();
    s.endGroup();
    return o;
}

void saveDefaultPipelineOptions(const PipelineOptions& o) {
    QSettings s;
    const StudyParameters& p = o.parameters;
    s.beginGroup(QStringLiteral("parameters"));
    s.setValue(QStringLiteral("layers"), joinInts(p.layers));
    s.setValue(QStringLiteral("topK"), p.topK);
    s.setValue(QStringLiteral("randomPerLayer"), p.randomPerLayer);
    s.setValue(QStringLiteral("randomSeed"), qulonglong(p.randomSeed));
    s.setValue(QStringLiteral("minTokenChars"), p.minTokenChars);
    s.setValue(QStringLiteral("requireWordBoundary"), p.requireWordBoundary);
    s.setValue(QStringLiteral("topDocuments"), p.topDocuments);
    s.setValue(QStringLiteral("maxDocuments"), p.maxDocuments);
    s.setValue(QStringLiteral("truncationRatio"), p.truncationRatio);
    s.setValue(QStringLiteral("maxContextTokens"), p.maxContextTokens);
    s.setValue(QStringLiteral("promptsPerNeuron"), p.promptsPerNeuron);
    s.setValue(QStringLiteral("sameLayerHeads"), p.sameLayerHeads);
    s.setValue(QStringLiteral("attributionScore"), QString::fromLatin1(attributionScoreName(p.attributionScore)));
    s.setValue(QStringLiteral("activeStdMultiplier"), p.activeStdMultiplier);
    s.setValue(QStringLiteral("relevantMin"), p.relevantMin);
    s.setValue(QStringLiteral("relevantMax"), p.relevantMax);
    s.setValue(QStringLiteral("mimicNewlineRoundTrip"), p.mimicNewlineRoundTrip);
    s.setValue(QStringLiteral("rawWeights"), o.rawWeights);
    s.setValue(QStringLiteral("bf16"), o.bf16);
    s.setValue(QStringLiteral("batchTokens"), qlonglong(o.batchTokens));
    s.setValue(QStringLiteral("textField"), o.textField);
    s.endGroup();
}

QStringList recentFiles() { return QSettings().value(QStringLiteral("recentFiles")).toStringList(); }

void addRecentFile(const QString& path) {
    QStringList files = recentFiles();
    const QString abs = QFileInfo(path).absoluteFilePath();
    files.removeAll(abs);
    files.prepend(abs);
    while (files.size() > 10) files.removeLast();
    QSettings().setValue(QStringLiteral("recentFiles"), files);
}

void removeRecentFile(const QString& path) {
    QStringList files = recentFiles();
    files.removeAll(QFileInfo(path).absoluteFilePath());
    QSettings().setValue(QStringLiteral("recentFiles"), files);
}

QString loadColorScaleSetting() { return QSettings().value(QStringLiteral("view/colorScale"), QStringLiteral("RdBu")).toString(); }
void saveColorScaleSetting(const QString& name) { QSettings().setValue(QStringLiteral("view/colorScale"), name); }

}  // namespace headlight::ui
