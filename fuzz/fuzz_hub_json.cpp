// libFuzzer target: the hub's JSON answers - the revision answer (commit + file list) and a
// model.safetensors.index.json weight map - must be accepted or rejected with a headlight::Error, never
// crash; an accepted commit is 40 lowercase hex digits.
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_input.h"

#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/hub_download.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QByteArray body(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    try {
        const auto info = headlight::hub::parseRevisionInfo(body, QStringLiteral("org/fuzz"));
        if (info.commit.size() != 40) std::abort();
    } catch (const headlight::Error&) {
    }
    try {
        (void)headlight::readWeightMap(writeFuzzInput(data, size));
    } catch (const headlight::Error&) {
    }
    return 0;
}
