// Hub downloads (core/model/hub_download) against a hub look-alike on 127.0.0.1 (tests/hub_test_server):
// the cache layout huggingface_hub uses, reuse without requests, shards, resume with Range, servers that
// ignore Range, checksums, tokens, offline mode, revisions, errors, cancellation, and the CLI command.
#include <csignal>
#include <cstring>

#include <sys/resource.h>
#include <filesystem>
#include <set>

#include <QDirIterator>
#include <QElapsedTimer>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QUuid>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/progress.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/model/hub_download.h"
#include "tests/hub_test_server.h"
#include "tests/sharded_weights.h"
#include "tests/test_util.h"

using namespace headlight;
using test::HubTestServer;

namespace {

const QString kCommit1 = QStringLiteral("1111111111111111111111111111111111111111");
const QString kCommit2 = QStringLiteral("2222222222222222222222222222222222222222");

QByteArray fixtureBytes(const QString& rel) { return io::readFile(test::fixture(QStringLiteral("gpt2-tiny/") + rel)); }

// gpt2-tiny as a hub repo, plus files a download must skip.
std::map<QString, QByteArray> tinyRepoFiles() {
    return {{QStringLiteral("config.json"), fixtureBytes(QStringLiteral("config.json"))},
            {QStringLiteral("model.safetensors"), fixtureBytes(QStringLiteral("model.safetensors"))},
            {QStringLiteral("vocab.json"), fixtureBytes(QStringLiteral("vocab.json"))},
            {QStringLiteral("merges.txt"), fixtureBytes(QStringLiteral("merges.txt"))},
            {QStringLiteral("README.md"), QByteArray("# tiny\n")},
            {QStringLiteral("pytorch_model.bin"), QByteArray(1000, 'x')},
            {QStringLiteral("flax_model.msgpack"), QByteArray(1000, 'y')},
            {QStringLiteral("tf_model.h5"), QByteArray(1000, 'z')}};
}

// The same weights in two shards with an index.
std::map<QString, QByteArray> shardedRepoFiles() {
    const auto st = io::SafetensorsFile::open(test::fixture(QStringLiteral("gpt2-tiny/model.safetensors")));
    const test::TwoShards shards = test::splitInTwoShards(st);
    auto bytes = [](const io::SafetensorsWriter& w) {
        const std::vector<std::byte> v = w.toBytes();
        return QByteArray(reinterpret_cast<const char*>(v.data()), qsizetype(v.size()));
    };
    return {{QStringLiteral("config.json"), fixtureBytes(QStringLiteral("config.json"))},
            {test::TwoShards::firstName(), bytes(shards.first)},
            {test::TwoShards::secondName(), bytes(shards.second)},
            {QStringLiteral("model.safetensors.index.json"), shards.indexBytes()},
            {QStringLiteral("tokenizer_config.json"), QByteArray("{}")},
            {QStringLiteral("vocab.json"), fixtureBytes(QStringLiteral("vocab.json"))},
            {QStringLiteral("merges.txt"), fixtureBytes(QStringLiteral("merges.txt"))}};
}

// Every tensor of `a` equals the one of the same name in `b`, byte for byte.
bool sameTensors(const Checkpoint& a, const Checkpoint& b) {
    if (a.tensorNames() != b.tensorNames()) return false;
    for (const std::string& name : a.tensorNames()) {
        const io::TensorView& x = a.at(name);
        const io::TensorView& y = b.at(name);
        if (x.dtype != y.dtype || x.shape != y.shape || x.nbytes != y.nbytes || std::memcmp(x.data, y.data, x.nbytes) != 0)
            return false;
    }
    return true;
}

QString linkTarget(const QString& path) {
    std::error_code ec;
    return QString::fromStdString(std::filesystem::read_symlink(QFile::encodeName(path).toStdString(), ec).string());
}

bool anyFileContains(const QString& dir, const QByteArray& needle) {
    QDirIterator it(dir, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile f(it.next());
        if (f.open(QIODevice::ReadOnly) && f.readAll().contains(needle)) return true;
    }
    return false;
}

struct CliResult {
    int code = -1;
    QByteArray out, err;
};

CliResult runCli(const QStringList& args, const QProcessEnvironment& env) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(HEADLIGHT_CLI_PATH), args);
    if (!p.waitForStarted()) return {};
    p.closeWriteChannel();
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
}

}  // namespace

