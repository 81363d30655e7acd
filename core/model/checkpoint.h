// A Hugging Face checkpoint folder: config.json + model.safetensors (or sharded
// model-0000x-of-0000y.safetensors with model.safetensors.index.json) + tokenizer files.
// Also resolves hub ids ("gpt2", "EleutherAI/pythia-160m", "org/name@revision") to snapshots in the
// Hugging Face hub cache. Torch-free: tensors are handed out as validated, memory-mapped views.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <QString>

#include "core/io/safetensors.h"
#include "core/model/config.h"

namespace headlight {

// The Hugging Face home (token file, hub cache): $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
QString hfHomeDir();

// The hub cache root: $HF_HUB_CACHE, else hfHomeDir()/hub.
QString hubCacheDir();

// The weight_map of a model.safetensors.index.json: tensor name -> shard file name (a plain name in
// the same folder). Throws headlight::Error naming the file when it is unreadable, not JSON, has no
// weight_map, an empty one, or a shard name with a path in it.
std::map<std::string, std::string> readWeightMap(const QString& indexPath);

// True if `text` looks like a hub id ("name", "org/name", optionally "@revision") rather than a path.
bool looksLikeHubId(const QString& text);

// Resolves a folder or a hub id to a local folder. An existing folder wins; a hub id is looked up in
// the cache (refs/<revision> or snapshots/<revision>; revision defaults to "main"). Throws
// headlight::Error saying where it looked when nothing is found.
QString resolveModelDir(const QString& dirOrHubId);

class Checkpoint {
public:
    // Opens config.json and all weight files of `dirOrHubId`; validates every file.
    static Checkpoint open(const QString& dirOrHubId);

    const QString& id() const { return id_; }              // what the user gave
    const QString& dir() const { return dir_; }            // resolved folder
    const ModelConfig& config() const { return config_; }
    const std::vector<QString>& weightFiles() const { return weightFiles_; }

    const io::TensorView* find(std::string_view name) const;  // nullptr if absent
    const io::TensorView& at(std::string_view name) const;    // throws naming the checkpoint
    std::vector<std::string> tensorNames() const;             // sorted
    int64_t parameterCount() const;                           // elements over all tensors
    uint64_t weightBytes() const;                             // bytes of tensor data
    std::string dtypeSummary() const;                         // e.g. "F32" or "BF16, F32"

private:
    QString id_, dir_;
    ModelConfig config_;
    std::vector<QString> weightFiles_;
    std::vector<io::SafetensorsFile> files_;
    std::map<std::string, const io::TensorView*, std::less<>> index_;
};

}  // namespace headlight
