// headlight-cli info --model DIR|HUB_ID [--json]
#include <QDir>
#include <QFileInfo>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"

namespace headlight::cli {

int runInfo(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("Checkpoint folder or hub id."),
                                      QStringLiteral("DIR|HUB_ID"));
    const QCommandLineOption jsonOpt(QStringLiteral("json"), QStringLiteral("Print JSON instead of text."));
    parser.addOption(modelOpt);
    parser.addOption(jsonOpt);
    parseOrThrow(parser, args,
                 QStringLiteral("Describe a checkpoint: architecture, sizes, parameter count, dtype, files."));
    if (!parser.isSet(modelOpt)) throw Error("info: --model is required");

    const Checkpoint ck = Checkpoint::open(parser.value(modelOpt));
    const ModelConfig& c = ck.config();

    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const QString& f : ck.weightFiles())
        files.push_back({{"path", f.toStdString()}, {"bytes", QFileInfo(f).size()}});
    std::string tokenizerKind = "none";
    std::string tokenizerFiles;
    std::optional<int> tokenizerVocab;
    try {
        const Tokenizer tok = Tokenizer::fromFolder(ck.dir());
        tokenizerKind = tok.kind();
        tokenizerFiles = tok.source().toStdString();
        tokenizerVocab = tok.vocabSize();
    } catch (const Error& e) {
        tokenizerKind = std::string("unavailable: ") + e.what();
    }

    nlohmann::ordered_json j;
    j["model"] = ck.id().toStdString();
    j["dir"] = ck.dir().toStdString();
    j["model_type"] = c.modelType;
    j["architecture"] = c.architecture;
    j["family"] = familyName(c.family);
    j["n_layers"] = c.nLayers;
    j["d_model"] = c.dModel;
    j["n_heads"] = c.nHeads;
    j["n_kv_heads"] = c.nKvHeads;
    j["d_head"] = c.dHead;
    j["d_mlp"] = c.dMlp;
    j["d_vocab"] = c.dVocab;
    j["n_ctx"] = c.nCtx;
    j["norm"] = c.norm == NormKind::RmsNorm ? "rmsnorm" : "layernorm";
    j["mlp"] = c.mlp == MlpKind::Gated ? "gated" : "standard";
    j["activation"] = activationName(c.act);
    j["positional"] = c.positional == PositionalKind::Rotary ? "rotary" : "learned";
    if (c.positional == PositionalKind::Rotary) {
        j["rotary_dim"] = c.rotaryDim;
        j["rotary_base"] = c.rotaryBase;
    }
    j["parallel_residual"] = c.parallelResidual;
    j["tied_embeddings"] = c.tiedEmbeddings;
    j["family_features"] = c.featureSummary();
    if (c.slidingWindow > 0) {
        j["sliding_window"] = c.slidingWindow;
        j["local_layers"] = c.localLayers;
    }
    j["bos_token_id"] = c.bosTokenId ? nlohmann::ordered_json(*c.bosTokenId) : nlohmann::ordered_json();
    j["parameters"] = ck.parameterCount();
    j["dtype"] = ck.dtypeSummary();
    j["weight_bytes"] = ck.weightBytes();
    j["files"] = files;
    j["tokenizer"] = {{"kind", tokenizerKind}, {"files", tokenizerFiles}};
    if (tokenizerVocab) j["tokenizer"]["vocab_size"] = *tokenizerVocab;

    if (parser.isSet(jsonOpt)) {
        printOut(j.dump(2) + "\n");
        return 0;
    }
    std::string s;
    s += "model:        " + ck.id().toStdString() + "\n";
    s += "folder:       " + ck.dir().toStdString() + "\n";
    s += "architecture: " + c.modelType + (c.architecture.empty() ? "" : " (" + c.architecture + ")") + "\n";
    s += "shape:        " + c.summary() + "\n";
    s += "blocks:       " + std::string(c.norm == NormKind::RmsNorm ? "RMSNorm" : "LayerNorm") + ", " +
         (c.mlp == MlpKind::Gated ? "gated MLP" : "MLP") + " (" + activationName(c.act) + "), " +
         (c.positional == PositionalKind::Rotary
              ? "rotary positions (" + std::to_string(c.rotaryDim) + " dims per head)"
              : std::string("learned positions")) +
         ", " + (c.parallelResidual ? "parallel" : "sequential") + " residual, " +
         (c.tiedEmbeddings ? "tied" : "untied") + " unembedding\n";
    s += "family:       " + std::string(familyName(c.family)) + ": " + c.featureSummary() + "\n";
    s += "parameters:   " + std::to_string(ck.parameterCount()) + "\n";
    s += "dtype:        " + ck.dtypeSummary() + "\n";
    for (const QString& f : ck.weightFiles())
        s += "weights:      " + f.toStdString() + " (" + std::to_string(QFileInfo(f).size()) + " bytes)\n";
    s += "tokenizer:    " + tokenizerKind + (tokenizerFiles.empty() ? "" : " (" + tokenizerFiles + ")") + "\n";
    printOut(s);
    return 0;
}

}  // namespace headlight::cli
