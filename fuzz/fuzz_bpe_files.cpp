// libFuzzer target: Tokenizer::fromVocabMerges (GPT-2 style vocab.json + merges.txt) must accept or
// reject any pair of files with a headlight::Error, never crash. The input is split at the first NUL
// byte: vocab.json before it, merges.txt after it. An accepted tokenizer encodes and decodes a few texts.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include "core/base/error.h"
#include "core/model/tokenizer.h"

namespace {
void writeTo(const QString& path, const char* bytes, size_t size) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) std::abort();
    f.write(bytes, static_cast<qint64>(size));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static QTemporaryDir* dir = new QTemporaryDir;
    const char* bytes = reinterpret_cast<const char*>(data);
    const void* nul = std::memchr(bytes, 0, size);
    const size_t split = nul ? static_cast<size_t>(static_cast<const char*>(nul) - bytes) : size;
    const QString vocab = dir->filePath(QStringLiteral("vocab.json")), merges = dir->filePath(QStringLiteral("merges.txt"));
    writeTo(vocab, bytes, split);
    writeTo(merges, bytes + split + (nul ? 1 : 0), size - split - (nul ? 1 : 0));
    try {
        const auto tokenizer = headlight::Tokenizer::fromVocabMerges(vocab, merges);
        for (const char* text : {"", "Hello world", " a\xcc\x81 <|endoftext|>\n\xf0\x9f\x91\x8b 12 \xff"}) {
            const auto encoding = tokenizer.encodeUtf8(text);
            if (encoding.ids.size() != encoding.spans.size()) std::abort();
            (void)tokenizer.decode(encoding.ids);
            for (int id : encoding.ids) (void)tokenizer.tokenText(id);
        }
    } catch (const headlight::Error&) {
    }
    return 0;
}
