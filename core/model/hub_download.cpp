#include "core/model/hub_download.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTimer>
#include <QUrl>
#include <nlohmann/json.hpp>

#ifdef Q_OS_UNIX
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

#include "core/base/error.h"
#include "core/base/retry_policy.h"
#include "core/io/atomic_file.h"
#include "core/model/checkpoint.h"

namespace headlight {

namespace hub {

namespace {

const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                       "vocab.json", "merges.txt", "generation_config.json"};

std::string s(const QString& q) { return q.toStdString(); }

bool envTrue(const char* name) {
    const QString v = qEnvironmentVariable(name).trimmed().toLower();
    return v == QLatin1String("1") || v == QLatin1String("true") || v == QLatin1String("yes") || v == QLatin1String("on");
}

int envSecondsMs(const char* name, int fallbackMs) {
    bool ok = false;
    const double secs = qEnvironmentVariable(name).toDouble(&ok);
    return ok && secs > 0 ? static_cast<int>(secs * 1000.0) : fallbackMs;
}

bool isHex(const QString& t, int length) {
    if (t.size() != length) return false;
    for (QChar c : t)
        if (!((c >= QLatin1Char('0') && c <= QLatin1Char('9')) || (c >= QLatin1Char('a') && c <= QLatin1Char('f')))) return false;
    return true;
}

QString mb(int64_t bytes) { return QString::number(double(bytes) / 1e6, 'f', 1) + QStringLiteral(" MB"); }

QString sameOriginKey(const QUrl& url) {
    return url.scheme().toLower() + QStringLiteral("://") + url.host().toLower() + QLatin1Char(':') +
           QString::number(url.port(url.scheme() == QLatin1String("https") ? 443 : 80));
}

bool isLoopbackHost(const QString& host) {
    if (host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0) return true;
    const QHostAddress a(host);
    return !a.isNull() && a.isLoopback();
}

// Percent-encodes a revision with no safe characters ("refs/pr/1" -> "refs%2Fpr%2F1"), like quote(safe="").
QString quoteAll(const QString& text) { return QString::fromLatin1(QUrl::toPercentEncoding(text)); }
QString quotePath(const QString& text) { return QString::fromLatin1(QUrl::toPercentEncoding(text, "/")); }

// ---------------------------------------------------------------------------------------------------
// One HTTP exchange at a time, on the calling thread, with a local event loop.

// Bodies that are kept in memory (API answers, error pages) are capped: an endless answer is an error,
// an error page is cut at 1 MB (only its first 200 characters are ever shown).
constexpr qint64 kMaxAnswerBytes = 64ll << 20;
constexpr qint64 kMaxErrorBody = 1 << 20;

struct Reply {
    int status = 0;                      // 0: no HTTP answer (see error)
    QByteArray reason;
    std::map<QByteArray, QByteArray> headers;  // lower-case names
    QByteArray body;                     // when not streamed to a sink (or not 2xx), at most 1 MB
    QUrl url;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    bool timedOut = false;
    int64_t streamed = 0;                // body bytes handed to the sink
    QByteArray header(const char* name) const {
        auto it = headers.find(QByteArray(name).toLower());
        return it == headers.end() ? QByteArray() : it->second;
    }
    bool redirect() const { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }
};

class Http {
public:
    using HeadersFn = std::function<void(const Reply&)>;
    using SinkFn = std::function<void(const char*, int64_t)>;

    Http(const HubSettings& settings, const CancellationToken* token) : settings_(settings), token_(token) {
        endpoint_ = QUrl(settings.endpoint);
        if (isLoopbackHost(endpoint_.host())) nam_.setProxy(QNetworkProxy::NoProxy);
        nam_.setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    }

    bool authFor(const QUrl& url) const {
        return !settings_.token.isEmpty() && sameOriginKey(url) == sameOriginKey(endpoint_);
    }

    // No redirects followed. `onHeaders` and `sink` see only 2xx replies.
    Reply exchange(const QByteArray& method, const QUrl& url, const QByteArray& range, int timeoutMs,
                   const HeadersFn& onHeaders = {}, const SinkFn& sink = {}) {
        if (token_) token_->throwIfCancelled();
        QNetworkRequest req(url);
        req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
        req.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
        req.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
        req.setRawHeader("User-Agent", "headlight; hf_hub-compatible");
        req.setRawHeader("Accept-Encoding", "identity");
        if (!range.isEmpty()) req.setRawHeader("Range", range);
        if (authFor(url)) req.setRawHeader("Authorization", "Bearer " + settings_.token);

        Reply r;
        r.url = url;
        QNetworkReply* reply = method == "HEAD" ? nam_.head(req) : nam_.get(req);
        reply->setReadBufferSize(0);
        QEventLoop loop;
        QTimer idle, poll;
        idle.setSingleShot(true);
        bool cancelled = false, headersDone = false;
        std::exception_ptr failure;
        auto takeHeaders = [&] {
            if (headersDone) return;
            const QVariant st = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
            if (!st.isValid()) return;
            headersDone = true;
            r.status = st.toInt();
            r.reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray();
            for (const auto& [name, value] : reply->rawHeaderPairs()) r.headers[name.toLower()] = value;
            if (r.status >= 200 && r.status < 300 && onHeaders) onHeaders(r);
        };
        auto onReady = [&] {
            if (failure || cancelled) return;
            try {
                idle.start(timeoutMs);
                takeHeaders();
                if (!headersDone) return;
                const bool stream = sink && r.status >= 200 && r.status < 300;
                char buffer[1 << 16];
                for (;;) {
                    const qint64 n = reply->read(buffer, sizeof buffer);
                    if (n <= 0) break;
                    if (stream) {
                        sink(buffer, n);
                        r.streamed += n;
                        if (token_ && token_->isCancelled()) {
                            cancelled = true;
                            reply->abort();
                            return;
                        }
                    } else if (r.body.size() < kMaxErrorBody || (!sink && r.status >= 200 && r.status < 300)) {
                        if (r.body.size() + n > kMaxAnswerBytes)
                            throw Error("hub answer from " + s(url.toDisplayString(QUrl::RemoveQuery)) + " is over " +
                                        std::to_string(kMaxAnswerBytes >> 20) + " MB (not a hub API answer?)");
                        r.body.append(buffer, n);
                    }
                }
            } catch (...) {
                failure = std::current_exception();
                reply->abort();
            }
        };
        QObject::connect(reply, &QNetworkReply::metaDataChanged, &loop, onReady);
        QObject::connect(reply, &QNetworkReply::readyRead, &loop, onReady);
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QObject::connect(&idle, &QTimer::timeout, &loop, [&] {
            r.timedOut = true;
            reply->abort();
        });
        QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
            if (token_ && token_->isCancelled()) {
                cancelled = true;
                reply->abort();
            }
        });
        idle.start(timeoutMs);
        poll.start(50);
        if (!reply->isFinished()) loop.exec(QEventLoop::ExcludeUserInputEvents);
        onReady();  // the rest of the body, or the headers of a body-less reply
        idle.stop();
        poll.stop();
        r.error = reply->error();
        r.errorString = reply->errorString();
        delete reply;
        if (failure) std::rethrow_exception(failure);
        if (cancelled) throw Cancelled();
        return r;
    }

