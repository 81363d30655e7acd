#include "tests/hub_test_server.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <QCryptographicHash>
#include <QHostAddress>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>
#include <nlohmann/json.hpp>

namespace headlight::test {

namespace {

struct Commit {
    std::map<QString, QByteArray> files;
};

struct Repo {
    std::map<QString, QString> refs;  // revision -> commit
    std::map<QString, Commit> commits;
};

bool isLfs(const QString& name) { return name.endsWith(QLatin1String(".safetensors")); }

}  // namespace

struct HubTestServer::Impl {
    mutable std::mutex mutex;
    std::map<QString, Repo> repos;
    std::map<QString, std::pair<QString, QByteArray>> blobs;  // sha256 -> (name, content)
    QByteArray requiredToken;
    bool ignoreRange = false;
    std::map<QString, std::pair<int64_t, int>> drops;  // file -> (bytes, times)
    std::map<QString, bool> corrupt;
    bool endlessApi = false;
    std::set<QString> unverifiable;
    std::vector<HubRequest> log;
    std::atomic<bool> stop{false};
    std::atomic<int> hubPort{0}, cdnPort{0};
    std::thread hubThread, cdnThread;

    void serve(bool cdn) {
        QTcpServer server;
        if (!server.listen(QHostAddress::LocalHost, 0)) {
            (cdn ? cdnPort : hubPort).store(-1);
            return;
        }
        (cdn ? cdnPort : hubPort).store(server.serverPort());
        while (!stop.load()) {
            if (!server.waitForNewConnection(20)) continue;
            while (QTcpSocket* socket = server.nextPendingConnection()) {
                handle(*socket, cdn);
                socket->close();
                delete socket;
            }
        }
    }

    static bool readRequest(QTcpSocket& socket, QByteArray& head) {
        while (!head.contains("\r\n\r\n")) {
            if (!socket.waitForReadyRead(5000)) return false;
            head += socket.readAll();
            if (head.size() > 65536) return false;
        }
        return true;
    }

    static void writeAllBlocking(QTcpSocket& socket, const char* data, qint64 n) {
        qint64 done = 0;
        while (done < n) {
            const qint64 chunk = std::min<qint64>(n - done, 1 << 18);
            const qint64 w = socket.write(data + done, chunk);
            if (w < 0) return;
            done += w;
            while (socket.bytesToWrite() > (1 << 20))
                if (!socket.waitForBytesWritten(10000)) return;
        }
        while (socket.bytesToWrite() > 0)
            if (!socket.waitForBytesWritten(10000)) return;
    }

    struct Answer {
        int status = 200;
        QByteArray reason = "OK";
        std::vector<std::pair<QByteArray, QByteArray>> headers;
        QByteArray body;            // small bodies
        const QByteArray* content = nullptr;  // file content (with range/drop/corrupt applied at send time)
        QString fileName;
        bool noLength = false;  // no Content-Length header
        bool endless = false;   // after the body, spaces until the client goes away
    };

    static Answer json(int status, const QByteArray& reason, const nlohmann::json& j, const QByteArray& code = {}) {
        Answer a;
        a.status = status;
        a.reason = reason;
        a.body = QByteArray::fromStdString(j.dump());
        a.headers.push_back({"Content-Type", "application/json"});
        if (!code.isEmpty()) a.headers.push_back({"X-Error-Code", code});
        return a;
    }

