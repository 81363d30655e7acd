// headlight-cli study ablate X.headlight --out Y.headlight [--model M] [--mode zero|mean|resample|path]
//     [--heads L1H2,L2H0] [--neurons L3N5,L3N9] [--seed N]
// The head-ablation experiment (METHOD.md section 6) and its causal variants (core/analysis/ablation.h).
#include <algorithm>

#include <QStringList>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"

namespace headlight::cli {

namespace {

// The experiment the options ask for, checked against the study (before the model is loaded).
analysis::AblationOptions ablationOptions(const QCommandLineParser& parser, const Study& study) {
    analysis::AblationOptions o;
    try {
        o.mode = parseAblationMode(parser.value(QStringLiteral("mode")).toStdString());
    } catch (const Error& e) {
        throw Error(std::string("--mode: ") + e.what());
    }
    o.heads = parseHeadList(parser.value(QStringLiteral("heads")).toStdString(), study.nLayers, study.nHeads, "--heads");
    o.neurons = parseNeuronList(parser.value(QStringLiteral("neurons")).toStdString(), "--neurons");
    for (const NeuronRef& ref : o.neurons)
        if (std::none_of(study.neurons.begin(), study.neurons.end(), [&](const NeuronResult& n) { return n.neuron.ref == ref; }))
            throw Error("--neurons: " + neuronName(ref) + " is not a neuron of this study");
    bool ok = false;
    o.seed = parser.value(QStringLiteral("seed")).toULongLong(&ok);
    if (!ok) throw Error("--seed: '" + parser.value(QStringLiteral("seed")).toStdString() + "' is not a non-negative integer");
    return o;
}

}  // namespace

int runStudyAblate(const QStringList& args) {
    QCommandLineParser parser;
    addOption(parser, "out", "The bundle with the ablation results (may be the input).", "Y.headlight");
    addOption(parser, "model", "Model folder or hub id (default: the one recorded in the bundle).", "DIR|HUB_ID");
    addOption(parser, "mode", "zero (the paper's), mean, resample or path (head -> neuron path patching beside "
                                   "the total effect). Default zero.", "MODE", "zero");
    addOption(parser, "heads", "Heads to ablate, each alone and all together (default: each neuron's relevant heads).",
              "L1H2,L2H0");
    addOption(parser, "neurons", "Neurons to ablate (default: all); two or more form a group: their shared relevant "
                                 "heads are also ablated together.", "L3N5,L3N9");
    addOption(parser, "seed", "Seed of the resample donors (default 0).", "N", "0");
    parser.addPositionalArgument(QStringLiteral("bundle"), QStringLiteral("The .headlight file."));
    parseOrThrow(parser, args, QStringLiteral("Add a head-ablation experiment (effects on p(token) and the neuron's "
                                              "activation; KS test, active vs inactive)."));
    if (parser.positionalArguments().size() != 1) throw Error("study ablate: give exactly one bundle");
    if (!parser.isSet(QStringLiteral("out"))) throw Error("study ablate: --out is required");
    Study study = loadStudy(parser.positionalArguments().front());
    const analysis::AblationOptions options = ablationOptions(parser, study);
    InterruptGuard interrupt;
    addAblations(study, options, parser.value(QStringLiteral("model")), terminalProgress(&interrupt.token));
    interrupt.token.throwIfCancelled();
    saveBundle(study, parser.value(QStringLiteral("out")));
    return 0;
}

}  // namespace headlight::cli