    const HubSettings& settings() const { return settings_; }
    const QUrl& endpoint() const { return endpoint_; }

private:
    const HubSettings& settings_;
    const CancellationToken* token_;
    QUrl endpoint_;
    QNetworkAccessManager nam_;
};

// A transport failure (no HTTP status) as one line.
std::string transportError(const Reply& r, int timeoutMs) {
    const QString host = r.url.host() + (r.url.port() > 0 ? QLatin1Char(':') + QString::number(r.url.port()) : QString());
    if (r.timedOut)
        return "no answer from " + s(host) + " within " + s(QString::number(timeoutMs / 1000.0)) +
               " s (timeout; raise HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT)";
    switch (r.error) {
        case QNetworkReply::HostNotFoundError:
            return "cannot reach the Hugging Face hub: host '" + s(r.url.host()) +
                   "' not found (offline? set HF_HUB_OFFLINE=1 to use only the cache, or HF_ENDPOINT for a mirror)";
        case QNetworkReply::ConnectionRefusedError:
            return "cannot reach the Hugging Face hub: connection refused by " + s(host) +
                   " (set HF_HUB_OFFLINE=1 to use only the cache, or HF_ENDPOINT for a mirror)";
        case QNetworkReply::TimeoutError:
            return "no answer from " + s(host) + " (timeout)";
        default:
            return "network error talking to " + s(host) + ": " + s(r.errorString);
    }
}

// An HTTP error status as one line naming the model, revision or file at fault.
[[noreturn]] void throwHttpError(const Reply& r, const HubSettings& settings, const HubId& id, const QString& file) {
    const std::string model = "hub model '" + s(id.repo) + "'";
    const QByteArray code = r.header("x-error-code");
    QString serverMessage = QString::fromUtf8(r.header("x-error-message"));
    if (serverMessage.isEmpty() && r.body.startsWith('{')) {
        try {
            const auto j = nlohmann::json::parse(r.body.toStdString());
            if (j.contains("error") && j["error"].is_string()) serverMessage = QString::fromStdString(j["error"].get<std::string>());
        } catch (const nlohmann::json::exception&) {
        }
    }
    serverMessage = serverMessage.simplified().left(200);
    const std::string detail = serverMessage.isEmpty() ? "" : " (hub: " + s(serverMessage) + ")";
    const std::string what = file.isEmpty() ? "" : " file '" + s(file) + "'";
    const bool haveToken = !settings.token.isEmpty();
    if (r.status == 401) {
        if (haveToken)
            throw Error(model + ": 401 Unauthorized for" + (what.empty() ? std::string(" the repo") : what) + ": the token from " +
                        s(settings.tokenSource) + " was not accepted, or the repo does not exist" + detail);
        throw Error(model + ": 401 Unauthorized: the repo is gated or private (or does not exist); set HF_TOKEN to a token that can read it" +
                    detail);
    }
    if (r.status == 403 || code == "GatedRepo")
        throw Error(model + " is gated (" + std::to_string(r.status) + " Forbidden): request access at " + s(settings.endpoint) +
                    "/" + s(id.repo) + (haveToken ? ", then retry (the token from " + s(settings.tokenSource) + " has no access yet)"
                                                  : " and set HF_TOKEN to a token with access") + detail);
    if (r.status == 404) {
        if (code == "RevisionNotFound")
            throw Error(model + " has no revision '" + s(id.revision) + "' (404)" + detail);
        if (code == "EntryNotFound" || !file.isEmpty())
            throw Error(model + " has no" + what + " at revision '" + s(id.revision) + "' (404)" + detail);
        throw Error(model + ": no such repo or revision '" + s(id.revision) + "' on " + s(settings.endpoint) + " (404)" + detail);
    }
    throw Error(model + ":" + what + " HTTP " + std::to_string(r.status) + " " + r.reason.toStdString() + " from " +
                s(r.url.toDisplayString(QUrl::RemoveQuery)) + detail);
}

// ---------------------------------------------------------------------------------------------------
// Cache helpers

class BlobLock {
public:
    BlobLock(const QString& path, const CancellationToken* token) {
#ifdef Q_OS_UNIX
        QDir().mkpath(QFileInfo(path).absolutePath());
        fd_ = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) return;  // a read-only lock folder: go on unlocked, like a best effort
        while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (token && token->isCancelled()) {
                ::close(fd_);
                fd_ = -1;
                throw Cancelled();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
#else
        (void)path;
        (void)token;
#endif
    }
    ~BlobLock() {
#ifdef Q_OS_UNIX
        if (fd_ >= 0) {
            ::flock(fd_, LOCK_UN);
            ::close(fd_);
        }
#endif
    }
    BlobLock(const BlobLock&) = delete;
    BlobLock& operator=(const BlobLock&) = delete;

private:
    int fd_ = -1;
};

