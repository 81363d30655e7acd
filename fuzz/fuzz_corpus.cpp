// libFuzzer target: the corpus reader (JSON Lines, plain text, invalid UTF-8, lone surrogates) must
// read or reject any file with a headlight::Error, never crash; every document it yields is valid UTF-8,
// and resuming from any position gives the same documents. The first byte picks the options.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <QFile>
#include <QTemporaryDir>

#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/base/utf8.h"

using namespace headlight::analysis;
using headlight::isValidUtf8;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static QTemporaryDir* dir = new QTemporaryDir;
    const uint8_t flags = data[0];
    const QString path = dir->filePath((flags & 1) ? QStringLiteral("c.txt") : QStringLiteral("c.jsonl"));
    {
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) std::abort();
        f.write(reinterpret_cast<const char*>(data + 1), static_cast<qint64>(size - 1));
    }
    CorpusOptions o;
    o.malformed = (flags & 2) ? MalformedPolicy::Fail : MalformedPolicy::Skip;
    o.shardCount = 1 + ((flags >> 2) & 1);
    o.maxDocumentBytes = (flags & 8) ? 64 : (16 << 20);
    if (flags & 16) o.textField = "t";
    try {
        CorpusReader reader = CorpusReader::open(path, o);
        Document doc;
        std::vector<std::pair<CorpusPosition, std::string>> seen;
        CorpusPosition before = reader.position();
        while (reader.next(doc)) {
            if (!isValidUtf8(doc.text)) std::abort();
            seen.push_back({before, doc.text});
            before = reader.position();
        }
        (void)corpusFingerprint(path);
        if (!seen.empty()) {  // resume at the last document: it comes again
            CorpusReader again = CorpusReader::open(path, o, seen.back().first);
            if (!again.next(doc) || doc.text != seen.back().second) std::abort();
        }
    } catch (const headlight::Error&) {
    }
    return 0;
}
