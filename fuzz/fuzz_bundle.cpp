// libFuzzer target: Bundle::open must accept or reject any byte string with a headlight::Error, never
// crash; a bundle it accepts must materialise (or refuse per neuron) without crashing.
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_input.h"

#include "core/base/error.h"
#include "core/study/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QString path = writeFuzzInput(data, size);
    try {
        const headlight::Bundle bundle = headlight::Bundle::open(path);
        for (int i = 0; i < bundle.neuronCount(); ++i) {
            (void)bundle.maxActivationOf(i);
            (void)bundle.keptCountOf(i);
            (void)bundle.relevantCountOf(i);
            try {
                (void)bundle.neuronResult(i);
            } catch (const headlight::Error&) {
            }
        }
    } catch (const headlight::Error&) {
    }
    return 0;
}
