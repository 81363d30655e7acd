// Safetensors reader/writer: round trips, the real fixture files, and every kind of corrupt file.
#include <csignal>
#include <cstring>

#include <sys/resource.h>

#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::io;

namespace {

QByteArray withHeader(const std::string& header, const QByteArray& data = {}) {
    QByteArray out(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out += QByteArray::fromStdString(header);
    out += data;
    return out;
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    QString writeBytes(const QString& name, const QByteArray& bytes) {
        const QString path = dir_.filePath(name);
        writeFileAtomically(path, bytes);
        return path;
    }

private Q_SLOTS:
    void roundTripAllDtypes() {
        SafetensorsWriter w;
        const std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
        const std::vector<double> f64 = {1e-300, 2.0};
        const std::vector<int64_t> i64 = {-1, 1LL << 40};
        const std::vector<int32_t> i32 = {-7};
        const std::vector<int16_t> i16 = {300, -300, 5};
        const std::vector<int8_t> i8 = {-1, 2};
        const std::vector<uint8_t> u8 = {255};
        const std::vector<uint8_t> b = {1, 0, 1};
        const std::vector<uint16_t> f16 = {0x3c00, 0xc000};   // 1.0, -2.0
        const std::vector<uint16_t> bf16 = {0x3f80};          // 1.0
        w.add("f32", DType::F32, {2, 3}, f32);
        w.add("f64", DType::F64, {2}, f64);
        w.add("i64", DType::I64, {2}, i64);
        w.add("i32", DType::I32, {1, 1}, i32);
        w.add("i16", DType::I16, {3}, i16);
        w.add("i8", DType::I8, {2}, i8);
        w.add("u8", DType::U8, {1}, u8);
        w.add("bool", DType::BOOL, {3}, b);
        w.add("f16", DType::F16, {2}, f16);
        w.add("bf16", DType::BF16, {1}, bf16);
        w.add("empty", DType::F32, {0, 4}, std::vector<float>{});
        w.add("scalar", DType::F32, {}, std::vector<float>{42.0f});
        w.setMetadata("format", "pt");
        w.setMetadata("json", R"({"nested": "ü"})");
        const QString path = dir_.filePath(QStringLiteral("all.safetensors"));
        w.write(path);

        const auto st = SafetensorsFile::open(path);
        QCOMPARE(st.tensors().size(), std::size_t(12));
        QCOMPARE(st.metadata().at("json"), std::string(R"({"nested": "ü"})"));
        const TensorView& t = st.at("f32");
        QCOMPARE(t.dtype, DType::F32);
        QCOMPARE(t.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(std::memcmp(t.data, f32.data(), t.nbytes), 0);
        QCOMPARE(st.at("i64").dtype, DType::I64);
        QCOMPARE(std::memcmp(st.at("i64").data, i64.data(), 16), 0);
        QCOMPARE(st.at("bf16").dtype, DType::BF16);
        QCOMPARE(st.at("bool").nbytes, std::size_t(3));
        QCOMPARE(st.at("empty").nbytes, std::size_t(0));
        QCOMPARE(st.at("scalar").numel(), int64_t(1));
        QVERIFY(st.find("missing") == nullptr);
        HL_EXPECT_ERROR(st.at("missing"), "missing", "all.safetensors");

        // Canonical layout: header padded to 8, tensors sorted by name, bytes identical on rewrite.
        const QByteArray bytes = readFile(path);
        uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
        QCOMPARE(n % 8, uint64_t(0));
        const auto v = w.toBytes();
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(v.data()), int(v.size())), bytes);
    }

    void readsRealCheckpoint() {
        const QString path = test::fixture(QStringLiteral("gpt2-tiny/model.safetensors"));
        HL_REQUIRE_FIXTURE(path);
        const auto st = SafetensorsFile::open(path);
        const TensorView& wte = st.at("transformer.wte.weight");
        QCOMPARE(wte.shape, (std::vector<int64_t>{50257, 64}));
        QCOMPARE(wte.dtype, DType::F32);
        QCOMPARE(st.metadata().at("format"), std::string("pt"));
        const TensorView& fc = st.at("transformer.h.1.mlp.c_fc.weight");
        QCOMPARE(fc.shape, (std::vector<int64_t>{64, 256}));
    }

    void rejectsCorruptFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("needle");
        const QByteArray four(4, '\0');
        QTest::newRow("empty") << QByteArray() << "too short";
        QTest::newRow("short") << QByteArray(5, 'x') << "too short";
        QTest::newRow("header past end") << withHeader("{}").left(9) << "runs past the end";
        QByteArray huge(8, '\0');
        huge[5] = 0x10;  // 2^44 bytes
        QTest::newRow("header too large") << huge + QByteArray(8, ' ') << "exceeds the limit";
        QTest::newRow("not json") << withHeader("{not json}   ") << "not valid JSON";
        QTest::newRow("not object") << withHeader("[1, 2]  ") << "not a JSON object";
        QTest::newRow("unknown dtype")
            << withHeader(R"({"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", QByteArray(1, 0)) << "unknown dtype 'F8'";
        QTest::newRow("size mismatch")
            << withHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four) << "needs 8 bytes";
        QTest::newRow("offsets past end")
            << withHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four) << "truncated";
        QTest::newRow("overlap")
            << withHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four)
            << "overlaps";
        QTest::newRow("gap")
            << withHeader(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", QByteArray(2, 0)) << "gap";
        QTest::newRow("trailing bytes")
            << withHeader(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", QByteArray(3, 0)) << "cover 1";
        QTest::newRow("negative shape")
            << withHeader(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})") << "non-negative";
        QTest::newRow("begin after end")
            << withHeader(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}})", QByteArray(2, 0)) << "begin after";
        QTest::newRow("bad metadata")
            << withHeader(R"({"__metadata__":{"x":1}})") << "not a string";
        QTest::newRow("missing dtype")
            << withHeader(R"({"a":{"shape":[0],"data_offsets":[0,0]}})") << "dtype";
        QTest::newRow("overflowing shape")
            << withHeader(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}})")
            << "too large";
        QTest::newRow("invalid utf8 in header")
            << withHeader(std::string("{\"a\xff\":{}}   ")) << "not valid JSON";
    }

    void rejectsCorruptFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, needle);
        const QString path = writeBytes(QStringLiteral("bad.safetensors"), bytes);
        HL_EXPECT_ERROR(SafetensorsFile::open(path), "bad.safetensors", needle);
        try {
            SafetensorsFile::open(path);
        } catch (const headlight::Error& e) {  // our words, never the JSON library's
            QVERIFY2(!QString::fromLatin1(e.what()).contains(QStringLiteral("json.exception")), e.what());
        }
    }

    void writerNeverWritesWhatTheReaderRefuses() {
        // A header of exactly the reader's limit is written and read back; one byte more is refused at
        // write time (it used to be written, and then nothing could open the file).
        const std::size_t frame = std::string(R"({"__metadata__":{"k":""}})").size();
        SafetensorsWriter w;
        w.setMetadata("k", std::string(SafetensorsFile::kMaxHeaderBytes - frame, 'm'));
        const QString path = dir_.filePath(QStringLiteral("limit.safetensors"));
        w.write(path);
        const SafetensorsFile st = SafetensorsFile::open(path);
        QCOMPARE(st.metadata().at("k").size(), std::size_t(SafetensorsFile::kMaxHeaderBytes - frame));
        QCOMPARE(st.fileSize(), uint64_t(8 + SafetensorsFile::kMaxHeaderBytes));
        const QByteArray before = readFile(path);
        w.setMetadata("k", std::string(SafetensorsFile::kMaxHeaderBytes - frame + 1, 'm'));
        HL_EXPECT_ERROR(w.write(path), "limit.safetensors", "over the reader's limit");
        HL_EXPECT_ERROR(w.toBytes(), "over the reader's limit");
        QCOMPARE(readFile(path), before);
    }

    void truncatedRealFileNamesTensor() {
        const QString src = test::fixture(QStringLiteral("stories260k/model.safetensors"));
        HL_REQUIRE_FIXTURE(src);
        QByteArray bytes = readFile(src);
        bytes.chop(1000);
        const QString path = writeBytes(QStringLiteral("truncated.safetensors"), bytes);
        // The last tensor in the data section is the one cut short.
        HL_EXPECT_ERROR(SafetensorsFile::open(path), "truncated.safetensors", "tensor '", "truncated file?");
    }

    void missingFile() {
        HL_EXPECT_ERROR(SafetensorsFile::open(dir_.filePath(QStringLiteral("nope.safetensors"))), "nope.safetensors",
                        "cannot open");
    }

    void writerRejectsBadInput() {
        SafetensorsWriter w;
        const std::vector<float> v = {1, 2, 3};
        HL_EXPECT_ERROR(w.add("x", DType::F32, {2}, v), "do not match");
        HL_EXPECT_ERROR(w.add("__metadata__", DType::F32, {3}, v), "invalid tensor name");
    }

    void failedWriteKeepsOldFile() {
        const QString path = dir_.filePath(QStringLiteral("keep.safetensors"));
        SafetensorsWriter w;
        w.add("a", DType::F32, {1}, std::vector<float>{1.0f});
        w.write(path);
        const QByteArray before = readFile(path);
        bool threw = false;
        try {
            writeFileAtomically(path, [](QIODevice& d) {
                d.write("partial", 7);
                throw Error("simulated failure");
            });
        } catch (const Error&) {
            threw = true;
        }
        QVERIFY(threw);
        QCOMPARE(readFile(path), before);
        QCOMPARE(QDir(dir_.path()).entryList(QDir::Files).filter(QStringLiteral("keep")).size(), 1);
    }

    void fullDiskIsAnError() {
        // A disk that fills up mid-write: the file-size limit makes write() fail (EFBIG) like ENOSPC would.
        const QString path = dir_.filePath(QStringLiteral("big.safetensors"));
        writeFileAtomically(path, QByteArray("old content"));
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit old{};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &old), 0);
        rlimit small = old;
        small.rlim_cur = 4096;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &small), 0);
        SafetensorsWriter w;
        w.add("a", DType::F32, {16384}, std::vector<float>(16384, 1.0f));
        bool threw = false;
        QString message;
        try {
            w.write(path);
        } catch (const Error& e) {
            threw = true;
            message = QString::fromStdString(e.what());
        }
        setrlimit(RLIMIT_FSIZE, &old);
        QVERIFY(threw);
        QVERIFY2(message.contains(QStringLiteral("big.safetensors")), qPrintable(message));
        QCOMPARE(readFile(path), QByteArray("old content"));
        QCOMPARE(QDir(dir_.path()).entryList(QDir::Files).filter(QStringLiteral("big")).size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