    void handle(QTcpSocket& socket, bool cdn) {
        QByteArray head;
        if (!readRequest(socket, head)) return;
        head = head.left(head.indexOf("\r\n\r\n"));
        const QList<QByteArray> lines = head.split('\n');
        const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
        HubRequest req;
        req.server = cdn ? "cdn" : "hub";
        req.method = first.value(0);
        req.path = first.value(1);
        for (int i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines[i].trimmed();
            const int colon = line.indexOf(':');
            if (colon > 0) req.headers[line.left(colon).trimmed().toLower().toStdString()] = line.mid(colon + 1).trimmed().toStdString();
        }

        std::unique_lock<std::mutex> lock(mutex);
        Answer a = cdn ? routeCdn(req) : routeHub(req);
        // File content: Range, corruption, drops.
        QByteArray body = a.body;
        int64_t dropAt = -1;
        if (a.content) {
            QByteArray content = *a.content;
            if (corrupt[a.fileName] && !content.isEmpty()) content[content.size() / 2] = char(content[content.size() / 2] ^ 0x5a);
            const std::string range = req.header("range");
            static const QRegularExpression re(QStringLiteral("^bytes=(\\d+)-$"));
            const auto m = re.match(QString::fromStdString(range));
            if (!range.empty() && m.hasMatch() && !ignoreRange) {
                const qint64 start = m.captured(1).toLongLong();
                if (start >= content.size()) {
                    a.status = 416;
                    a.reason = "Range Not Satisfiable";
                    a.headers.push_back({"Content-Range", "bytes */" + QByteArray::number(content.size())});
                    body.clear();
                } else {
                    a.status = 206;
                    a.reason = "Partial Content";
                    a.headers.push_back({"Content-Range", "bytes " + QByteArray::number(start) + "-" +
                                                              QByteArray::number(content.size() - 1) + "/" +
                                                              QByteArray::number(content.size())});
                    body = content.mid(start);
                }
            } else {
                body = content;
            }
            a.headers.push_back({"Accept-Ranges", "bytes"});
            if (req.method == "GET" && a.status / 100 == 2) {
                auto it = drops.find(a.fileName);
                if (it != drops.end() && it->second.second > 0) {
                    dropAt = it->second.first;
                    if (--it->second.second == 0) drops.erase(it);
                }
            }
        }
        req.status = a.status;
        const bool sendBody = req.method != "HEAD";
        req.bodyBytes = sendBody ? (dropAt >= 0 ? std::min<int64_t>(dropAt, body.size()) : body.size()) : 0;
        log.push_back(req);
        lock.unlock();

        QByteArray out = "HTTP/1.1 " + QByteArray::number(a.status) + " " + a.reason + "\r\n";
        bool haveLength = false;
        for (const auto& [k, v] : a.headers) {
            out += k + ": " + v + "\r\n";
            if (k.toLower() == "content-length") haveLength = true;
        }
        if (!haveLength && !a.noLength) out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        out += "Connection: close\r\n\r\n";
        writeAllBlocking(socket, out.constData(), out.size());
        if (sendBody) writeAllBlocking(socket, body.constData(), req.bodyBytes);
        if (sendBody && a.endless) {
            const QByteArray spaces(1 << 20, ' ');
            for (int i = 0; i < 1024 && socket.state() == QAbstractSocket::ConnectedState && !stop.load(); ++i)
                writeAllBlocking(socket, spaces.constData(), spaces.size());
        }
        // Every byte logged as sent reaches the client, however busy the machine: flush, then close.
        while (socket.bytesToWrite() > 0)
            if (!socket.waitForBytesWritten(30000)) break;
        socket.disconnectFromHost();
        if (socket.state() != QAbstractSocket::UnconnectedState) socket.waitForDisconnected(30000);
    }

    bool authorized(const HubRequest& req) const {
        return requiredToken.isEmpty() || req.header("authorization") == "Bearer " + requiredToken.toStdString();
    }

    // The repo named at the start of `rest` (longest match: "org/name" before "name"), and what follows.
    const Repo* findRepo(const QString& rest, const QString& marker, QString* repoName, QString* tail) const {
        const int at = rest.indexOf(marker);
        if (at < 0) return nullptr;
        *repoName = rest.left(at);
        *tail = rest.mid(at + marker.size());
        auto it = repos.find(*repoName);
        return it == repos.end() ? nullptr : &it->second;
    }

    Answer routeHub(const HubRequest& req) {
        const QString path = QUrl::fromPercentEncoding(req.path.left(req.path.indexOf('?') < 0 ? req.path.size() : req.path.indexOf('?')));
        QString repoName, tail;
        if (path.startsWith(QLatin1String("/api/models/"))) {
            if (!authorized(req)) return json(401, "Unauthorized", {{"error", "Invalid credentials in Authorization header"}});
            const Repo* repo = findRepo(path.mid(12), QStringLiteral("/revision/"), &repoName, &tail);
            if (!repo) return json(404, "Not Found", {{"error", "Repository not found"}}, "RepoNotFound");
            const QString commit = repo->refs.count(tail) ? repo->refs.at(tail) : repo->commits.count(tail) ? tail : QString();
            if (commit.isEmpty()) return json(404, "Not Found", {{"error", "Invalid rev id: " + tail.toStdString()}}, "RevisionNotFound");
            nlohmann::json j;
            j["id"] = repoName.toStdString();
            j["sha"] = commit.toStdString();
            j["siblings"] = nlohmann::json::array();
            for (const auto& [name, content] : repo->commits.at(commit).files) j["siblings"].push_back({{"rfilename", name.toStdString()}});
            Answer a = json(200, "OK", j);
            a.noLength = a.endless = endlessApi;
            return a;
        }
        const Repo* repo = findRepo(path.mid(1), QStringLiteral("/resolve/"), &repoName, &tail);
        if (!repo) return json(404, "Not Found", {{"error", "Repository not found"}}, "RepoNotFound");
        if (!authorized(req)) return json(401, "Unauthorized", {{"error", "Access to this model is restricted"}}, "GatedRepo");
        const int slash = tail.indexOf(QLatin1Char('/'));
        const QString rev = tail.left(slash), file = tail.mid(slash + 1);
        const QString commit = repo->refs.count(rev) ? repo->refs.at(rev) : repo->commits.count(rev) ? rev : QString();
        if (commit.isEmpty()) return json(404, "Not Found", {{"error", "Invalid rev id"}}, "RevisionNotFound");
        const auto& files = repo->commits.at(commit).files;
        auto f = files.find(file);
        if (f == files.end()) return json(404, "Not Found", {{"error", "Entry not found"}}, "EntryNotFound");
        Answer a;
        a.headers.push_back({"X-Repo-Commit", commit.toLatin1()});
        if (isLfs(file)) {
            const QByteArray sha = sha256Hex(f->second).toLatin1();
            a.status = 302;
            a.reason = "Found";
            a.headers.push_back({"X-Linked-Etag", "\"" + sha + "\""});
            a.headers.push_back({"X-Linked-Size", QByteArray::number(f->second.size())});
            a.headers.push_back({"ETag", "W/\"not-the-content-hash\""});
            a.headers.push_back({"Location", "http://127.0.0.1:" + QByteArray::number(cdnPort.load()) + "/blobs/" + sha + "?sig=abc"});
            return a;
        }
        a.headers.push_back({"ETag", unverifiable.count(file) ? QByteArray("\"opaque-etag\"") : "\"" + gitSha1Hex(f->second).toLatin1() + "\""});
        a.noLength = unverifiable.count(file) > 0;
        a.content = &f->second;
        a.fileName = file;
        return a;
    }