void renameOver(const QString& from, const QString& to) {
    std::error_code ec;
    std::filesystem::rename(QFile::encodeName(from).toStdString(), QFile::encodeName(to).toStdString(), ec);
    if (ec) throw Error("cannot move " + s(from) + " to " + s(to) + ": " + ec.message());
}

// snapshots/<commit>/<file> -> ../../blobs/<etag> (relative, as huggingface_hub); a copy where the
// file system has no symlinks.
void linkIntoSnapshot(const QString& blobPath, const QString& pointerPath) {
    const QFileInfo pointer(pointerPath);
    if (!QDir().mkpath(pointer.absolutePath())) throw Error("cannot create folder " + s(pointer.absolutePath()));
    const QString relative = QDir(pointer.absolutePath()).relativeFilePath(blobPath);
    const QString tmp = pointerPath + QStringLiteral(".tmp-link-") + QString::number(QCoreApplication::applicationPid());
    std::error_code ec;
    std::filesystem::remove(QFile::encodeName(tmp).toStdString(), ec);
    std::filesystem::create_symlink(QFile::encodeName(relative).toStdString(), QFile::encodeName(tmp).toStdString(), ec);
    if (ec) {
        io::writeFileAtomically(pointerPath, io::readFile(blobPath));
        return;
    }
    renameOver(tmp, pointerPath);
}

// The shard files a model.safetensors.index.json names (sorted, unique), or nullopt with the problem.
std::optional<std::vector<QString>> shardsOf(const QString& indexPath, std::string* problem = nullptr) {
    try {
        std::set<QString> files;
        for (const auto& [tensor, file] : readWeightMap(indexPath)) files.insert(QString::fromStdString(file));
        return std::vector<QString>(files.begin(), files.end());
    } catch (const Error& e) {
        if (problem) *problem = e.what();
        return std::nullopt;
    }
}

// What the snapshot folder lacks for Headlight ("" when complete).
QString snapshotMissing(const QString& snapshot, const QString& noExistDir) {
    const QDir dir(snapshot);
    if (!QFileInfo(snapshot).isDir()) return QStringLiteral("the snapshot folder");
    if (!QFileInfo(dir.filePath(QStringLiteral("config.json"))).isFile()) return QStringLiteral("config.json");
    if (!QFileInfo(dir.filePath(QStringLiteral("model.safetensors"))).isFile()) {
        const QString index = dir.filePath(QStringLiteral("model.safetensors.index.json"));
        if (!QFileInfo(index).isFile()) return QStringLiteral("model.safetensors (or model.safetensors.index.json)");
        const auto shards = shardsOf(index);
        if (!shards) return QStringLiteral("a readable model.safetensors.index.json");
        for (const QString& shard : *shards)
            if (!QFileInfo(dir.filePath(shard)).isFile()) return shard;
    }
    const bool tokenizer = QFileInfo(dir.filePath(QStringLiteral("tokenizer.json"))).isFile() ||
                           (QFileInfo(dir.filePath(QStringLiteral("vocab.json"))).isFile() &&
                            QFileInfo(dir.filePath(QStringLiteral("merges.txt"))).isFile()) ||
                           QFileInfo::exists(QDir(noExistDir).filePath(QStringLiteral("tokenizer.json")));
    if (!tokenizer) return QStringLiteral("tokenizer.json (or vocab.json + merges.txt)");
    return {};
}

// The commit `id` points to in the cache (refs/<rev>, a snapshot named <rev>, or the only snapshot).
QString cachedCommit(const QString& repoDir, const HubId& id) {
    const QString ref = QDir(repoDir).filePath(QStringLiteral("refs/") + id.revision);
    if (QFileInfo(ref).isFile()) {
        QFile f(ref);
        if (f.open(QIODevice::ReadOnly)) return QString::fromUtf8(f.readAll()).trimmed();
    }
    const QString snapshots = QDir(repoDir).filePath(QStringLiteral("snapshots"));
    if (QFileInfo(QDir(snapshots).filePath(id.revision)).isDir()) return id.revision;
    if (!id.explicitRevision) {
        const QStringList all = QDir(snapshots).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        if (all.size() == 1) return all.front();
    }
    return {};
}

std::mutex& implicitMutex() {
    static std::mutex m;
    return m;
}
struct ImplicitState {
    bool enabled = false;
    Progress progress;
};
ImplicitState& implicitState() {
    static ImplicitState state;
    return state;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

HubId parseHubId(const QString& text) {
    if (!looksLikeHubId(text)) throw Error("'" + s(text) + "' is not a Hugging Face hub id (org/name or name, optionally @revision)");
    HubId id;
    id.repo = text;
    const int at = text.indexOf(QLatin1Char('@'));
    if (at >= 0) {
        id.repo = text.left(at);
        id.revision = text.mid(at + 1);
        id.explicitRevision = true;
    }
    if (id.revision.isEmpty() || id.revision.contains(QStringLiteral("..")) || id.revision.startsWith(QLatin1Char('/')) ||
        id.revision.endsWith(QLatin1Char('/')))
        throw Error("hub id '" + s(text) + "': bad revision '" + s(id.revision) + "'");
    return id;
}

HubSettings HubSettings::fromEnvironment() {
    HubSettings st;
    st.endpoint = qEnvironmentVariable("HF_ENDPOINT").trimmed();
    if (st.endpoint.isEmpty()) st.endpoint = QStringLiteral("https://huggingface.co");
    while (st.endpoint.endsWith(QLatin1Char('/'))) st.endpoint.chop(1);
    st.cacheDir = hubCacheDir();
    st.offline = envTrue("HF_HUB_OFFLINE");
    st.metadataTimeoutMs = envSecondsMs("HF_HUB_ETAG_TIMEOUT", 10000);
    st.downloadTimeoutMs = envSecondsMs("HF_HUB_DOWNLOAD_TIMEOUT", 10000);
    for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
        const QByteArray t = qgetenv(name).trimmed();
        if (!t.isEmpty()) {
            st.token = t;
            st.tokenSource = QString::fromLatin1(name);
            return st;
        }
    }
    QString tokenPath = qEnvironmentVariable("HF_TOKEN_PATH");
    if (tokenPath.isEmpty()) tokenPath = QDir(hfHomeDir()).filePath(QStringLiteral("token"));
    QFile f(tokenPath);
    if (f.open(QIODevice::ReadOnly)) {
        st.token = f.readAll().trimmed();
        if (!st.token.isEmpty()) st.tokenSource = tokenPath;
    }
    return st;
}

