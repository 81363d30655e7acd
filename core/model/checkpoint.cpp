#include "core/model/checkpoint.h"

#include <set>

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/model/hub_download.h"

namespace headlight {

QString hfHomeDir() {
    const QString hfHome = qEnvironmentVariable("HF_HOME");
    if (!hfHome.isEmpty()) return hfHome;
    const QString xdg = qEnvironmentVariable("XDG_CACHE_HOME");
    if (!xdg.isEmpty()) return QDir(xdg).filePath(QStringLiteral("huggingface"));
    return QDir(QDir::homePath()).filePath(QStringLiteral(".cache/huggingface"));
}

QString hubCacheDir() {
    const QString hubCache = qEnvironmentVariable("HF_HUB_CACHE");
    if (!hubCache.isEmpty()) return hubCache;
    return QDir(hfHomeDir()).filePath(QStringLiteral("hub"));
}

std::map<std::string, std::string> readWeightMap(const QString& indexPath) {
    const std::string where = "checkpoint index " + indexPath.toStdString();
    nlohmann::json index;
    try {
        index = nlohmann::json::parse(io::readFile(indexPath).toStdString());
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": not valid JSON (" + e.what() + ")");
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw Error(where + ": missing object 'weight_map'");
    std::map<std::string, std::string> weightMap;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
        if (!it.value().is_string()) throw Error(where + ": entry '" + it.key() + "' is not a file name");
        const std::string file = it.value().get<std::string>();
        if (file.empty() || file.find('/') != std::string::npos || file.find('\\') != std::string::npos ||
            file.find("..") != std::string::npos)
            throw Error(where + ": bad file name '" + file + "'");
        weightMap[it.key()] = file;
    }
    if (weightMap.empty()) throw Error(where + ": empty weight_map");
    return weightMap;
}

bool looksLikeHubId(const QString& text) {
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?(@[A-Za-z0-9._/-]+)?$"));
    return re.match(text).hasMatch();
}

// Cache only, or downloading the hub ids the cache lacks when implicit downloads are on (headlight-cli).
QString resolveModelDir(const QString& dirOrHubId) {
    if (hub::implicitDownloadsEnabled()) return resolveOrDownloadModel(dirOrHubId, hub::implicitDownloadProgress());
    return resolveCachedModelDir(dirOrHubId);
}

QString resolveCachedModelDir(const QString& dirOrHubId) {
    if (dirOrHubId.isEmpty()) throw Error("no model given");
    const QFileInfo info(dirOrHubId);
    if (info.isDir()) return info.absoluteFilePath();
    if (info.exists()) throw Error("model " + dirOrHubId.toStdString() + " is a file; give the checkpoint folder");
    if (!looksLikeHubId(dirOrHubId))
        throw Error("model folder " + dirOrHubId.toStdString() + " does not exist");

    const hub::HubId id = hub::parseHubId(dirOrHubId);
    const QString& revision = id.revision;
    const QString repoDir = hub::repoCacheDir(hubCacheDir(), id.repo);
    if (!QFileInfo(repoDir).isDir())
        throw Error("model '" + dirOrHubId.toStdString() + "' is neither a folder nor in the Hugging Face cache (looked for " +
                    repoDir.toStdString() + ")");
    QString commit = revision;
    const QString refFile = QDir(repoDir).filePath(QStringLiteral("refs/") + revision);
    if (QFileInfo(refFile).isFile()) commit = QString::fromUtf8(io::readFile(refFile)).trimmed();
    const QString snapshot = QDir(repoDir).filePath(QStringLiteral("snapshots/") + commit);
    if (QFileInfo(snapshot).isDir()) return snapshot;
    // Without refs, a single snapshot is unambiguous.
    const QStringList snapshots = QDir(QDir(repoDir).filePath(QStringLiteral("snapshots")))
                                      .entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    if (!id.explicitRevision && snapshots.size() == 1) return QDir(repoDir).filePath(QStringLiteral("snapshots/") + snapshots.front());
    throw Error("model '" + dirOrHubId.toStdString() + "': revision '" + revision.toStdString() +
                "' is not in the Hugging Face cache at " + repoDir.toStdString());
}

