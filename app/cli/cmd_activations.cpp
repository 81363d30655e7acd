// headlight-cli activations --model DIR|HUB_ID (--ids 1,2,3 | --text "...") [--prepend-bos] [--raw]
//                           [--bf16] [--last-token] --hooks NAME[,NAME...] --out FILE.safetensors
// Runs one sequence through the hooked forward pass and writes each requested activation as a float32
// tensor named by its TransformerLens hook name, batch dimension dropped.
#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/model/capture.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"

namespace headlight::cli {

namespace {

std::vector<int64_t> parseIds(const QString& text) {
    std::vector<int64_t> ids;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const qlonglong id = part.trimmed().toLongLong(&ok);
        if (!ok) throw Error("activations: --ids: '" + part.toStdString() + "' is not an integer");
        ids.push_back(id);
    }
    if (ids.empty()) throw Error("activations: --ids is empty");
    return ids;
}

}  // namespace

int runActivations(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("Checkpoint folder or hub id."),
                                      QStringLiteral("DIR|HUB_ID"));
    const QCommandLineOption idsOpt(QStringLiteral("ids"), QStringLiteral("Token ids, comma-separated."),
                                    QStringLiteral("1,2,3"));
    const QCommandLineOption textOpt(QStringLiteral("text"), QStringLiteral("Text to tokenize with the model's tokenizer."),
                                     QStringLiteral("TEXT"));
    const QCommandLineOption bosOpt(QStringLiteral("prepend-bos"),
                                    QStringLiteral("Put the model's BOS token (config bos_token_id) first."));
    const QCommandLineOption rawOpt(QStringLiteral("raw"),
                                    QStringLiteral("Raw weights (no fold_ln, centring or value-bias folding)."));
    const QCommandLineOption bf16Opt(QStringLiteral("bf16"), QStringLiteral("Compute in bfloat16 (tensors are written as float32)."));
    const QCommandLineOption lastOpt(QStringLiteral("last-token"), QStringLiteral("Capture at the last position only."));
    const QCommandLineOption hooksOpt(QStringLiteral("hooks"),
                                      QStringLiteral("TransformerLens hook names, comma-separated (blocks.0.mlp.hook_post, logits, ...)."),
                                      QStringLiteral("NAME[,NAME...]"));
    const QCommandLineOption outOpt(QStringLiteral("out"), QStringLiteral("Output safetensors file."),
                                    QStringLiteral("FILE.safetensors"));
    const QCommandLineOption deviceOpt(QStringLiteral("device"),
                                       QStringLiteral("Where the model runs: cpu, cuda, cuda:N or auto (default $HEADLIGHT_DEVICE or cpu)."),
                                       QStringLiteral("DEV"));
    for (const auto* o : {&modelOpt, &idsOpt, &textOpt, &bosOpt, &rawOpt, &bf16Opt, &deviceOpt, &lastOpt, &hooksOpt, &outOpt})
        parser.addOption(*o);
    parseOrThrow(parser, args,
                 QStringLiteral("Run a sequence through the model and save activations by TransformerLens hook name "
                                "(batch dimension dropped; float32). The file's metadata records the model, its weight "
                                "hash, the weight processing and the token ids."));
    if (!parser.isSet(modelOpt)) throw Error("activations: --model is required");
    if (parser.isSet(idsOpt) == parser.isSet(textOpt)) throw Error("activations: give exactly one of --ids and --text");
    if (!parser.isSet(hooksOpt)) throw Error("activations: --hooks is required");
    if (!parser.isSet(outOpt)) throw Error("activations: --out is required");

    const Checkpoint checkpoint = Checkpoint::open(parser.value(modelOpt));
    std::vector<int64_t> ids;
    if (parser.isSet(idsOpt)) {
        ids = parseIds(parser.value(idsOpt));
    } else {
        const Tokenizer tokenizer = Tokenizer::fromFolder(checkpoint.dir());
        for (int id : tokenizer.encodeIds(parser.value(textOpt))) ids.push_back(id);
    }
    if (parser.isSet(bosOpt)) {
        if (!checkpoint.config().bosTokenId)
            throw Error("activations: --prepend-bos: the model's config.json has no bos_token_id");
        ids.insert(ids.begin(), *checkpoint.config().bosTokenId);
    }
    if (ids.empty()) throw Error("activations: the text gives no tokens (add --prepend-bos?)");

    std::vector<std::string> hooks;
    for (const QString& n : parser.value(hooksOpt).split(QLatin1Char(','), Qt::SkipEmptyParts))
        hooks.push_back(n.trimmed().toStdString());
    if (hooks.empty()) throw Error("activations: --hooks is empty");

    CaptureOptions options;
    options.rawWeights = parser.isSet(rawOpt);
    options.bfloat16 = parser.isSet(bf16Opt);
    options.device = parser.value(deviceOpt).toStdString();
    options.lastTokenOnly = parser.isSet(lastOpt);
    const CaptureReport report = captureActivations(checkpoint, ids, hooks, options, parser.value(outOpt));
    printOut("wrote " + std::to_string(report.tensors) + " tensors for " + std::to_string(report.tokens) + " tokens to " +
             parser.value(outOpt).toStdString() + " (" + report.model + ")\n");
    return 0;
}

}  // namespace headlight::cli
