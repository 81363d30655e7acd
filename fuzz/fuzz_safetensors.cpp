// libFuzzer target: the safetensors reader must reject or accept any byte string without crashing,
// and every tensor it accepts must lie inside the mapped file.
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_input.h"

#include "core/base/error.h"
#include "core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QString path = writeFuzzInput(data, size);
    try {
        const auto st = headlight::io::SafetensorsFile::open(path);
        volatile uint8_t sink = 0;
        for (const auto& t : st.tensors())
            for (size_t i = 0; i < t.nbytes; i += 4096) sink ^= static_cast<uint8_t>(t.data[i]);
        (void)sink;
    } catch (const headlight::Error&) {
    }
    return 0;
}