class TestHubDownload : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::unique_ptr<HubTestServer> server_;
    int cacheCount_ = 0;
    QString cache_;  // this test function's cache

    // A fresh, empty cache for each test, the server as HF_ENDPOINT, no token, online.
    void freshEnvironment() {
        cache_ = tmp_.filePath(QStringLiteral("cache%1").arg(++cacheCount_));
        qputenv("HF_HUB_CACHE", cache_.toUtf8());
        qputenv("HF_HOME", tmp_.filePath(QStringLiteral("hf-home")).toUtf8());  // no token file of the user's
        qputenv("HF_ENDPOINT", server_->endpoint().toUtf8());
        for (const char* v : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_HUB_ETAG_TIMEOUT",
                              "HF_HUB_DOWNLOAD_TIMEOUT"})
            qunsetenv(v);
        server_->setRequiredToken({});
        server_->setIgnoreRange(false);
        server_->setCorrupt(QStringLiteral("model.safetensors"), false);
        server_->setCorrupt(QStringLiteral("config.json"), false);
        server_->setEndlessApi(false);
        server_->setUnverifiable(QStringLiteral("config.json"), false);
        server_->clearRequests();
    }
    QString repoDir(const QString& repo) const { return hub::repoCacheDir(cache_, repo); }
    static hub::HubSettings settings(int retries = 5) {
        hub::HubSettings s = hub::HubSettings::fromEnvironment();
        s.retries = retries;
        return s;
    }
    static int64_t tinySize() { return fixtureBytes(QStringLiteral("model.safetensors")).size(); }