    Answer routeCdn(const HubRequest& req) {
        const QByteArray path = req.path.left(req.path.indexOf('?') < 0 ? req.path.size() : req.path.indexOf('?'));
        if (!path.startsWith("/blobs/")) return json(404, "Not Found", {{"error", "no such blob"}});
        auto it = blobs.find(QString::fromLatin1(path.mid(7)));
        if (it == blobs.end()) return json(404, "Not Found", {{"error", "no such blob"}});
        Answer a;
        a.headers.push_back({"ETag", "\"" + path.mid(7) + "\""});
        a.content = &it->second.second;
        a.fileName = it->second.first;
        return a;
    }
};

void HubTestServer::setEndlessApi(bool endless) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->endlessApi = endless;
}

void HubTestServer::setUnverifiable(const QString& file, bool unverifiable) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (unverifiable)
        impl_->unverifiable.insert(file);
    else
        impl_->unverifiable.erase(file);
}

HubTestServer::HubTestServer() : impl_(std::make_unique<Impl>()) {
    impl_->hubThread = std::thread([this] { impl_->serve(false); });
    impl_->cdnThread = std::thread([this] { impl_->serve(true); });
    while (impl_->hubPort.load() == 0 || impl_->cdnPort.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

HubTestServer::~HubTestServer() {
    impl_->stop.store(true);
    impl_->hubThread.join();
    impl_->cdnThread.join();
}

QString HubTestServer::endpoint() const { return QStringLiteral("http://127.0.0.1:%1").arg(impl_->hubPort.load()); }
QString HubTestServer::cdnOrigin() const { return QStringLiteral("http://127.0.0.1:%1").arg(impl_->cdnPort.load()); }

void HubTestServer::addCommit(const QString& repo, const QString& commit, const std::map<QString, QByteArray>& files,
                              const QStringList& revisions) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    Repo& r = impl_->repos[repo];
    r.commits[commit].files = files;
    for (const QString& rev : revisions) r.refs[rev] = commit;
    for (const auto& [name, content] : files)
        if (isLfs(name)) impl_->blobs[sha256Hex(content)] = {name, content};
}

void HubTestServer::setRequiredToken(const QByteArray& token) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->requiredToken = token;
}
void HubTestServer::setIgnoreRange(bool ignore) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->ignoreRange = ignore;
}
void HubTestServer::setDropAfter(const QString& file, int64_t bytes, int times) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->drops[file] = {bytes, times};
}
void HubTestServer::setCorrupt(const QString& file, bool corrupt) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->corrupt[file] = corrupt;
}

std::vector<HubRequest> HubTestServer::requests() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->log;
}

int HubTestServer::countRequests(const QByteArray& method, const QByteArray& pathPart) const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    int n = 0;
    for (const HubRequest& r : impl_->log)
        if ((method.isEmpty() || r.method == method) && (pathPart.isEmpty() || r.path.contains(pathPart))) ++n;
    return n;
}

int64_t HubTestServer::bodyBytesSent(const QByteArray& pathPart) const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    int64_t n = 0;
    for (const HubRequest& r : impl_->log)
        if (pathPart.isEmpty() || r.path.contains(pathPart)) n += r.bodyBytes;
    return n;
}

void HubTestServer::clearRequests() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->log.clear();
}

QString HubTestServer::sha256Hex(const QByteArray& content) {
    return QString::fromLatin1(QCryptographicHash::hash(content, QCryptographicHash::Sha256).toHex());
}

QString HubTestServer::gitSha1Hex(const QByteArray& content) {
    QCryptographicHash h(QCryptographicHash::Sha1);
    h.addData(QByteArray("blob ") + QByteArray::number(content.size()) + QByteArray(1, '\0'));
    h.addData(content);
    return QString::fromLatin1(h.result().toHex());
}

}  // namespace headlight::test
