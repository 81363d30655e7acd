// libFuzzer target: everything that reads an LLM server's words never crashes and keeps its promises:
// the Chat Completions reply parser (parseChatReply: a response, or a short valid-UTF-8 problem), the
// 400 "unsupported parameter" reader, and the reply text helpers (stripReasoning, parseYesNo,
// parseRetryAfterMs).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "core/base/utf8.h"
#include "core/llm/llm_client.h"
#include "core/llm/prompts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const headlight::llm::ParsedReply parsed = headlight::llm::parseChatReply(text);
        if (parsed.response.has_value() == !parsed.problem.empty()) std::abort();
        if (!headlight::isValidUtf8(parsed.problem) || parsed.problem.size() > 4096) std::abort();
        const std::string parameter = headlight::llm::unsupportedParameter(text);
        if (!parameter.empty() && parameter != "max_tokens" && parameter != "temperature" && parameter != "logprobs")
            std::abort();
        const std::string stripped = headlight::llm::stripReasoning(text);
        if (stripped.size() > text.size()) std::abort();
        (void)headlight::llm::parseYesNo(text);
        (void)headlight::llm::parseRetryAfterMs(text, 1700000000000);
    } catch (const headlight::Error&) {
    }
    return 0;
}
