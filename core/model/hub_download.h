// Downloads models from the Hugging Face hub into the standard hub cache, the way huggingface_hub
// does, so a cache filled by Python tools is reused and ours is reusable by them:
//   <cache>/models--org--name/blobs/<etag>                 the content (etag = sha256 for LFS files,
//                                                            git blob sha1 for small files)
//   <cache>/models--org--name/snapshots/<commit>/<file>     relative symlink to ../../blobs/<etag>
//   <cache>/models--org--name/refs/<revision>               the commit sha the revision pointed to
//   <cache>/.locks/models--org--name/<etag>.lock            flock()ed while a blob is downloaded
// Protocol: GET {endpoint}/api/models/{repo}/revision/{rev} (commit + file list), then per file
// HEAD {endpoint}/{repo}/resolve/{commit}/{file} (no redirects: X-Repo-Commit, X-Linked-Etag/ETag,
// X-Linked-Size/Content-Length) and GET (redirects followed; Authorization dropped when the origin
// changes). Partial data stays in blobs/<etag>.incomplete and is resumed with a Range request; every
// file is checked (size, sha256 / git sha1) before it is renamed into place.
//
// Environment (as huggingface_hub): HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (or
// HUGGING_FACE_HUB_TOKEN, or the file $HF_TOKEN_PATH / $HF_HOME/token), HF_HUB_OFFLINE=1,
// HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT (seconds, default 10). The cache root is
// hubCacheDir(). The token is sent only to the endpoint's origin and is never written or logged.
//
// Torch-free. The calls block; they run a local event loop with their own QNetworkAccessManager, so
// they work from any thread that is not the GUI thread (and from a CLI's main thread).
#pragma once

#include <cstdint>
#include <set>

#include <QByteArray>
#include <QString>
#include <QStringList>

#include "core/base/progress.h"

namespace headlight {

namespace hub {

// "org/name@revision" split up. Throws headlight::Error if `text` is not a hub id.
struct HubId {
    QString repo;                  // "gpt2", "EleutherAI/pythia-160m"
    QString revision = QStringLiteral("main");
    bool explicitRevision = false; // "@..." was given
};
HubId parseHubId(const QString& text);

struct HubSettings {
    QString endpoint;                 // no trailing slash
    QString cacheDir;                 // the hub cache root
    QByteArray token;                 // empty: anonymous. Never printed.
    QString tokenSource;              // "HF_TOKEN", "/home/u/.cache/huggingface/token", ... (for messages)
    bool offline = false;
    int metadataTimeoutMs = 10000;    // API and HEAD requests
    int downloadTimeoutMs = 10000;    // no byte received for this long during a download
    int retries = 5;                  // resumed attempts after a dropped connection / 5xx
    static HubSettings fromEnvironment();
};

// The folder models--org--name for `repo` under `cacheDir`.
QString repoCacheDir(const QString& cacheDir, const QString& repo);

// The complete snapshot of `id` in the cache (config.json and every weight file present), or an empty
// string. Makes no request.
QString findCompleteSnapshot(const HubSettings& settings, const HubId& id);

struct DownloadResult {
    QString snapshotDir;      // <cache>/models--org--name/snapshots/<commit>
    QString commit;
    QStringList files;        // the files of the snapshot that Headlight uses
    int filesDownloaded = 0;  // blobs fetched (fully or resumed)
    int64_t bytesDownloaded = 0;
};

// Asks the hub for `id`'s commit and files and fetches what the cache lacks (config.json, safetensors
// weights single or sharded, tokenizer files; never *.bin/*.h5/*.msgpack). Throws headlight::Error
// (401/403/404, unreachable host, timeout, failed verification, offline) or Cancelled.
DownloadResult downloadModel(const HubId& id, const HubSettings& settings, const Progress& progress = {});

// The hub's answer to GET /api/models/{repo}/revision/{rev}: the commit (exactly 40 lowercase hex digits)
// and the repo's file names. Throws headlight::Error naming `repo` if the answer is not usable.
struct RevisionInfo {
    QString commit;
    std::set<QString> files;
};
RevisionInfo parseRevisionInfo(const QByteArray& body, const QString& repo);

// Whether Checkpoint::open / resolveModelDir may download a hub id that is not in the cache, and
// the progress sink they report to. Off by default (library calls and tests never touch the network
// unasked); headlight-cli turns it on for every --model.
void setImplicitDownloads(bool enabled, Progress progress = {});
bool implicitDownloadsEnabled();
const Progress& implicitDownloadProgress();

}  // namespace hub

// A folder as is; a hub id from the cache when its snapshot is complete (no request), else downloaded
// (unless HF_HUB_OFFLINE is set: then an error naming what is missing and where it looked).
QString resolveOrDownloadModel(const QString& dirOrHubId, const Progress& progress = {},
                               const CancellationToken* token = nullptr);

// The cache-only lookup (no network): a folder, or a hub id's snapshot. Defined in checkpoint.cpp;
// resolveModelDir() is this, or resolveOrDownloadModel() when implicit downloads are on.
QString resolveCachedModelDir(const QString& dirOrHubId);

}  // namespace headlight
