// A Hugging Face hub look-alike on 127.0.0.1 for the download tests: the hub port serves
//   GET  /api/models/{repo}/revision/{rev}        {"id", "sha", "siblings": [{"rfilename"}]}
//   HEAD/GET /{repo}/resolve/{rev}/{file}         small files: 200, ETag = git blob sha1;
//                                                 *.safetensors (LFS): 302 to the CDN port with
//                                                 X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
// and the "CDN" port (a second origin) serves HEAD/GET /blobs/{sha256} with Range (206). Each side
// runs in a thread of its own (blocking sockets, one request per connection), so the client may
// block its thread (QProcess::waitForFinished). Knobs: a required token (401 without it), a server
// that ignores Range, a connection dropped after N body bytes, corrupted content.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace headlight::test {

struct HubRequest {
    QByteArray server;                           // "hub" or "cdn"
    QByteArray method, path;                     // "GET", "/api/models/org/name/revision/main"
    std::map<std::string, std::string> headers;  // lower-case names
    int status = 0;
    int64_t bodyBytes = 0;                       // body bytes sent
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class HubTestServer {
public:
    HubTestServer();
    ~HubTestServer();
    HubTestServer(const HubTestServer&) = delete;
    HubTestServer& operator=(const HubTestServer&) = delete;

    QString endpoint() const;  // "http://127.0.0.1:PORT" (the hub)
    QString cdnOrigin() const; // "http://127.0.0.1:PORT2"

    // A commit of `repo` with `files`; each of `revisions` (branches/tags) points to it.
    void addCommit(const QString& repo, const QString& commit, const std::map<QString, QByteArray>& files,
                   const QStringList& revisions = {QStringLiteral("main")});

    void setRequiredToken(const QByteArray& token);  // empty: anonymous access
    void setIgnoreRange(bool ignore);                // answer 200 with the whole file to Range requests
    // The next `times` GETs of `file` (by name) close the connection after `bytes` body bytes.
    void setDropAfter(const QString& file, int64_t bytes, int times = 1);
    void setCorrupt(const QString& file, bool corrupt);  // flip a byte of the content served (ETag unchanged)
    void setEndlessApi(bool endless);  // the API answer never ends (200, no length, spaces forever)
    void setUnverifiable(const QString& file, bool unverifiable);  // non-hash ETag and no size on HEAD

    std::vector<HubRequest> requests() const;
    int countRequests(const QByteArray& method = {}, const QByteArray& pathPart = {}) const;
    int64_t bodyBytesSent(const QByteArray& pathPart = {}) const;
    void clearRequests();

    static QString sha256Hex(const QByteArray& content);
    static QString gitSha1Hex(const QByteArray& content);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace headlight::test