Checkpoint Checkpoint::open(const QString& dirOrHubId) {
    Checkpoint ck;
    ck.id_ = dirOrHubId;
    ck.dir_ = resolveModelDir(dirOrHubId);
    const QDir dir(ck.dir_);
    const QString configPath = dir.filePath(QStringLiteral("config.json"));
    if (!QFileInfo(configPath).isFile())
        throw Error("checkpoint " + ck.dir_.toStdString() + ": no config.json");
    ck.config_ = ModelConfig::fromFile(configPath);

    const QString single = dir.filePath(QStringLiteral("model.safetensors"));
    const QString indexPath = dir.filePath(QStringLiteral("model.safetensors.index.json"));
    std::map<std::string, std::string> weightMap;  // tensor -> file name, for sharded checkpoints
    if (QFileInfo(single).isFile()) {
        ck.weightFiles_.push_back(single);
    } else if (QFileInfo(indexPath).isFile()) {
        weightMap = readWeightMap(indexPath);
        std::set<std::string> files;
        for (const auto& [tensor, file] : weightMap) files.insert(file);
        for (const std::string& f : files) ck.weightFiles_.push_back(dir.filePath(QString::fromStdString(f)));
    } else if (QFileInfo(dir.filePath(QStringLiteral("pytorch_model.bin"))).exists()) {
        throw Error("checkpoint " + ck.dir_.toStdString() +
                    ": only pytorch_model.bin found; Headlight reads safetensors (convert with safetensors' convert script)");
    } else {
        throw Error("checkpoint " + ck.dir_.toStdString() + ": no model.safetensors or model.safetensors.index.json");
    }

    for (const QString& path : ck.weightFiles_) {
        if (!QFileInfo(path).isFile())
            throw Error("checkpoint " + ck.dir_.toStdString() + ": shard " + path.toStdString() + " is missing");
        ck.files_.push_back(io::SafetensorsFile::open(path));
    }
    for (const io::SafetensorsFile& file : ck.files_) {
        const std::string fileName = QFileInfo(file.path()).fileName().toStdString();
        for (const io::TensorView& t : file.tensors()) {
            if (!weightMap.empty()) {
                auto it = weightMap.find(t.name);
                if (it != weightMap.end() && it->second != fileName) continue;  // the index names another shard
            }
            if (!ck.index_.emplace(t.name, &t).second)
                throw Error("checkpoint " + ck.dir_.toStdString() + ": tensor '" + t.name + "' appears in two shards");
        }
    }
    for (const auto& [name, file] : weightMap)
        if (!ck.index_.count(name))
            throw Error("checkpoint " + ck.dir_.toStdString() + ": the index puts tensor '" + name + "' in " + file +
                        " but it is not there");
    return ck;
}

const io::TensorView* Checkpoint::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
}

const io::TensorView& Checkpoint::at(std::string_view name) const {
    if (const io::TensorView* t = find(name)) return *t;
    throw Error("checkpoint " + dir_.toStdString() + ": missing tensor '" + std::string(name) + "'");
}

std::vector<std::string> Checkpoint::tensorNames() const {
    std::vector<std::string> names;
    names.reserve(index_.size());
    for (const auto& [name, view] : index_) names.push_back(name);
    return names;
}

namespace {
// Non-parameter buffers that some checkpoints carry (causal masks, rotary tables).
bool isBuffer(const std::string& name) {
    for (const char* suffix : {".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias",
                               ".rotary_emb.inv_freq"}) {
        const std::string s(suffix);
        if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}
}  // namespace

int64_t Checkpoint::parameterCount() const {
    int64_t n = 0;
    for (const auto& [name, view] : index_)
        if (!isBuffer(name)) n += view->numel();
    return n;
}

uint64_t Checkpoint::weightBytes() const {
    uint64_t n = 0;
    for (const auto& [name, view] : index_) n += view->nbytes;
    return n;
}

std::string Checkpoint::dtypeSummary() const {
    std::set<std::string> names;
    for (const auto& [name, view] : index_) names.insert(io::dtypeName(view->dtype));
    std::string s;
    for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace headlight