private Q_SLOTS:
    void initTestCase() {
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("gpt2-tiny/model.safetensors")));
        QVERIFY(tmp_.isValid());
        hub::setImplicitDownloads(false);
        server_ = std::make_unique<HubTestServer>();
        QVERIFY(server_->endpoint().startsWith(QLatin1String("http://127.0.0.1:")));
        server_->addCommit(QStringLiteral("org/tiny"), kCommit1, tinyRepoFiles());
        auto v2 = tinyRepoFiles();
        v2[QStringLiteral("config.json")] = v2[QStringLiteral("config.json")].replace("}", ", \"_v2\": true}");
        server_->addCommit(QStringLiteral("org/tiny"), kCommit2, v2, {QStringLiteral("v2")});
        server_->addCommit(QStringLiteral("org/sharded"), kCommit1, shardedRepoFiles());
        server_->addCommit(QStringLiteral("tiny-canonical"), kCommit1, tinyRepoFiles());
    }

    void parseIds() {
        const hub::HubId a = hub::parseHubId(QStringLiteral("EleutherAI/pythia-160m"));
        QCOMPARE(a.repo, QStringLiteral("EleutherAI/pythia-160m"));
        QCOMPARE(a.revision, QStringLiteral("main"));
        QVERIFY(!a.explicitRevision);
        const hub::HubId b = hub::parseHubId(QStringLiteral("gpt2@refs/pr/1"));
        QCOMPARE(b.repo, QStringLiteral("gpt2"));
        QCOMPARE(b.revision, QStringLiteral("refs/pr/1"));
        HL_EXPECT_ERROR(hub::parseHubId(QStringLiteral("a/b/c")), "not a Hugging Face hub id");
        HL_EXPECT_ERROR(hub::parseHubId(QStringLiteral("a@x/../y")), "bad revision");
    }

    void fullDownloadThenOpen() {
        freshEnvironment();
        const QString snap = resolveOrDownloadModel(QStringLiteral("org/tiny"));
        QCOMPARE(snap, QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1));
        // Never *.bin / *.h5 / *.msgpack / README.
        QCOMPARE(server_->countRequests({}, "pytorch_model.bin"), 0);
        QCOMPARE(server_->countRequests({}, "msgpack"), 0);
        QCOMPARE(server_->countRequests({}, ".h5"), 0);
        QCOMPARE(server_->countRequests({}, "README"), 0);
        QCOMPARE(server_->countRequests("GET", "/api/models/org/tiny/revision/main"), 1);
        // LFS content came from the CDN origin, small files from the hub.
        QCOMPARE(server_->countRequests("GET", "/blobs/"), 1);
        QCOMPARE(server_->countRequests("GET", "/resolve/" + kCommit1.toLatin1() + "/config.json"), 1);
        const Checkpoint got = Checkpoint::open(QStringLiteral("org/tiny"));
        const Checkpoint want = Checkpoint::open(test::fixture(QStringLiteral("gpt2-tiny")));
        QVERIFY(sameTensors(got, want));
        QCOMPARE(got.dir(), snap);
        QCOMPARE(io::readFile(QDir(snap).filePath(QStringLiteral("vocab.json"))), fixtureBytes(QStringLiteral("vocab.json")));
        QVERIFY(!QFileInfo::exists(QDir(snap).filePath(QStringLiteral("pytorch_model.bin"))));
    }

    void secondRunDownloadsNothing() {
        freshEnvironment();
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        server_->clearRequests();
        QCOMPARE(resolveOrDownloadModel(QStringLiteral("org/tiny")),
                 QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1));
        QCOMPARE(server_->countRequests(), 0);  // a complete snapshot: no request at all
        // An explicit download asks for the commit, then fetches nothing.
        const hub::DownloadResult r = hub::downloadModel(hub::parseHubId(QStringLiteral("org/tiny")), settings());
        QCOMPARE(r.filesDownloaded, 0);
        QCOMPARE(r.bytesDownloaded, int64_t(0));
        QCOMPARE(server_->countRequests(), 1);
        QCOMPARE(server_->countRequests("GET", "/api/models/"), 1);
    }

    void cacheLayoutAsPython() {
        freshEnvironment();
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        const QDir repo(repoDir(QStringLiteral("org/tiny")));
        QCOMPARE(repo.dirName(), QStringLiteral("models--org--tiny"));
        QCOMPARE(io::readFile(repo.filePath(QStringLiteral("refs/main"))), kCommit1.toLatin1());  // no newline, as Python
        const auto files = tinyRepoFiles();
        const QDir snap(repo.filePath(QStringLiteral("snapshots/") + kCommit1));
        QStringList expected = {QStringLiteral("config.json"), QStringLiteral("merges.txt"), QStringLiteral("model.safetensors"),
                                QStringLiteral("vocab.json")};
        QCOMPARE(snap.entryList(QDir::Files | QDir::System, QDir::Name), expected);
        QStringList blobs;
        for (const QString& name : expected) {
            const QByteArray& content = files.at(name);
            const QString etag = name.endsWith(QLatin1String(".safetensors")) ? HubTestServer::sha256Hex(content)
                                                                                : HubTestServer::gitSha1Hex(content);
            blobs << etag;
            const QString pointer = snap.filePath(name);
            QVERIFY2(QFileInfo(pointer).isSymLink(), qPrintable(pointer));
            QCOMPARE(linkTarget(pointer), QStringLiteral("../../blobs/") + etag);
            QCOMPARE(io::readFile(repo.filePath(QStringLiteral("blobs/") + etag)), content);
        }
        blobs.sort();
        QCOMPARE(QDir(repo.filePath(QStringLiteral("blobs"))).entryList(QDir::Files, QDir::Name), blobs);  // no .incomplete
        // Markers for the tokenizer files this revision lacks, as huggingface_hub writes them.
        QVERIFY(QFileInfo(repo.filePath(QStringLiteral(".no_exist/") + kCommit1 + QStringLiteral("/tokenizer.json"))).isFile());
        QVERIFY(QFileInfo(QDir(cache_).filePath(QStringLiteral(".locks/models--org--tiny"))).isDir());
        // A hub id without an organisation.
        resolveOrDownloadModel(QStringLiteral("tiny-canonical"));
        QVERIFY(QFileInfo(QDir(cache_).filePath(QStringLiteral("models--tiny-canonical/refs/main"))).isFile());
    }

    void pythonLaidOutCacheIsReused() {
        freshEnvironment();
        // What huggingface_hub leaves behind: blobs named by etag, relative links, refs/main.
        const QDir repo(repoDir(QStringLiteral("org/python-made")));
        const QString commit = QStringLiteral("abcdefabcdefabcdefabcdefabcdefabcdefabcd");
        QVERIFY(QDir().mkpath(repo.filePath(QStringLiteral("blobs"))));
        QVERIFY(QDir().mkpath(repo.filePath(QStringLiteral("refs"))));
        QVERIFY(QDir().mkpath(repo.filePath(QStringLiteral("snapshots/") + commit)));
        io::writeFileAtomically(repo.filePath(QStringLiteral("refs/main")), commit.toLatin1());
        for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"}) {
            const QByteArray content = fixtureBytes(QLatin1String(f));
            const QString etag = QString::fromLatin1(f).endsWith(QLatin1String(".safetensors")) ? HubTestServer::sha256Hex(content)
                                                                                                  : HubTestServer::gitSha1Hex(content);
            io::writeFileAtomically(repo.filePath(QStringLiteral("blobs/") + etag), content);
            std::filesystem::create_symlink("../../blobs/" + etag.toStdString(),
                                            QFile::encodeName(repo.filePath(QStringLiteral("snapshots/") + commit + QLatin1Char('/') +
                                                                            QLatin1String(f)))
                                                .toStdString());
        }
        QCOMPARE(resolveOrDownloadModel(QStringLiteral("org/python-made")), repo.filePath(QStringLiteral("snapshots/") + commit));
        hub::setImplicitDownloads(true);
        const Checkpoint ck = Checkpoint::open(QStringLiteral("org/python-made"));
        hub::setImplicitDownloads(false);
        QVERIFY(sameTensors(ck, Checkpoint::open(test::fixture(QStringLiteral("gpt2-tiny")))));
        QCOMPARE(server_->countRequests(), 0);
    }

    void shardedCheckpoint() {
        freshEnvironment();
        const QString snap = resolveOrDownloadModel(QStringLiteral("org/sharded"));
        QCOMPARE(server_->countRequests("GET", "/blobs/"), 2);
        for (const char* f : {"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                              "tokenizer_config.json", "config.json"})
            QVERIFY2(QFileInfo(QDir(snap).filePath(QLatin1String(f))).isFile(), f);
        const Checkpoint got = Checkpoint::open(snap);
        QCOMPARE(int(got.weightFiles().size()), 2);
        QVERIFY(sameTensors(got, Checkpoint::open(test::fixture(QStringLiteral("gpt2-tiny")))));
        server_->clearRequests();
        QCOMPARE(resolveOrDownloadModel(QStringLiteral("org/sharded")), snap);
        QCOMPARE(server_->countRequests(), 0);
    }

    void resumeAfterDroppedConnection() {
        freshEnvironment();
        const int64_t size = tinySize();
        const int64_t cut = size / 2;
        server_->setDropAfter(QStringLiteral("model.safetensors"), cut, 1);
        const hub::HubId id = hub::parseHubId(QStringLiteral("org/tiny"));
        HL_EXPECT_ERROR(hub::downloadModel(id, settings(0)), "model.safetensors", "interrupted", "resume");
        const QString etag = HubTestServer::sha256Hex(fixtureBytes(QStringLiteral("model.safetensors")));
        const QString blob = QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("blobs/") + etag);
        QCOMPARE(QFileInfo(blob + QStringLiteral(".incomplete")).size(), cut);
        QVERIFY(!QFileInfo::exists(blob));
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 +
                                                                                    QStringLiteral("/model.safetensors"))));
        server_->clearRequests();
        const hub::DownloadResult r = hub::downloadModel(id, settings(0));
        QCOMPARE(r.filesDownloaded, 3);  // the rest of model.safetensors, then vocab.json and merges.txt
        // Only the rest, with one Range request. (A GET without Range may still reach the server late:
        // Qt's HTTP layer re-sends a request by itself when a connection closes mid-body.)
        const auto reqs = server_->requests();
        int cdnGets = 0;
        int64_t resumedBytes = 0;
        for (const auto& q : reqs)
            if (q.server == "cdn" && q.method == "GET" && !q.header("range").empty()) {
                resumedBytes += q.bodyBytes;
                ++cdnGets;
                QCOMPARE(QString::fromStdString(q.header("range")), QStringLiteral("bytes=%1-").arg(cut));
                QCOMPARE(q.status, 206);
                QCOMPARE(q.bodyBytes, size - cut);
            }
        QCOMPARE(cdnGets, 1);
        QCOMPARE(resumedBytes, size - cut);
        QCOMPARE(io::readFile(blob), fixtureBytes(QStringLiteral("model.safetensors")));
        QVERIFY(!QFileInfo::exists(blob + QStringLiteral(".incomplete")));
    }

    void resumeWithinOneCall() {
        freshEnvironment();
        server_->setDropAfter(QStringLiteral("model.safetensors"), 1000000, 2);
        const hub::DownloadResult r = hub::downloadModel(hub::parseHubId(QStringLiteral("org/tiny")), settings(3));
        // Counted by the client: Qt's HTTP layer may re-send a GET on its own when a connection closes
        // mid-body (and drops that answer), so the server can see one more GET than the client made.
        QVERIFY(server_->countRequests("GET", "/blobs/") >= 3);
        int64_t files = 0;
        for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"}) files += fixtureBytes(QLatin1String(f)).size();
        QCOMPARE(r.bytesDownloaded, files);  // no byte fetched twice
        QVERIFY(sameTensors(Checkpoint::open(r.snapshotDir), Checkpoint::open(test::fixture(QStringLiteral("gpt2-tiny")))));
    }

    void serverIgnoringRange() {
        freshEnvironment();
        server_->setDropAfter(QStringLiteral("model.safetensors"), 3000000, 1);
        const hub::HubId id = hub::parseHubId(QStringLiteral("org/tiny"));
        HL_EXPECT_ERROR(hub::downloadModel(id, settings(0)), "interrupted");
        server_->setIgnoreRange(true);
        server_->clearRequests();
        const hub::DownloadResult r = hub::downloadModel(id, settings(0));
        server_->setIgnoreRange(false);
        bool sawRange = false;
        for (const auto& q : server_->requests())
            if (q.server == "cdn" && q.method == "GET") {
                sawRange = !q.header("range").empty();
                QCOMPARE(q.status, 200);
            }
        QVERIFY(sawRange);  // it asked to resume, got the whole file, started over
        QCOMPARE(io::readFile(QDir(r.snapshotDir).filePath(QStringLiteral("model.safetensors"))), fixtureBytes(QStringLiteral("model.safetensors")));
    }

    // A disk that fills up during a download (the file-size limit makes write() fail like ENOSPC would):
    // a clear error naming the file, no blob or snapshot link where a complete file is expected, and
    // the next call, with room again, resumes from what was written.
    void fullDiskIsAnError() {
        freshEnvironment();
        const int64_t size = tinySize();
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit old{};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &old), 0);
        rlimit small = old;
        small.rlim_cur = rlim_t(size / 3);
        const hub::HubId id = hub::parseHubId(QStringLiteral("org/tiny"));
        QString message;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &small), 0);
        try {
            hub::downloadModel(id, settings(0));
        } catch (const Error& e) {
            message = QString::fromStdString(e.what());
        }
        setrlimit(RLIMIT_FSIZE, &old);
        QVERIFY2(message.contains(QStringLiteral("cannot write")) && message.contains(QStringLiteral(".incomplete")), qPrintable(message));
        const QString etag = HubTestServer::sha256Hex(fixtureBytes(QStringLiteral("model.safetensors")));
        const QString blob = QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("blobs/") + etag);
        QVERIFY(!QFileInfo::exists(blob));
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 +
                                                                                    QStringLiteral("/model.safetensors"))));
        const int64_t kept = QFileInfo(blob + QStringLiteral(".incomplete")).size();
        QVERIFY(kept > 0 && kept <= size / 3);
        server_->clearRequests();
        const hub::DownloadResult r = hub::downloadModel(id, settings(0));
        QCOMPARE(server_->bodyBytesSent("/blobs/"), size - kept);  // resumed, not started over
        QCOMPARE(io::readFile(QDir(r.snapshotDir).filePath(QStringLiteral("model.safetensors"))), fixtureBytes(QStringLiteral("model.safetensors")));
    }

    void commitMustBeFortyHexDigits() {
        // A sha with a newline used to be accepted (broken snapshot links); only 40 lowercase hex digits pass.
        freshEnvironment();
        server_->addCommit(QStringLiteral("org/badsha"), kCommit1.left(39) + QStringLiteral("1\n"), tinyRepoFiles());
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/badsha")), "org/badsha", "commit sha", "not 40 lowercase hex");
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/badsha"))).filePath(QStringLiteral("snapshots"))));
        const QByteArray ok = R"({"sha": "1111111111111111111111111111111111111111", "siblings": [{"rfilename": "config.json"}, 7]})";
        const hub::RevisionInfo info = hub::parseRevisionInfo(ok, QStringLiteral("org/x"));
        QCOMPARE(info.commit, kCommit1);
        QCOMPARE(info.files, (std::set<QString>{QStringLiteral("config.json")}));
        for (const char* bad : {R"({"sha": "../../etc"})", R"({"sha": "ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD"})", R"({"sha": 5})",
                                R"([1])", "not json", R"({"sha": "111111111111111111111111111111111111111"})"})
            HL_EXPECT_ERROR(hub::parseRevisionInfo(QByteArray(bad), QStringLiteral("org/x")), "hub model 'org/x'");
    }

    void unverifiableBlobIsRefused() {
        // A non-hash ETag without a size used to disable verification: such a file is refused.
        freshEnvironment();
        server_->setUnverifiable(QStringLiteral("config.json"), true);
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "config.json", "could not be verified");
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 +
                                                                                    QStringLiteral("/config.json"))));
    }

    void endlessAnswerIsCapped() {
        // An API answer that never ends used to be buffered until memory ran out (9 GB); it is cut at 64 MB.
        freshEnvironment();
        server_->setEndlessApi(true);
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "hub answer", "is over 64 MB");
        server_->setEndlessApi(false);
    }

    void wrongChecksum() {
        freshEnvironment();
        server_->setCorrupt(QStringLiteral("model.safetensors"), true);
        const QString etag = HubTestServer::sha256Hex(fixtureBytes(QStringLiteral("model.safetensors")));
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "model.safetensors", "checksum mismatch", "sha256 " + etag,
                        "got ");
        const QString blob = QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("blobs/") + etag);
        QVERIFY(!QFileInfo::exists(blob));
        QVERIFY(!QFileInfo::exists(blob + QStringLiteral(".incomplete")));
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 +
                                                                                    QStringLiteral("/model.safetensors"))));
        server_->setCorrupt(QStringLiteral("model.safetensors"), false);
        // A small (git) file is checked with its git blob sha1.
        freshEnvironment();
        server_->setCorrupt(QStringLiteral("config.json"), true);
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "config.json", "checksum mismatch", "git sha1");
        server_->setCorrupt(QStringLiteral("config.json"), false);
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 +
                                                                                    QStringLiteral("/config.json"))));
        // Fixed server: the same cache completes.
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
    }

    void tokenForGatedModels() {
        freshEnvironment();
        const QByteArray secret = "gated-" + QUuid::createUuid().toByteArray(QUuid::WithoutBraces);  // made up per run
        server_->setRequiredToken(secret);
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "org/tiny", "401", "HF_TOKEN");
        qputenv("HF_TOKEN", "not-the-token");
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "401", "HF_TOKEN", "not accepted");
        qputenv("HF_TOKEN", secret);
        server_->clearRequests();
        const QString snap = resolveOrDownloadModel(QStringLiteral("org/tiny"));
        QVERIFY(QFileInfo(QDir(snap).filePath(QStringLiteral("model.safetensors"))).isFile());
        int hub = 0, cdn = 0;
        for (const auto& q : server_->requests()) {
            if (q.server == "hub") {
                ++hub;
                QCOMPARE(QByteArray::fromStdString(q.header("authorization")), "Bearer " + secret);
            } else {
                ++cdn;
                QVERIFY2(q.header("authorization").empty(), "the token must not go to another origin");
            }
        }
        QVERIFY(hub > 0 && cdn > 0);
        QVERIFY(!anyFileContains(cache_, secret));
        qunsetenv("HF_TOKEN");
        // The token file of huggingface-cli login ($HF_HOME/token).
        freshEnvironment();
        server_->setRequiredToken(secret);
        const QString home = tmp_.filePath(QStringLiteral("hf-home-login"));
        QVERIFY(QDir().mkpath(home));
        io::writeFileAtomically(QDir(home).filePath(QStringLiteral("token")), secret + "\n");
        qputenv("HF_HOME", home.toUtf8());
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        QVERIFY(!anyFileContains(cache_, secret));
        server_->setRequiredToken({});
    }

    void offlineMode() {
        freshEnvironment();
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        server_->clearRequests();
        qputenv("HF_HUB_OFFLINE", "1");
        QCOMPARE(resolveOrDownloadModel(QStringLiteral("org/tiny")),
                 QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1));
        QVERIFY(!hub::downloadModel(hub::parseHubId(QStringLiteral("org/tiny")), settings()).snapshotDir.isEmpty());
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/missing")), "org/missing", "HF_HUB_OFFLINE", "models--org--missing",
                        cache_);
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny@v2")), "HF_HUB_OFFLINE", "refs/v2");
        // A snapshot that lacks the weights is named as such.
        QFile::remove(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1 + QStringLiteral("/model.safetensors")));
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "HF_HUB_OFFLINE", "lacks model.safetensors");
        QCOMPARE(server_->countRequests(), 0);
        qunsetenv("HF_HUB_OFFLINE");
        // Online again: only the missing file is fetched (the blob is still there: no GET at all).
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        QCOMPARE(server_->countRequests("GET", "/blobs/"), 0);
    }

    void revisions() {
        freshEnvironment();
        const QString snap1 = resolveOrDownloadModel(QStringLiteral("org/tiny"));
        server_->clearRequests();
        const QString snap2 = resolveOrDownloadModel(QStringLiteral("org/tiny@v2"));
        QCOMPARE(snap2, QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit2));
        QCOMPARE(io::readFile(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("refs/v2"))), kCommit2.toLatin1());
        QVERIFY(io::readFile(QDir(snap2).filePath(QStringLiteral("config.json"))).contains("_v2"));
        QCOMPARE(server_->countRequests("GET", "/blobs/"), 0);  // same weights: the blob is shared
        QCOMPARE(server_->countRequests("GET", "/resolve/"), 1);  // only the changed config.json
        QCOMPARE(linkTarget(QDir(snap2).filePath(QStringLiteral("model.safetensors"))),
                 linkTarget(QDir(snap1).filePath(QStringLiteral("model.safetensors"))));
        // A commit sha as revision: no refs file for it.
        freshEnvironment();
        const QString bySha = resolveOrDownloadModel(QStringLiteral("org/tiny@") + kCommit2);
        QCOMPARE(QFileInfo(bySha).fileName(), kCommit2);
        QVERIFY(!QFileInfo::exists(QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("refs/") + kCommit2)));
        server_->clearRequests();
        QCOMPARE(resolveOrDownloadModel(QStringLiteral("org/tiny@") + kCommit2), bySha);
        QCOMPARE(server_->countRequests(), 0);
    }

    void clearErrors() {
        freshEnvironment();
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/nothing")), "org/nothing", "404", "no such repo");
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny@nope")), "org/tiny", "no revision 'nope'");
        // Nothing listening.
        quint16 closedPort = 0;
        {
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
            closedPort = probe.serverPort();
        }
        qputenv("HF_ENDPOINT", QByteArray("http://127.0.0.1:") + QByteArray::number(closedPort));
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "org/tiny", "cannot reach", "refused");
        // A server that accepts and never answers.
        QTcpServer silent;
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        qputenv("HF_ENDPOINT", QByteArray("http://127.0.0.1:") + QByteArray::number(silent.serverPort()));
        qputenv("HF_HUB_ETAG_TIMEOUT", "0.3");
        QElapsedTimer t;
        t.start();
        HL_EXPECT_ERROR(hub::downloadModel(hub::parseHubId(QStringLiteral("org/tiny")), settings(0)), "timeout", "127.0.0.1");
        QVERIFY(t.elapsed() < 5000);
        qunsetenv("HF_HUB_ETAG_TIMEOUT");
        qputenv("HF_ENDPOINT", "ftp://example.invalid");
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/tiny")), "HF_ENDPOINT");
        qputenv("HF_ENDPOINT", server_->endpoint().toUtf8());
        // A repo with only pytorch_model.bin.
        server_->addCommit(QStringLiteral("org/binonly"), kCommit1,
                           {{QStringLiteral("config.json"), fixtureBytes(QStringLiteral("config.json"))},
                            {QStringLiteral("pytorch_model.bin"), QByteArray(10, 'b')}});
        HL_EXPECT_ERROR(resolveOrDownloadModel(QStringLiteral("org/binonly")), "pytorch_model.bin", "safetensors");
        // Folders and paths are not hub ids: same errors as before.
        HL_EXPECT_ERROR(resolveOrDownloadModel(tmp_.filePath(QStringLiteral("no/such/dir"))), "does not exist");
    }

    void cancellation() {
        freshEnvironment();
        CancellationToken token;
        int64_t seen = 0;
        const Progress progress(
            [&](int64_t done, int64_t, const std::string& message) {
                if (message.rfind("downloading", 0) == 0 && message.find("model.safetensors") != std::string::npos) {
                    seen = done;
                    token.cancel();
                }
            },
            &token);
        bool cancelled = false;
        try {
            resolveOrDownloadModel(QStringLiteral("org/tiny"), progress);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QVERIFY(seen > 0);
        const QString blob = QDir(repoDir(QStringLiteral("org/tiny")))
                                 .filePath(QStringLiteral("blobs/") + HubTestServer::sha256Hex(fixtureBytes(QStringLiteral("model.safetensors"))));
        QVERIFY(!QFileInfo::exists(blob));
        // Resumable: the next run completes.
        resolveOrDownloadModel(QStringLiteral("org/tiny"));
        QCOMPARE(io::readFile(blob), fixtureBytes(QStringLiteral("model.safetensors")));
    }

    void cliDownloadCommand() {
        freshEnvironment();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        const CliResult r = runCli({QStringLiteral("download"), QStringLiteral("org/tiny")}, env);
        QVERIFY2(r.code == 0, r.err.constData());
        const QString snap = QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit1);
        QCOMPARE(QString::fromUtf8(r.out).trimmed(), snap);
        QVERIFY(QFileInfo(QDir(snap).filePath(QStringLiteral("model.safetensors"))).isFile());
        const CliResult v2 = runCli({QStringLiteral("download"), QStringLiteral("org/tiny"), QStringLiteral("--revision"), QStringLiteral("v2")}, env);
        QVERIFY2(v2.code == 0, v2.err.constData());
        QCOMPARE(QString::fromUtf8(v2.out).trimmed(), QDir(repoDir(QStringLiteral("org/tiny"))).filePath(QStringLiteral("snapshots/") + kCommit2));
        const CliResult missing = runCli({QStringLiteral("download"), QStringLiteral("org/nothing")}, env);
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains("headlight-cli: error: ") && missing.err.contains("org/nothing"), missing.err.constData());
        QCOMPARE(missing.err.count('\n'), 1);
        // Any --model downloads when needed.
        const CliResult info = runCli({QStringLiteral("info"), QStringLiteral("--model"), QStringLiteral("org/sharded")}, env);
        QVERIFY2(info.code == 0, info.err.constData());
        QVERIFY(QFileInfo(QDir(repoDir(QStringLiteral("org/sharded"))).filePath(QStringLiteral("refs/main"))).isFile());
        env.insert(QStringLiteral("HF_HUB_OFFLINE"), QStringLiteral("1"));
        const CliResult offline = runCli({QStringLiteral("info"), QStringLiteral("--model"), QStringLiteral("org/other")}, env);
        QCOMPARE(offline.code, 1);
        QVERIFY2(offline.err.contains("HF_HUB_OFFLINE"), offline.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestHubDownload)
#include "test_hub_download.moc"
