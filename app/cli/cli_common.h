// Shared pieces of headlight-cli's commands: the command table, argument parsing, output helpers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QStringList>
#include <nlohmann/json.hpp>

#include "core/base/progress.h"
#include "core/explain/study_job.h"
#include "core/study/study.h"

namespace headlight::cli {

// One sub-command: `headlight-cli NAME ...`. run() gets the arguments after NAME (argv[0] first)
// and returns the exit code; it throws headlight::Error for user errors.
struct Command {
    const char* name;
    const char* summary;
    std::function<int(const QStringList& args)> run;
};

const std::vector<Command>& commands();

// Sets up a parser with --help and the command's description; parses `args` and exits 0 after
// printing help when --help is given. Throws headlight::Error on unknown options or missing values.
void parseOrThrow(QCommandLineParser& parser, const QStringList& args, const QString& description,
                  const QString& usageSuffix = {});

// The commands' one way to declare an option: a flag when `valueName` is null, else an option with a
// value (and its default).
void addOption(QCommandLineParser& p, const char* name, const char* help, const char* valueName = nullptr,
               const char* defaultValue = nullptr);

// Writes to stdout / stderr as UTF-8.
void printOut(const std::string& text);
void printErr(const std::string& text);

// Command entry points (one file each).
int runInfo(const QStringList& args);
int runTokenize(const QStringList& args);
int runActivations(const QStringList& args);
int runStudy(const QStringList& args);
int runNeuronsCommand(const QStringList& args);
int runStudyRun(const QStringList& args);
int runStudyMerge(const QStringList& args);
int runStudyAblate(const QStringList& args);
int runStudyComplete(const QStringList& args);  // cmd_complete.cpp
int runStudyExplain(const QStringList& args);  // cmd_explain.cpp
int runStudyScore(const QStringList& args);    // cmd_explain.cpp
int runDownload(const QStringList& args);      // cmd_download.cpp
int runStudyFigure(const QStringList& args);   // cmd_figure.cpp
// The application object: a QApplication on the offscreen platform for `study figure` (it draws with
// QtWidgets), a QCoreApplication otherwise (cmd_figure.cpp).
std::unique_ptr<QCoreApplication> makeApplication(int& argc, char** argv);

// Lets every --model hub id that the cache lacks be downloaded, with a progress bar on stderr
// (cmd_download.cpp). main() calls it once, before a command runs.
void enableImplicitDownloads();

// Steps 4-5 of `study run` (cmd_explain.cpp): the LLM options of explain/score (less --out), the job's
// settings from them (notes a missing API key), the --dry-run estimate of step 4 on the study of steps
// 1-3, and the report of what the job did (exit status 1 when requests failed for good).
void addRunLlmOptions(QCommandLineParser& parser);
bool runLlmDryRun(const QCommandLineParser& parser);
explain::LlmStepsOptions runLlmSteps(const QCommandLineParser& parser, bool useLlm);
void printRunDryRun(const Study& study, const explain::LlmStepsOptions& steps, const QCommandLineParser& parser);
int reportRunOutcome(const Study& study, const explain::StudyJobOutcome& outcome, const explain::LlmStepsOptions& steps);

// Ctrl-C / SIGTERM cancel the running job at its next safe point (a scan checkpoint is written, no
// half-written bundle); the one guard of every long command.
struct InterruptGuard {
    InterruptGuard();
    ~InterruptGuard();
    CancellationToken token;
};
// Summary of the head explanation scores per source and neuron kind (study score, study info).
std::string explanationSummaryText(const Study& study);
// One line per scored explanation (at most `listed`): source, neuron, head, E [95% CI], AUC.
std::string headScoresText(const Study& study, std::size_t listed = 40);
nlohmann::ordered_json explanationSummaryJson(const Study& study);

// A progress sink that draws a one-line bar on stderr when it is a terminal (silent otherwise).
Progress terminalProgress(const CancellationToken* token = nullptr);

}  // namespace headlight::cli