QString repoCacheDir(const QString& cacheDir, const QString& repo) {
    return QDir(cacheDir).filePath(QStringLiteral("models--") + QString(repo).replace(QLatin1Char('/'), QStringLiteral("--")));
}

QString findCompleteSnapshot(const HubSettings& settings, const HubId& id) {
    const QString repoDir = repoCacheDir(settings.cacheDir, id.repo);
    const QString commit = cachedCommit(repoDir, id);
    if (commit.isEmpty() || commit.contains(QLatin1Char('/')) || commit.contains(QStringLiteral(".."))) return {};
    const QString snapshot = QDir(repoDir).filePath(QStringLiteral("snapshots/") + commit);
    if (!snapshotMissing(snapshot, QDir(repoDir).filePath(QStringLiteral(".no_exist/") + commit)).isEmpty()) return {};
    return snapshot;
}

namespace {

std::string offlineError(const HubSettings& settings, const HubId& id) {
    const QString repoDir = repoCacheDir(settings.cacheDir, id.repo);
    const std::string head = "model '" + s(id.repo) + (id.explicitRevision ? "@" + s(id.revision) : std::string()) +
                             "' is not in the Hugging Face cache and HF_HUB_OFFLINE is set: ";
    if (!QFileInfo(repoDir).isDir()) return head + "no folder " + s(repoDir);
    const QString commit = cachedCommit(repoDir, id);
    if (commit.isEmpty())
        return head + "no refs/" + s(id.revision) + " or snapshots/" + s(id.revision) + " in " + s(repoDir);
    const QString snapshot = QDir(repoDir).filePath(QStringLiteral("snapshots/") + commit);
    return head + "snapshot " + s(snapshot) + " lacks " +
           s(snapshotMissing(snapshot, QDir(repoDir).filePath(QStringLiteral(".no_exist/") + commit)));
}

struct FilePlan {
    QString name;
    QString etag;          // normalised (no W/, no quotes)
    int64_t size = -1;     // -1: unknown
    QUrl url;              // resolve/<commit>/<name>
    bool needsFetch = false;
};

}  // namespace

