// A safetensors file split into the two shards + index that Hugging Face writes for big models
// (tensors alternate between model-00001-of-00002 and model-00002-of-00002). The shards borrow the
// tensors of `st`: keep it open until they are written.
#pragma once

#include <QByteArray>
#include <QString>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace headlight::test {

struct TwoShards {
    static QString firstName() { return QStringLiteral("model-00001-of-00002.safetensors"); }
    static QString secondName() { return QStringLiteral("model-00002-of-00002.safetensors"); }
    io::SafetensorsWriter first, second;
    nlohmann::json index;  // model.safetensors.index.json
    QByteArray indexBytes() const { return QByteArray::fromStdString(index.dump(2)); }
};

inline TwoShards splitInTwoShards(const io::SafetensorsFile& st) {
    TwoShards out;
    out.index["metadata"] = {{"total_size", 0}};
    std::size_t i = 0;
    for (const auto& t : st.tensors()) {
        const bool first = (i++ % 2) == 0;
        (first ? out.first : out.second).addBorrowed(t.name, t.dtype, t.shape, t.data, t.nbytes);
        out.index["weight_map"][t.name] = (first ? TwoShards::firstName() : TwoShards::secondName()).toStdString();
    }
    return out;
}

}  // namespace headlight::test
