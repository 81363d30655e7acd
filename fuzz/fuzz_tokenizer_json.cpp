// libFuzzer target: Tokenizer::fromTokenizerJson must accept or reject any file with a headlight::Error,
// never crash. A tokenizer it accepts must also encode and decode a few texts without crashing.
#include <cstdint>
#include <cstdlib>

#include "fuzz/fuzz_input.h"

#include "core/base/error.h"
#include "core/model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QString path = writeFuzzInput(data, size);
    try {
        const auto tokenizer = headlight::Tokenizer::fromTokenizerJson(path);
        for (const char* text : {"", "Hello world", "  a\xcc\x81 <s> <|endoftext|>\n\xf0\x9f\x91\x8b 12 \xff"}) {
            const auto encoding = tokenizer.encodeUtf8(text);
            if (encoding.ids.size() != encoding.spans.size()) std::abort();
            (void)tokenizer.decode(encoding.ids);
            (void)tokenizer.decode(encoding.ids, true);
            for (int id : encoding.ids) (void)tokenizer.tokenText(id);
            if (tokenizer.encodeWithSpecialTokens(QString::fromUtf8(text)).ids.size() < encoding.ids.size()) std::abort();
        }
        (void)tokenizer.bosTokenId();
    } catch (const headlight::Error&) {
    }
    return 0;
}
