// libFuzzer target: the safetensors reader must reject or accept any byte string without crashing,
// and every tensor it accepts must lie inside the mapped file.
#include <cstdint>
#include <cstdlib>

#include <QFile>
#include <QTemporaryFile>

#include "core/base/error.h"
#include "core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static QTemporaryFile* file = [] {
        auto* f = new QTemporaryFile;
        if (!f->open()) std::abort();
        return f;
    }();
    QFile out(file->fileName());
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate)) std::abort();
    out.write(reinterpret_cast<const char*>(data), static_cast<qint64>(size));
    out.close();
    try {
        const auto st = headlight::io::SafetensorsFile::open(file->fileName());
        volatile uint8_t sink = 0;
        for (const auto& t : st.tensors())
            for (size_t i = 0; i < t.nbytes; i += 4096) sink ^= static_cast<uint8_t>(t.data[i]);
        (void)sink;
    } catch (const headlight::Error&) {
    }
    return 0;
}
