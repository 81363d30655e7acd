// libFuzzer target: the LLM reply text helpers that are free functions (stripReasoning, parseYesNo,
// parseRetryAfterMs) never crash on any reply. (The Chat Completions JSON parser lives inside
// LlmClient and is not exposed as a free function.)
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "core/llm/llm_client.h"
#include "core/llm/prompts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const std::string stripped = headlight::llm::stripReasoning(text);
        if (stripped.size() > text.size()) std::abort();
        (void)headlight::llm::parseYesNo(text);
        (void)headlight::llm::parseRetryAfterMs(text, 1700000000000);
    } catch (const headlight::Error&) {
    }
    return 0;
}
