// libFuzzer target: ModelConfig::fromJsonText must accept or reject any text with a headlight::Error,
// never crash; an accepted config has sizes inside the validated bounds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "core/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const auto c = headlight::ModelConfig::fromJsonText(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
        if (c.nLayers < 1 || c.dModel < 1 || c.nHeads < 1 || c.dHead < 1 || c.dMlp < 1 || c.dVocab < 1 || c.nCtx < 1 ||
            c.nCtx > (1 << 20))
            std::abort();
        (void)c.summary();
    } catch (const headlight::Error&) {
    }
    return 0;
}
