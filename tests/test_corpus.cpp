// Tests of core/analysis/corpus: UTF-8 repair, JSON Lines / text / folder reading, bad input,
// sharding, maxDocuments, resuming from a position, fingerprints.
#include <sys/stat.h>

#include <QCryptographicHash>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/analysis/corpus.h"
#include "core/base/error.h"
#include "core/base/utf8.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::analysis;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::vector<Document> readAll(const QString& path, const CorpusOptions& options = {}) {
    CorpusReader reader = CorpusReader::open(path, options);
    std::vector<Document> docs;
    Document doc;
    while (reader.next(doc)) docs.push_back(doc);
    return docs;
}

void writeBytes(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QCOMPARE(f.write(bytes), bytes.size());
}

QString tiny() { return test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl")); }

}  // namespace

class TestCorpus : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Expected outputs are those of Python's bytes.decode('utf-8', 'replace') (maximal subparts).
    void utf8Repair_data() {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QByteArray>("expected");
        QTest::addColumn<int>("replacements");
        const QByteArray r = QByteArray::fromStdString(kFffd);
        auto row = [&](const char* name, const QByteArray& in, const QByteArray& out, int n) {
            QTest::newRow(name) << in << out << n;
        };
        row("ascii", "abc", "abc", 0);
        row("2-byte", "\xC3\xA9", "\xC3\xA9", 0);
        row("3-byte euro", "\xE2\x82\xAC", "\xE2\x82\xAC", 0);
        row("4-byte emoji", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80", 0);
        row("U+FFFF", "\xEF\xBF\xBF", "\xEF\xBF\xBF", 0);
        row("U+10FFFF", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF", 0);
        row("U+D7FF", "\xED\x9F\xBF", "\xED\x9F\xBF", 0);
        row("stray continuation", "\x80", r, 1);
        row("three continuations", "\x80\x81\x82", r + r + r, 3);
        row("overlong 2-byte slash", "\xC0\xAF", r + r, 2);
        row("overlong 2-byte C1", "\xC1\xBF", r + r, 2);
        row("overlong NUL", "\xC0\x80", r + r, 2);
        row("overlong 3-byte", "\xE0\x80\xAF", r + r + r, 3);
        row("overlong 3-byte max", "\xE0\x9F\xBF", r + r + r, 3);
        row("overlong 4-byte", "\xF0\x80\x80\xAF", r + r + r + r, 4);
        row("overlong 4-byte max", "\xF0\x8F\xBF\xBF", r + r + r + r, 4);
        row("surrogate D800", "\xED\xA0\x80", r + r + r, 3);
        row("surrogate DFFF", "\xED\xBF\xBF", r + r + r, 3);
        row("surrogate pair", "\xED\xA0\x80\xED\xB0\x80", r + r + r + r + r + r, 6);
        row("truncated 2", "\xC3", r, 1);
        row("truncated 3", "\xE2\x82", r, 1);
        row("truncated 4", "\xF0\x9F\x98", r, 1);
        row("truncated inside", "a\xE2\x82" "b", "a" + r + "b", 1);
        row("truncated 4 then ascii", "\xF0\x9F\x98" "a", r + "a", 1);
        row("5-byte form", "\xF8\x88\x80\x80\x80", r + r + r + r + r, 5);
        row("6-byte form", "\xFC\x84\x80\x80\x80\x80", r + r + r + r + r + r, 6);
        row("above U+10FFFF", "\xF4\x90\x80\x80", r + r + r + r, 4);
        row("F5 lead", "\xF5\x80\x80\x80", r + r + r + r, 4);
        row("FE FF", "\xFE\xFE\xFF\xFF", r + r + r + r, 4);
        row("lead then ascii", "\xC2" "A", r + "A", 1);
        row("unicode standard example", "\xE1\x80\xE2\xF0\x91\x92\xF1\xBF" "A", r + r + r + r + "A", 4);
        row("valid then invalid after 8-byte run", "abcdefgh\xFF" "ijklmnop", "abcdefgh" + r + "ijklmnop", 1);
    }
    void utf8Repair() {
        QFETCH(QByteArray, input);
        QFETCH(QByteArray, expected);
        QFETCH(int, replacements);
        const std::string in = input.toStdString();
        std::string out = "prefix:";
        QCOMPARE(static_cast<int>(repairUtf8(in, out)), replacements);
        QCOMPARE(out, "prefix:" + expected.toStdString());
        QCOMPARE(isValidUtf8(in), replacements == 0);
        QVERIFY(isValidUtf8(out));
    }

    void codePoints() {
        QCOMPARE(countCodePoints(""), std::size_t(0));
        QCOMPARE(countCodePoints(" the"), std::size_t(4));
        QCOMPARE(countCodePoints("\xE2\x96\x81" "ab"), std::size_t(3));
        QCOMPARE(countCodePoints("\xF0\x9F\x98\x80\xC3\xA9"), std::size_t(2));
    }

    void tinyCorpusMatchesQtJsonParser() {
        HL_REQUIRE_FIXTURE(tiny());
        const std::vector<Document> docs = readAll(tiny());
        QCOMPARE(docs.size(), std::size_t(42));
        // Independent reference: Qt's own JSON parser on each line.
        QFile f(tiny());
        QVERIFY(f.open(QIODevice::ReadOnly));
        int64_t line = 0;
        while (!f.atEnd()) {
            const QByteArray raw = f.readLine();
            const QJsonDocument json = QJsonDocument::fromJson(raw);
            QVERIFY(json.isObject());
            const Document& d = docs[static_cast<std::size_t>(line)];
            QCOMPARE(d.index, line);
            QCOMPARE(d.line, line);
            QCOMPARE(d.source, QStringLiteral("test.jsonl"));
            QCOMPARE(QString::fromStdString(d.text), json.object().value(QStringLiteral("text")).toString());
            ++line;
        }
        QCOMPARE(line, int64_t(42));
        QVERIFY(docs[0].text.rfind("Crossocheilus langei", 0) == 0);
        CorpusReader reader = CorpusReader::open(tiny());
        Document d;
        while (reader.next(d)) {
        }
        const CorpusStats s = reader.stats();
        QCOMPARE(s.documents, int64_t(42));
        QCOMPARE(s.documentsSeen, int64_t(42));
        QCOMPARE(s.linesRead, int64_t(42));
        QCOMPARE(s.malformedLines, int64_t(0));
        QCOMPARE(s.firstMalformedLine, int64_t(-1));
        QCOMPARE(s.files, int64_t(1));
        QCOMPARE(s.totalBytes, QFileInfo(tiny()).size());
        QCOMPARE(s.bytesRead, s.totalBytes);
        QCOMPARE(countDocuments(tiny()), int64_t(42));
    }

    void heldoutCount() {
        const QString path = test::fixture(QStringLiteral("corpora/mix_en/heldout.jsonl"));
        HL_REQUIRE_FIXTURE(path);
        QCOMPARE(countDocuments(path), int64_t(810));
    }

    void shardsPartitionTheCorpus() {
        HL_REQUIRE_FIXTURE(tiny());
        const std::vector<Document> all = readAll(tiny());
        for (int shards : {1, 2, 3, 5, 50}) {
            std::vector<const Document*> merged(all.size(), nullptr);
            int64_t total = 0;
            for (int i = 0; i < shards; ++i) {
                CorpusOptions o;
                o.shardIndex = i;
                o.shardCount = shards;
                for (const Document& d : readAll(tiny(), o)) {
                    QCOMPARE(d.index % shards, int64_t(i));
                    QVERIFY(merged[static_cast<std::size_t>(d.index)] == nullptr);
                    merged[static_cast<std::size_t>(d.index)] = &all[static_cast<std::size_t>(d.index)];
                    QCOMPARE(d.text, all[static_cast<std::size_t>(d.index)].text);
                    QCOMPARE(d.line, all[static_cast<std::size_t>(d.index)].line);
                    ++total;
                }
            }
            QCOMPARE(total, int64_t(all.size()));
        }
    }

    void maxDocumentsCutsBeforeSharding() {
        HL_REQUIRE_FIXTURE(tiny());
        CorpusOptions o;
        o.maxDocuments = 10;
        const std::vector<Document> first = readAll(tiny(), o);
        QCOMPARE(first.size(), std::size_t(10));
        QCOMPARE(first.back().index, int64_t(9));
        o.shardCount = 3;
        int64_t total = 0;
        for (int i = 0; i < 3; ++i) {
            o.shardIndex = i;
            for (const Document& d : readAll(tiny(), o)) {
                QVERIFY(d.index < 10);
                ++total;
            }
        }
        QCOMPARE(total, int64_t(10));
        o = {};
        o.maxDocuments = 1000;
        QCOMPARE(countDocuments(tiny(), o), int64_t(42));
    }

    void resumeFromEveryPosition() {
        HL_REQUIRE_FIXTURE(tiny());
        for (int shards : {1, 3}) {
            CorpusOptions o;
            o.shardCount = shards;
            o.shardIndex = shards - 1;
            const std::vector<Document> all = readAll(tiny(), o);
            for (std::size_t k = 0; k <= all.size(); ++k) {
                CorpusReader reader = CorpusReader::open(tiny(), o);
                Document d;
                for (std::size_t i = 0; i < k; ++i) QVERIFY(reader.next(d));
                // Through JSON, as a checkpoint file would carry it.
                const CorpusPosition pos = corpusPositionFromJson(nlohmann::json::parse(toJson(reader.position()).dump()));
                CorpusReader resumed = CorpusReader::open(tiny(), o, pos);
                std::size_t i = k;
                while (resumed.next(d)) {
                    QVERIFY(i < all.size());
                    QCOMPARE(d.index, all[i].index);
                    QCOMPARE(d.line, all[i].line);
                    QCOMPARE(d.text, all[i].text);
                    ++i;
                }
                QCOMPARE(i, all.size());
                QCOMPARE(resumed.stats().documents, int64_t(all.size()));
                QCOMPARE(resumed.stats().documentsSeen, int64_t(42));
            }
        }
    }

    void resumeRejectsForeignPosition() {
        HL_REQUIRE_FIXTURE(tiny());
        CorpusPosition p;
        p.fileIndex = 0;
        p.file = QStringLiteral("other.jsonl");
        p.byteOffset = 10;
        p.line = 1;
        p.nextIndex = 1;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), {}, p), "cannot resume", "other.jsonl");
        p.file = QStringLiteral("test.jsonl");
        p.byteOffset = 1ll << 40;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), {}, p), "cannot resume", "past the end");
        HL_EXPECT_ERROR(corpusPositionFromJson(nlohmann::json{{"file_index", 0}}), "corpus position", "file");
        // A damaged checkpoint's negative file index used to index the file list out of bounds.
        p.fileIndex = -3;
        p.byteOffset = 10;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), {}, p), "cannot resume", "negative");
    }

    void badLinesAreCountedAndSkipped() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("bad.jsonl"));
        QByteArray bytes;
        bytes += "{\"text\": \"zero\"}\n";                       // 0 ok
        bytes += "\n";                                           // 1 empty
        bytes += "   \t \n";                                     // 2 blank
        bytes += "{\"text\": \"crlf\"}\r\n";                     // 3 ok (CRLF)
        bytes += "{\"text\": \"broken\"\n";                      // 4 malformed
        bytes += "{\"title\": \"no text\"}\n";                   // 5 missing field
        bytes += "{\"text\": 42}\n";                             // 6 not a string
        bytes += "[\"text\"]\n";                                 // 7 not an object
        bytes += "{\"text\": \"bad \xFF\xC0\xAF utf8\"}\n";      // 8 ok, 3 replacements
        bytes += "{\"text\": \"lone \\ud800 surrogate\", \"x\": \"\\\\ud800\"}\n";  // 9 ok, 1 replacement
        bytes += "{\"text\": \"pair \\ud83d\\ude00\"}\n";        // 10 ok
        bytes += "{\"text\": \"" + QByteArray(5000, 'x') + "\"}\n";  // 11 oversized
        bytes += "{\"text\": \"\"}\n";                           // 12 ok, empty text
        bytes += "{\"text\": \"last\"}";                         // 13 ok, no final newline
        writeBytes(path, bytes);

        CorpusOptions o;
        o.maxDocumentBytes = 1000;
        CorpusReader reader = CorpusReader::open(path, o);
        std::vector<Document> docs;
        Document d;
        while (reader.next(d)) docs.push_back(d);
        QCOMPARE(docs.size(), std::size_t(7));
        const std::vector<int64_t> lines = {0, 3, 8, 9, 10, 12, 13};
        const std::vector<std::string> texts = {"zero",
                                                "crlf",
                                                "bad " + kFffd + kFffd + kFffd + " utf8",
                                                "lone " + kFffd + " surrogate",
                                                "pair \xF0\x9F\x98\x80",
                                                "",
                                                "last"};
        for (std::size_t i = 0; i < docs.size(); ++i) {
            QCOMPARE(docs[i].index, int64_t(i));
            QCOMPARE(docs[i].line, lines[i]);
            QCOMPARE(docs[i].text, texts[i]);
        }
        const CorpusStats s = reader.stats();
        QCOMPARE(s.linesRead, int64_t(14));
        QCOMPARE(s.emptyLines, int64_t(2));
        QCOMPARE(s.malformedLines, int64_t(4));
        QCOMPARE(s.firstMalformedLine, int64_t(4));
        QCOMPARE(s.firstMalformedSource, QStringLiteral("bad.jsonl"));
        QVERIFY(QString::fromStdString(s.firstMalformedReason).contains(QStringLiteral("invalid JSON")));
        QCOMPARE(s.oversizedSkipped, int64_t(1));
        QCOMPARE(s.invalidUtf8Replacements, int64_t(4));
        QCOMPARE(s.documentsWithInvalidUtf8, int64_t(2));
        QCOMPARE(s.bytesRead, int64_t(bytes.size()));

        // Without the size limit the long line is a document.
        QCOMPARE(countDocuments(path), int64_t(8));

        o.malformed = MalformedPolicy::Fail;
        HL_EXPECT_ERROR(countDocuments(path, o), "bad.jsonl", "line 5", "invalid JSON");
    }

    void missingFieldIsFatalUnderFail() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("c.jsonl"));
        writeBytes(path, "{\"body\": \"a\"}\n{\"body\": \"b\"}\n");
        CorpusOptions o;
        o.malformed = MalformedPolicy::Fail;
        HL_EXPECT_ERROR(countDocuments(path, o), "c.jsonl", "line 1", "no field 'text'");
        o.textField = "body";
        const std::vector<Document> docs = readAll(path, o);
        QCOMPARE(docs.size(), std::size_t(2));
        QCOMPARE(docs[1].text, std::string("b"));
    }

    void hugeLineStreams() {
        // A 20 MB line next to short ones: read whole (limit raised) and the other lines intact.
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("huge.jsonl"));
        QByteArray big(20 << 20, 'y');
        writeBytes(path, "{\"text\": \"a\"}\n{\"text\": \"" + big + "\"}\n{\"text\": \"b\"}\n");
        CorpusOptions raised;
        raised.maxDocumentBytes = 32 << 20;
        const std::vector<Document> docs = readAll(path, raised);
        QCOMPARE(docs.size(), std::size_t(3));
        QCOMPARE(docs[1].text.size(), std::size_t(20 << 20));
        QCOMPARE(docs[2].text, std::string("b"));
        QCOMPARE(docs[2].line, int64_t(2));
    }

    void longLinesAreBounded() {
        // A 70 MB line used to be read whole and tokenized (memory blow-up). The default limit (16 MiB)
        // skips and counts it without holding it; under MalformedPolicy::Fail it is a clear error.
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("long.jsonl"));
        const QByteArray line = "{\"text\": \"" + QByteArray((16 << 20) - 11, 'z') + "\"}";  // 16 MiB + 1 byte
        writeBytes(path, "{\"text\": \"a\"}\n" + line + "\n{\"text\": \"b\"}\n");
        CorpusReader reader = CorpusReader::open(path);
        Document doc;
        std::vector<std::string> texts;
        while (reader.next(doc)) texts.push_back(doc.text);
        QCOMPARE(texts, (std::vector<std::string>{"a", "b"}));
        QCOMPARE(reader.stats().oversizedSkipped, int64_t(1));
        CorpusOptions strict;
        strict.malformed = MalformedPolicy::Fail;
        HL_EXPECT_ERROR(countDocuments(path, strict), "long.jsonl", "line 2", "longer than the limit of 16777216 bytes");
        // One byte less is a document.
        writeBytes(path, line.left(line.size() - 3) + "\"}\n");
        QCOMPARE(countDocuments(path, strict), int64_t(1));
        // The same for a .txt file (one document).
        const QString txt = dir.filePath(QStringLiteral("long.txt"));
        writeBytes(txt, QByteArray((16 << 20) + 1, 't'));
        HL_EXPECT_ERROR(countDocuments(txt, strict), "long.txt", "longer than the limit");
        QCOMPARE(countDocuments(txt), int64_t(0));
    }

    void fifoIsRefused() {
        // A FIFO given as the corpus used to block forever (and ignore SIGTERM).
        QTemporaryDir dir;
        const QString fifo = dir.filePath(QStringLiteral("pipe.jsonl"));
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        HL_EXPECT_ERROR(CorpusReader::open(fifo), "pipe.jsonl", "not a regular file");
        HL_EXPECT_ERROR(corpusFingerprint(fifo), "pipe.jsonl", "not a regular file");
        // In a folder, a FIFO is not a corpus file: the other files are read.
        writeBytes(dir.filePath(QStringLiteral("a.jsonl")), "{\"text\": \"a\"}\n");
        QCOMPARE(countDocuments(dir.path()), int64_t(1));
    }

    void folderOfFiles() {
        QTemporaryDir dir;
        const QString root = dir.path();
        writeBytes(root + "/b.jsonl", "{\"text\": \"b0\"}\n{\"text\": \"b1\"}\n");
        writeBytes(root + "/a/z.txt", "\xEF\xBB\xBFwhole\nfile\n\nwith lines");
        writeBytes(root + "/a/empty.txt", "");
        writeBytes(root + "/a/c.json", "{\"text\": \"c0\"}\n");
        writeBytes(root + "/a/notes.tsv", "ignored\n");
        writeBytes(root + "/.hidden.jsonl", "{\"text\": \"hidden\"}\n");
        writeBytes(root + "/B.TXT", "upper case extension");
        CorpusReader reader = CorpusReader::open(root);
        QCOMPARE(reader.files(), QStringList({"B.TXT", "a/c.json", "a/empty.txt", "a/z.txt", "b.jsonl"}));
        std::vector<Document> docs;
        Document d;
        while (reader.next(d)) docs.push_back(d);
        QCOMPARE(docs.size(), std::size_t(5));
        QCOMPARE(docs[0].source, QStringLiteral("B.TXT"));
        QCOMPARE(docs[0].text, std::string("upper case extension"));
        QCOMPARE(docs[1].source, QStringLiteral("a/c.json"));
        QCOMPARE(docs[2].source, QStringLiteral("a/z.txt"));
        QCOMPARE(docs[2].line, int64_t(0));
        QCOMPARE(docs[2].text, std::string("whole\nfile\n\nwith lines"));
        QCOMPARE(docs[3].source, QStringLiteral("b.jsonl"));
        QCOMPARE(docs[4].line, int64_t(1));
        QCOMPARE(docs[4].index, int64_t(4));
        QCOMPARE(reader.stats().emptyLines, int64_t(1));

        // Resume in the middle of a folder, including between a .txt and a .jsonl.
        for (int k = 0; k <= 5; ++k) {
            CorpusReader first = CorpusReader::open(root);
            for (int i = 0; i < k; ++i) QVERIFY(first.next(d));
            CorpusReader resumed = CorpusReader::open(root, {}, first.position());
            int i = k;
            while (resumed.next(d)) {
                QCOMPARE(d.index, int64_t(i));
                QCOMPARE(d.text, docs[static_cast<std::size_t>(i)].text);
                ++i;
            }
            QCOMPARE(i, 5);
        }

        // Fingerprint: changes with content and names, equals the documented construction.
        const std::string fp = corpusFingerprint(root);
        QByteArray listing;
        for (const QString& rel : reader.files()) {
            QFile f(root + "/" + rel);
            QVERIFY(f.open(QIODevice::ReadOnly));
            listing += QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex() + "  " + rel.toUtf8() + "\n";
        }
        QCOMPARE(fp, QCryptographicHash::hash(listing, QCryptographicHash::Sha256).toHex().toStdString());
        writeBytes(root + "/b.jsonl", "{\"text\": \"b0\"}\n{\"text\": \"b2\"}\n");
        const std::string fp2 = corpusFingerprint(root);
        QVERIFY(fp2 != fp);
        QVERIFY(QFile::rename(root + "/B.TXT", root + "/C.TXT"));
        QVERIFY(corpusFingerprint(root) != fp2);
    }

    void fileFingerprintIsSha256OfBytes() {
        HL_REQUIRE_FIXTURE(tiny());
        QFile f(tiny());
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(corpusFingerprint(tiny()),
                 QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex().toStdString());
        QTemporaryDir dir;
        writeBytes(dir.filePath(QStringLiteral("abc.txt")), "abc");
        // sha256("abc"), FIPS 180-2 test vector.
        QCOMPARE(corpusFingerprint(dir.filePath(QStringLiteral("abc.txt"))),
                 std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    void formatOverride() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("data.log"));
        writeBytes(path, "{\"text\": \"x\"}\n{\"text\": \"y\"}\n");
        HL_EXPECT_ERROR(CorpusReader::open(path), "data.log", "unknown corpus format");
        CorpusOptions o;
        o.format = CorpusFormat::JsonLines;
        QCOMPARE(countDocuments(path, o), int64_t(2));
        o.format = CorpusFormat::Text;
        const std::vector<Document> docs = readAll(path, o);
        QCOMPARE(docs.size(), std::size_t(1));
        QCOMPARE(docs[0].text, std::string("{\"text\": \"x\"}\n{\"text\": \"y\"}\n"));
    }

    void errors() {
        QTemporaryDir dir;
        HL_EXPECT_ERROR(CorpusReader::open(dir.filePath(QStringLiteral("missing.jsonl"))), "missing.jsonl", "no such file");
        HL_EXPECT_ERROR(CorpusReader::open(dir.path()), "no .jsonl, .json or .txt");
        const QString array = dir.filePath(QStringLiteral("array.json"));
        writeBytes(array, "  [{\"text\": \"a\"},\n {\"text\": \"b\"}]\n");
        HL_EXPECT_ERROR(countDocuments(array), "array.json", "JSON array");
        HL_REQUIRE_FIXTURE(tiny());
        CorpusOptions o;
        o.shardCount = 0;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), o), "shard count");
        o.shardCount = 2;
        o.shardIndex = 2;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), o), "shard index");
        o = {};
        o.maxDocuments = -1;
        HL_EXPECT_ERROR(CorpusReader::open(tiny(), o), "max documents");
    }
};

QTEST_GUILESS_MAIN(TestCorpus)
#include "test_corpus.moc"