RevisionInfo parseRevisionInfo(const QByteArray& body, const QString& repo) {
    const std::string model = "hub model '" + s(repo) + "'";
    const nlohmann::json j = nlohmann::json::parse(body.constData(), body.constData() + body.size(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw Error(model + ": the hub's revision answer is not a JSON object");
    const auto sha = j.find("sha");
    if (sha == j.end() || !sha->is_string()) throw Error(model + ": the hub's answer has no commit 'sha'");
    RevisionInfo info;
    info.commit = QString::fromStdString(sha->get<std::string>());
    if (!isHex(info.commit, 40))
        throw Error(model + ": the hub's commit sha '" + s(info.commit.left(80)) + "' is not 40 lowercase hex digits");
    const auto siblings = j.find("siblings");
    if (siblings != j.end() && siblings->is_array())
        for (const auto& sib : *siblings)
            if (sib.is_object() && sib.contains("rfilename") && sib["rfilename"].is_string())
                info.files.insert(QString::fromStdString(sib["rfilename"].get<std::string>()));
    return info;
}

namespace {

QString normaliseEtag(QByteArray etag) {
    etag = etag.trimmed();
    if (etag.startsWith("W/")) etag = etag.mid(2);
    if (etag.size() >= 2 && etag.startsWith('"') && etag.endsWith('"')) etag = etag.mid(1, etag.size() - 2);
    return QString::fromLatin1(etag);
}

class Downloader {
public:
    Downloader(const HubId& id, const HubSettings& settings, const Progress& progress)
        : id_(id), settings_(settings), progress_(progress), http_(settings, progress.token()) {
        repoDir_ = repoCacheDir(settings.cacheDir, id.repo);
    }

    DownloadResult run() {
        progress_.report(0, 0, "asking " + s(settings_.endpoint) + " for " + s(id_.repo) + "@" + s(id_.revision));
        // 1. The commit and its file list.
        const QUrl api(settings_.endpoint + QStringLiteral("/api/models/") + quotePath(id_.repo) + QStringLiteral("/revision/") +
                       quoteAll(id_.revision));
        Reply info = metadata(api, "GET", QString());
        if (info.status != 200) throwHttpError(info, settings_, id_, {});
        const RevisionInfo revision = parseRevisionInfo(info.body, id_.repo);
        commit_ = revision.commit;
        const std::set<QString>& siblings = revision.files;
        snapshot_ = QDir(repoDir_).filePath(QStringLiteral("snapshots/") + commit_);

        // 2. Which files: config, weights, tokenizer files (never *.bin / *.h5 / *.msgpack).
        bool sharded = false;
        const std::vector<QString> wanted = wantedFiles(siblings, sharded);

        std::vector<FilePlan> plans;
        for (const QString& f : wanted) plans.push_back(plan(f));
        if (sharded) {
            // The index first (small), then its shards.
            auto it = std::find_if(plans.begin(), plans.end(), [](const FilePlan& p) { return p.name == QLatin1String("model.safetensors.index.json"); });
            fetchAll({&*it, &*it + 1});
            const QString indexPath = QDir(snapshot_).filePath(it->name);
            std::string problem;
            const auto shards = shardsOf(indexPath, &problem);
            if (!shards) throw Error("hub model '" + s(id_.repo) + "': " + problem);
            for (const QString& shard : *shards) {
                if (!siblings.count(shard))
                    throw Error("hub model '" + s(id_.repo) + "': the index names shard " + s(shard) + " but the repo has no such file");
                plans.push_back(plan(shard));
            }
        }
        std::vector<FilePlan*> todo;
        for (FilePlan& p : plans)
            if (p.needsFetch) todo.push_back(&p);
        fetchAll(todo);

        // 3. refs/<revision> and markers for the tokenizer files the revision does not have.
        writeRefAndMarkers(siblings);

        DownloadResult result;
        result.snapshotDir = snapshot_;
        result.commit = commit_;
        for (const FilePlan& p : plans) result.files << p.name;
        result.filesDownloaded = filesDownloaded_;
        result.bytesDownloaded = bytesDownloaded_;
        progress_.report(totalBytes_, totalBytes_,
                         filesDownloaded_ ? "downloaded " + s(id_.repo) + ": " + std::to_string(filesDownloaded_) + " files, " +
                                                s(mb(bytesDownloaded_))
                                          : s(id_.repo) + ": up to date in the cache");
        return result;
    }

private:
    // config.json, the weights (model.safetensors, or the index whose shards come later: `sharded`),
    // and the tokenizer files the revision has; never *.bin / *.h5 / *.msgpack.
    std::vector<QString> wantedFiles(const std::set<QString>& siblings, bool& sharded) const {
        if (!siblings.count(QStringLiteral("config.json")))
            throw Error("hub model '" + s(id_.repo) + "' has no config.json at revision '" + s(id_.revision) + "'");
        std::vector<QString> wanted = {QStringLiteral("config.json")};
        if (siblings.count(QStringLiteral("model.safetensors"))) {
            wanted.push_back(QStringLiteral("model.safetensors"));
        } else if (siblings.count(QStringLiteral("model.safetensors.index.json"))) {
            wanted.push_back(QStringLiteral("model.safetensors.index.json"));
            sharded = true;
        } else {
            QStringList others;
            for (const QString& f : siblings)
                if (f.endsWith(QLatin1String(".bin")) || f.endsWith(QLatin1String(".safetensors")) || f.endsWith(QLatin1String(".h5")))
                    others << f;
            throw Error("hub model '" + s(id_.repo) + "' has no model.safetensors or model.safetensors.index.json at revision '" +
                        s(id_.revision) + "'" + (others.isEmpty() ? std::string() : " (only " + s(others.join(QStringLiteral(", "))) + ")") +
                        "; Headlight reads safetensors");
        }
        for (const char* f : kTokenizerFiles)
            if (siblings.count(QLatin1String(f))) wanted.push_back(QLatin1String(f));
        return wanted;
    }

    // refs/<revision> -> commit, and .no_exist markers for the tokenizer files the revision does not
    // have (as huggingface_hub lays out its cache).
    void writeRefAndMarkers(const std::set<QString>& siblings) {
        if (id_.revision != commit_) {
            const QString ref = QDir(repoDir_).filePath(QStringLiteral("refs/") + id_.revision);
            QDir().mkpath(QFileInfo(ref).absolutePath());
            QString current;
            QFile f(ref);
            if (f.open(QIODevice::ReadOnly)) current = QString::fromUtf8(f.readAll()).trimmed();
            f.close();
            if (current != commit_) io::writeFileAtomically(ref, commit_.toUtf8());
        }
        for (const char* f : kTokenizerFiles) {
            if (siblings.count(QLatin1String(f))) continue;
            const QString marker = QDir(repoDir_).filePath(QStringLiteral(".no_exist/") + commit_ + QLatin1Char('/') + QLatin1String(f));
            if (QFileInfo::exists(marker)) continue;
            QDir().mkpath(QFileInfo(marker).absolutePath());
            try {
                io::writeFileAtomically(marker, QByteArray());
            } catch (const Error&) {
                // only an optimisation
            }
        }
    }

    // API / HEAD requests: relative (same-origin) redirects are followed, as huggingface_hub does.
    Reply metadata(QUrl url, const QByteArray& method, const QString& file) {
        for (int hop = 0; hop < 10; ++hop) {
            Reply r = withRetries([&] { return http_.exchange(method, url, {}, settings_.metadataTimeoutMs); },
                                  settings_.metadataTimeoutMs);
            if (!r.redirect()) return r;
            const QUrl next = url.resolved(QUrl::fromEncoded(r.header("location")));
            if (sameOriginKey(next) != sameOriginKey(url)) return r;  // e.g. the CDN: the caller reads the headers
            url = next;
        }
        throw Error("hub model '" + s(id_.repo) + "'" + (file.isEmpty() ? std::string() : ": " + s(file)) + ": too many redirects");
    }

    // The project's retry policy (core/base/retry_policy.h) with the hub's settings: `retries` more
    // attempts after the first, a short backoff (downloads resume where they stopped), Retry-After honoured.
    RetryPolicy policy(int retries) const {
        RetryPolicy p;
        p.maxAttempts = std::max(0, retries) + 1;
        p.initialBackoffMs = 200;
        p.maxBackoffMs = 2000;
        return p;
    }

    void waitBeforeRetry(const RetryPolicy& p, int attemptsMade, const Reply& r) {
        const auto retryAfter = parseRetryAfterMs(r.header("retry-after").toStdString(), QDateTime::currentMSecsSinceEpoch());
        sleepCancellable(static_cast<int>(p.delayMs(attemptsMade, retryAfter, QRandomGenerator::global()->generateDouble())));
    }

    static bool hopeless(const Reply& r) {  // no server there: another attempt will not help
        return r.status == 0 && (r.error == QNetworkReply::HostNotFoundError || r.error == QNetworkReply::ConnectionRefusedError);
    }

    // API and HEAD requests: at most two retries of a transient failure (no answer, 408/409/429/5xx).
    template <class F>
    Reply withRetries(F&& f, int timeoutMs) {
        const RetryPolicy p = policy(std::min(settings_.retries, 2));
        for (int attempts = 1;; ++attempts) {
            Reply r = f();
            const bool transient = r.status == 0 || RetryPolicy::retryableStatus(r.status);
            if (!transient || !p.mayRetry(attempts) || hopeless(r)) {
                if (r.status == 0) throw Error("hub model '" + s(id_.repo) + "': " + transportError(r, timeoutMs));
                return r;
            }
            waitBeforeRetry(p, attempts, r);
        }
    }

    void sleepCancellable(int ms) {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms) {
            progress_.throwIfCancelled();
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, ms - t.elapsed() + 1)));
        }
    }

    FilePlan plan(const QString& name) {
        progress_.throwIfCancelled();
        FilePlan p;
        p.name = name;
        p.url = QUrl(settings_.endpoint + QLatin1Char('/') + quotePath(id_.repo) + QStringLiteral("/resolve/") + quoteAll(commit_) +
                     QLatin1Char('/') + quotePath(name));
        const QString pointer = QDir(snapshot_).filePath(name);
        if (QFileInfo(pointer).isFile()) return p;  // already in this snapshot (as huggingface_hub: no request)
        progress_.report(0, 0, "checking " + s(id_.repo) + ": " + s(name));
        Reply r = metadata(p.url, "HEAD", name);
        if (!(r.status >= 200 && r.status < 300) && !r.redirect()) throwHttpError(r, settings_, id_, name);
        QByteArray etag = r.header("x-linked-etag");
        if (etag.isEmpty()) etag = r.header("etag");
        p.etag = normaliseEtag(etag);
        if (p.etag.isEmpty() || p.etag.contains(QLatin1Char('/')) || p.etag.contains(QLatin1Char('\\')) || p.etag.startsWith(QLatin1Char('.')))
            throw Error("hub model '" + s(id_.repo) + "': the hub sent no usable ETag for " + s(name) + " (a mirror that is not hub-compatible?)");
        bool ok = false;
        int64_t size = r.header("x-linked-size").toLongLong(&ok);
        if (!ok && !r.redirect()) size = r.header("content-length").toLongLong(&ok);
        p.size = ok && size >= 0 ? size : -1;
        // Only verifiable blobs: a sha256 / git sha1 ETag, or at least a known size.
        if (p.size < 0 && !isHex(p.etag, 64) && !isHex(p.etag, 40))
            throw Error("hub model '" + s(id_.repo) + "': the hub sent neither a sha256/sha1 ETag nor a size for " + s(name) +
                        ", so the download could not be verified (a mirror that is not hub-compatible?)");
        const QString blob = QDir(repoDir_).filePath(QStringLiteral("blobs/") + p.etag);
        if (QFileInfo(blob).isFile()) {
            linkIntoSnapshot(blob, pointer);  // content already cached (another revision / another tool)
            return p;
        }
        p.needsFetch = true;
        return p;
    }

    void fetchAll(const std::vector<FilePlan*>& files) {
        int64_t total = 0;
        for (const FilePlan* f : files) total += std::max<int64_t>(0, f->size);
        totalBytes_ = doneBytes_ + total;
        for (std::size_t i = 0; i < files.size(); ++i) {
            fileIndex_ = int(i) + 1;
            fileCount_ = int(files.size());
            fetch(*files[i]);
            files[i]->needsFetch = false;
        }
    }

    void report(const QString& name, int64_t fileDone, int64_t fileSize, bool force = false) {
        if (!force && reportClock_.isValid() && reportClock_.elapsed() < 100) return;
        if (!reportClock_.isValid()) reportClock_.start();
        reportClock_.restart();
        const double secs = std::max(0.001, double(rateClock_.elapsed()) / 1000.0);
        const double rate = double(sessionBytes_) / secs;
        std::string msg = "downloading " + s(id_.repo) + ": " + s(name);
        if (fileCount_ > 1) msg += " (" + std::to_string(fileIndex_) + "/" + std::to_string(fileCount_) + ")";
        msg += " " + s(mb(fileDone)) + (fileSize >= 0 ? " of " + s(mb(fileSize)) : std::string());
        if (sessionBytes_ > 0) msg += ", " + s(mb(int64_t(rate))) + "/s";
        progress_.report(doneBytes_ + fileDone, std::max(totalBytes_, doneBytes_ + fileDone), msg);
    }

    // One file: under the blob's lock, a resumable download into blobs/<etag>.incomplete (retried per
    // the policy), verified (size, sha256 / git sha1), placed as blobs/<etag>, linked into the snapshot.
    void fetch(FilePlan& p) {
        const QString blobs = QDir(repoDir_).filePath(QStringLiteral("blobs"));
        if (!QDir().mkpath(blobs)) throw Error("cannot create folder " + s(blobs));
        const QString blob = QDir(blobs).filePath(p.etag);
        const QString incomplete = blob + QStringLiteral(".incomplete");
        BlobLock lock(QDir(settings_.cacheDir).filePath(QStringLiteral(".locks/") + QFileInfo(repoDir_).fileName() + QLatin1Char('/') +
                                                        p.etag + QStringLiteral(".lock")),
                      progress_.token());
        if (!QFileInfo(blob).isFile()) {
            if (!rateClock_.isValid()) rateClock_.start();
            Transfer t(p.etag);
            download(p, incomplete, t);
            verify(p, incomplete, t);
            renameOver(incomplete, blob);
            ++filesDownloaded_;
        }
        linkIntoSnapshot(blob, QDir(snapshot_).filePath(p.name));
        doneBytes_ += std::max<int64_t>(0, p.size);
        report(p.name, 0, -1, true);
    }

    // What one blob's download knows: how it is verified, how far it got, the running hash.
    struct Transfer {
        enum Algo { Sha256, GitSha1, SizeOnly };
        explicit Transfer(const QString& etag) : algo(isHex(etag, 64) ? Sha256 : isHex(etag, 40) ? GitSha1 : SizeOnly) {}
        Algo algo;
        int64_t offset = 0, written = 0, expectedTotal = -1;
        std::unique_ptr<QCryptographicHash> hash;  // empty: hashed from disk when verifying (or SizeOnly)
        void startHash(int64_t total) {
            hash.reset();
            if (algo == Sha256) {
                hash = std::make_unique<QCryptographicHash>(QCryptographicHash::Sha256);
            } else if (algo == GitSha1 && total >= 0) {
                hash = std::make_unique<QCryptographicHash>(QCryptographicHash::Sha1);
                hash->addData(QByteArray("blob ") + QByteArray::number(qlonglong(total)) + QByteArray(1, '\0'));
            }
        }
        void hashFile(QFile& file, int64_t bytes) const {  // the first `bytes` of the file into the hash
            file.seek(0);
            for (int64_t left = bytes; left > 0;) {
                const QByteArray chunk = file.read(std::min<int64_t>(left, 1 << 20));
                if (chunk.isEmpty()) throw Error("cannot read " + s(file.fileName()) + ": " + s(file.errorString()));
                hash->addData(chunk);
                left -= chunk.size();
            }
        }
    };

    // Resumable GET attempts until the file is whole; a dropped connection, a timeout or a transient
    // status resumes from the bytes kept (HTTP Range), up to the policy's attempts.
    void download(const FilePlan& p, const QString& incomplete, Transfer& t) {
        const std::string where = "hub model '" + s(id_.repo) + "': " + s(p.name);
        const RetryPolicy retry = policy(settings_.retries);
        bool rangeRefused = false;
        for (int attempts = 1;; ++attempts) {
            progress_.throwIfCancelled();
            QFile file(incomplete);
            if (!file.open(QIODevice::ReadWrite)) throw Error("cannot write " + s(incomplete) + ": " + s(file.errorString()));
            t.offset = rangeRefused || (p.size >= 0 && file.size() > p.size) ? 0 : file.size();
            if (t.offset == 0 && file.size() > 0) file.resize(0);
            t.written = t.offset;
            t.expectedTotal = p.size;
            t.hash.reset();
            if (p.size >= 0 && t.offset == p.size && t.offset > 0) return;  // complete from an earlier run
            const Reply r = getOnce(p, file, t, where);
            file.flush();
            if (r.status == 416 && !rangeRefused) {  // the partial file does not fit the server's: start over
                rangeRefused = true;
                file.resize(0);
                continue;
            }
            if (r.status != 0 && !(r.status >= 200 && r.status < 300) && !RetryPolicy::retryableStatus(r.status)) {
                file.close();
                throwHttpError(r, settings_, id_, p.name);
            }
            bool ok = false;
            const int64_t len = r.header("content-length").toLongLong(&ok);
            const bool shortBody = r.status >= 200 && r.status < 300 &&
                                   ((ok && r.streamed < len) || (t.expectedTotal >= 0 && t.written < t.expectedTotal));
            if (!(r.status == 0 || RetryPolicy::retryableStatus(r.status) || r.error != QNetworkReply::NoError || shortBody)) return;
            file.close();
            if (retry.mayRetry(attempts) && !hopeless(r)) {
                report(p.name, t.written, t.expectedTotal, true);
                waitBeforeRetry(retry, attempts, r);
                continue;
            }
            const std::string why = RetryPolicy::retryableStatus(r.status) ? "HTTP " + std::to_string(r.status)
                                    : (r.status == 0 && t.written == t.offset) || r.timedOut ? transportError(r, settings_.downloadTimeoutMs)
                                                                                             : "connection closed";
            throw Error(where + ": download interrupted after " + std::to_string(t.written) +
                        (t.expectedTotal >= 0 ? " of " + std::to_string(t.expectedTotal) : std::string()) + " bytes (" + why +
                        "); the partial file " + s(incomplete) + " is kept: run again to resume");
        }
    }

    // One GET from t.offset, appending to `file` and hashing as the bytes arrive.
    Reply getOnce(const FilePlan& p, QFile& file, Transfer& t, const std::string& where) {
        auto onHeaders = [&](const Reply& h) {
            int64_t total = -1;
            if (h.status == 206) {
                static const QRegularExpression re(QStringLiteral("^bytes (\\d+)-(\\d+)/(\\d+|\\*)$"));
                const auto m = re.match(QString::fromLatin1(h.header("content-range")).trimmed());
                if (!m.hasMatch()) throw Error(where + ": the server's partial answer has no valid Content-Range");
                const int64_t start = m.captured(1).toLongLong();
                if (m.captured(3) != QLatin1String("*")) total = m.captured(3).toLongLong();
                if (start != t.offset)
                    throw Error(where + ": the server resumed at byte " + std::to_string(start) + ", not " + std::to_string(t.offset));
            } else {  // 200: the whole file (a server that ignores Range): start over
                bool ok = false;
                const int64_t len = h.header("content-length").toLongLong(&ok);
                if (ok) total = len;
                t.offset = 0;
            }
            if (total >= 0 && p.size >= 0 && total != p.size)
                throw Error(where + ": the server sends " + std::to_string(total) + " bytes but the hub reported " + std::to_string(p.size));
            if (t.expectedTotal < 0) t.expectedTotal = total;
            if (!file.resize(t.offset) || !file.seek(t.offset)) throw Error("cannot write " + s(file.fileName()) + ": " + s(file.errorString()));
            t.written = t.offset;
            t.startHash(t.expectedTotal);
            if (t.hash && t.offset > 0) {  // the bytes kept from before
                t.hashFile(file, t.offset);
                file.seek(t.offset);
            }
        };
        auto sink = [&](const char* data, int64_t n) {
            io::writeAll(file, data, n, file.fileName());
            if (t.hash) t.hash->addData(QByteArrayView(data, n));
            t.written += n;
            sessionBytes_ += n;
            bytesDownloaded_ += n;
            if (t.written > (t.expectedTotal >= 0 ? t.expectedTotal : INT64_MAX))
                throw Error(where + ": the server sends more than the " + std::to_string(t.expectedTotal) + " bytes announced");
            report(p.name, t.written, t.expectedTotal);
        };
        return getFollowing(p.url, t.offset > 0 ? "bytes=" + QByteArray::number(qlonglong(t.offset)) + "-" : QByteArray(), onHeaders, sink);
    }

    // Size and checksum; a mismatch deletes the partial file (it cannot be resumed into a good one).
    void verify(const FilePlan& p, const QString& incomplete, Transfer& t) {
        const std::string where = "hub model '" + s(id_.repo) + "': " + s(p.name);
        if (p.size >= 0 && t.written != p.size) {
            QFile::remove(incomplete);
            throw Error(where + ": size mismatch: expected " + std::to_string(p.size) + " bytes, got " + std::to_string(t.written) +
                        " (the partial file was deleted)");
        }
        if (!t.hash && t.algo != Transfer::SizeOnly) {  // resumed a complete file or size unknown up front: hash from disk
            QFile file(incomplete);
            if (!file.open(QIODevice::ReadOnly)) throw Error("cannot read " + s(incomplete) + ": " + s(file.errorString()));
            t.startHash(t.written);
            t.hashFile(file, t.written);
        }
        if (!t.hash) return;
        const QString actual = QString::fromLatin1(t.hash->result().toHex());
        if (actual != p.etag) {
            QFile::remove(incomplete);
            throw Error(where + ": checksum mismatch: expected " + std::string(t.algo == Transfer::Sha256 ? "sha256 " : "git sha1 ") +
                        s(p.etag) + ", got " + s(actual) + " (the partial file was deleted)");
        }
    }

    // GET, following every redirect; Authorization only while on the endpoint's origin.
    Reply getFollowing(QUrl url, const QByteArray& range, const Http::HeadersFn& onHeaders, const Http::SinkFn& sink) {
        for (int hop = 0; hop < 10; ++hop) {
            Reply r = http_.exchange("GET", url, range, settings_.downloadTimeoutMs, onHeaders, sink);
            if (!r.redirect()) return r;
            const QByteArray location = r.header("location");
            if (location.isEmpty()) return r;
            url = url.resolved(QUrl::fromEncoded(location));
        }
        throw Error("hub model '" + s(id_.repo) + "': too many redirects for " + s(url.toDisplayString(QUrl::RemoveQuery)));
    }

    HubId id_;
    const HubSettings& settings_;
    Progress progress_;
    Http http_;
    QString repoDir_, commit_, snapshot_;
    int filesDownloaded_ = 0, fileIndex_ = 0, fileCount_ = 0;
    int64_t bytesDownloaded_ = 0, sessionBytes_ = 0, totalBytes_ = 0, doneBytes_ = 0;
    QElapsedTimer reportClock_, rateClock_;
};

}  // namespace

