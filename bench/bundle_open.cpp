// Benchmark: open a bundle of 300,000 neurons x 20 contexts (synthetic, written here with saveBundle into
// /tmp by a child process, so the writer's memory does not count) and time it to the first painted
// neuron table of the main window (offscreen); then peak memory (getrusage ru_maxrss) against the file
// size. Prints one line each. Goals: under 1 s, under 1.5x the file size.
//   bench_bundle_open [NEURONS] [CONTEXTS]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <QApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTableView>

#include "core/study/bundle.h"
#include "ui/main_window.h"
#include "ui/neuron_table_panel.h"

using namespace headlight;

namespace {

void writeSynthetic(const QString& path, int neurons, int contexts) {
    Study s;
    s.nLayers = 2;
    s.nHeads = 4;
    s.dMlp = 1 << 20;
    s.provenance.modelId = "synthetic";
    s.parameters.layers = {0, 1};
    const int heads = s.nLayers * s.nHeads;
    s.neurons.resize(neurons);
    for (int i = 0; i < neurons; ++i) {
        NeuronResult& r = s.neurons[i];
        r.neuron.ref = {1, i};
        r.neuron.tokenId = i % 50000;
        r.neuron.token = " tok" + std::to_string(i % 997);
        r.neuron.congruence = float(std::fmod(i * 0.618, 7.0));
        r.neuron.baseline = i % 10 == 0;
        r.candidateHeads = {0, 1, 2, 3};
        r.relevantHeads = {i % 4};
        r.activeFraction.assign(heads, 0.5f);
        r.contexts.resize(contexts);
        for (int c = 0; c < contexts; ++c) {
            NeuronContext& x = r.contexts[c];
            x.doc = c;
            x.docSource = "corpus.jsonl";
            x.position = 2;
            x.start = 1;
            x.tokens = {c + 10, i % 1000};
            x.tokenActivations = {0.1f, 3.0f - 0.1f * c};
            x.activation = 3.0f - 0.1f * c;
            x.truncatedActivation = x.activation;
            x.text = "ab";
            x.headScores = {0.1f, 0.2f, 0.3f, 0.4f, NAN, NAN, NAN, NAN};
            x.active.assign(heads, 0);
            x.active[c % 4] = 1;
            x.kept = c < contexts - 2;
        }
    }
    saveBundle(s, path);
}

}  // namespace

int main(int argc, char** argv) {
    const int neurons = argc > 1 ? std::atoi(argv[1]) : 300000;
    const int contexts = argc > 2 ? std::atoi(argv[2]) : 20;
    const QString path = QStringLiteral("/tmp/headlight-bench-%1x%2.headlight").arg(neurons).arg(contexts);
    if (!QFileInfo::exists(path)) {
        const pid_t child = fork();
        if (child == 0) {
            writeSynthetic(path, neurons, contexts);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "bench_bundle_open: writing %s failed\n", qPrintable(path));
            return 1;
        }
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    headlight::ui::MainWindow window;
    window.resize(1400, 900);
    window.show();
    QApplication::processEvents();

    struct PaintWatch : QObject {
        bool painted = false;
        bool eventFilter(QObject*, QEvent* e) override {
            if (e->type() == QEvent::Paint) painted = true;
            return false;
        }
    } watch;
    QTableView* table = window.neuronPanel()->table();
    table->viewport()->installEventFilter(&watch);

    QElapsedTimer timer;
    timer.start();
    if (!window.openBundle(path)) return 1;
    table->viewport()->update();
    while (!watch.painted) QApplication::processEvents(QEventLoop::AllEvents, 5);
    // The paint event has been delivered and handled once the loop returns.
    QApplication::processEvents();
    const double seconds = timer.nsecsElapsed() / 1e9;

    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    const double peakMiB = usage.ru_maxrss / 1024.0;
    const double fileMiB = QFileInfo(path).size() / (1024.0 * 1024.0);
    std::printf("bundle_open: %d neurons x %d contexts: first painted neuron table after %.3f s (goal < 1 s)\n", neurons,
                contexts, seconds);
    std::printf("bundle_open: peak memory %.1f MiB for a %.1f MiB bundle = %.2fx the file size (goal < 1.5x)\n", peakMiB,
                fileMiB, peakMiB / fileMiB);
    return 0;
}