DownloadResult downloadModel(const HubId& id, const HubSettings& settings, const Progress& progress) {
    if (settings.offline) {
        DownloadResult r;
        r.snapshotDir = findCompleteSnapshot(settings, id);
        if (r.snapshotDir.isEmpty()) throw Error(offlineError(settings, id));
        r.commit = QFileInfo(r.snapshotDir).fileName();
        return r;
    }
    const QUrl endpoint(settings.endpoint);
    if (!endpoint.isValid() || (endpoint.scheme() != QLatin1String("https") && endpoint.scheme() != QLatin1String("http")) ||
        endpoint.host().isEmpty())
        throw Error("HF_ENDPOINT '" + s(settings.endpoint) + "' is not an http(s) URL");
    Downloader d(id, settings, progress);
    return d.run();
}

void setImplicitDownloads(bool enabled, Progress progress) {
    std::lock_guard<std::mutex> lock(implicitMutex());
    implicitState().enabled = enabled;
    implicitState().progress = std::move(progress);
}

bool implicitDownloadsEnabled() {
    std::lock_guard<std::mutex> lock(implicitMutex());
    return implicitState().enabled;
}

const Progress& implicitDownloadProgress() { return implicitState().progress; }

}  // namespace hub

QString resolveOrDownloadModel(const QString& dirOrHubId, const Progress& progress, const CancellationToken* token) {
    if (dirOrHubId.isEmpty()) throw Error("no model given");
    const QFileInfo info(dirOrHubId);
    if (info.exists() || !looksLikeHubId(dirOrHubId)) return resolveCachedModelDir(dirOrHubId);
    const hub::HubSettings settings = hub::HubSettings::fromEnvironment();
    const hub::HubId id = hub::parseHubId(dirOrHubId);
    const QString cached = hub::findCompleteSnapshot(settings, id);
    if (!cached.isEmpty()) return cached;
    if (settings.offline) throw Error(hub::offlineError(settings, id));
    const CancellationToken* t = token ? token : progress.token();
    const Progress p([&progress](int64_t done, int64_t total, const std::string& message) { progress.report(done, total, message); }, t);
    return hub::downloadModel(id, settings, p).snapshotDir;
}

}  // namespace headlight
