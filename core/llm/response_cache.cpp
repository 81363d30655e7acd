#include "core/llm/response_cache.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "core/base/error.h"
#include "core/io/atomic_file.h"
#include "core/llm/prompts.h"

namespace headlight::llm {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string compact(const ordered_json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

ResponseCache::ResponseCache(QString directory)
    : directory_(directory.isEmpty() ? defaultDirectory() : std::move(directory)) {}

QString ResponseCache::defaultDirectory() {
    QString base = QString::fromLocal8Bit(qgetenv("XDG_CACHE_HOME"));
    if (base.isEmpty()) base = QStandardPaths::writableLocation(QStandardPaths::GenericCacheLocation);
    if (base.isEmpty()) base = QDir::homePath() + QStringLiteral("/.cache");
    return QDir(base).filePath(QStringLiteral("headlight/llm"));
}

std::string ResponseCache::keyOf(const std::string& url, const ordered_json& body) {
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(QByteArray::fromStdString(url));
    hash.addData(QByteArrayView("\n", 1));
    hash.addData(QByteArray::fromStdString(compact(body)));
    return hash.result().toHex().toStdString();
}

QString ResponseCache::pathOf(const std::string& key) const {
    const QString k = QString::fromStdString(key);
    return QDir(directory_).filePath(k.left(2) + QLatin1Char('/') + k + QStringLiteral(".json"));
}

std::optional<ChatResponse> ResponseCache::find(const std::string& key, const std::string& url,
                                                const ordered_json& body) const {
    QFile file(pathOf(key));
    if (!file.open(QIODevice::ReadOnly)) return std::nullopt;
    const QByteArray bytes = file.readAll();
    try {
        const ordered_json j = ordered_json::parse(bytes.toStdString());
        if (j.at("key").get<std::string>() != key || j.at("url").get<std::string>() != url) return std::nullopt;
        if (compact(j.at("request")) != compact(body)) return std::nullopt;
        const ordered_json& r = j.at("response");
        ChatResponse out;
        out.content = r.at("content").get<std::string>();
        if (stripReasoning(out.content).empty()) return std::nullopt;  // no answer: never a hit
        out.reasoning = r.value("reasoning", std::string());
        out.parameters = r.value("parameters", std::string());
        out.model = r.value("model", std::string());
        out.finishReason = r.value("finish_reason", std::string());
        out.usage.promptTokens = clampTokens(r.value("prompt_tokens", int64_t(0)));
        out.usage.completionTokens = clampTokens(r.value("completion_tokens", int64_t(0)));
        out.cost = r.value("cost", 0.0);
        if (r.contains("first_token_logprobs") && r["first_token_logprobs"].is_array()) {
            out.firstTokenLogprobs.emplace();
            for (const auto& c : r["first_token_logprobs"])
                out.firstTokenLogprobs->push_back({c.at(0).get<std::string>(), c.at(1).get<double>()});
        }
        out.cached = true;
        out.attempts = 0;
        return out;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

void ResponseCache::store(const std::string& key, const std::string& url, const ordered_json& body,
                          const ChatResponse& response) const {
    const QString path = pathOf(key);
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        throw Error("cannot create the LLM cache folder " + QFileInfo(path).absolutePath().toStdString());
    ordered_json j;
    j["key"] = key;
    j["url"] = url;
    j["request"] = body;
    j["response"] = {{"content", response.content},
                     {"reasoning", response.reasoning},
                     {"parameters", response.parameters},
                     {"model", response.model},
                     {"finish_reason", response.finishReason},
                     {"prompt_tokens", response.usage.promptTokens},
                     {"completion_tokens", response.usage.completionTokens},
                     {"cost", response.cost}};
    if (response.firstTokenLogprobs) {
        ordered_json candidates = ordered_json::array();
        for (const TokenLogprob& c : *response.firstTokenLogprobs) candidates.push_back({c.token, c.logprob});
        j["response"]["first_token_logprobs"] = std::move(candidates);
    }
    j["created_at"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString();
    io::writeFileAtomically(path, QByteArray::fromStdString(j.dump(1, ' ', false, json::error_handler_t::replace)));
}

CachedLlmClient::CachedLlmClient(std::shared_ptr<LlmClient> inner, std::shared_ptr<ResponseCache> cache)
    : storePool_(std::make_unique<QThreadPool>()), cache_(std::move(cache)), inner_(std::move(inner)) {
    storePool_->setMaxThreadCount(4);
}

CachedLlmClient::~CachedLlmClient() {
    inner_.reset();  // fails what is still pending; replies that arrived are stored below
    storePool_->waitForDone();
}

void CachedLlmClient::noteStoreFailure(const std::string& message) {
    std::lock_guard<std::mutex> lock(storeErrorMutex_);
    if (storeFailures_++ == 0) firstStoreError_ = message;
}

std::string CachedLlmClient::firstStoreError() const {
    std::lock_guard<std::mutex> lock(storeErrorMutex_);
    return firstStoreError_;
}

void CachedLlmClient::submit(const ChatRequest& request, Callback done, const CancellationToken* token) {
    const std::string url = inner_->endpoint().chatUrl();
    const ordered_json body = requestBody(request);
    const std::string key = ResponseCache::keyOf(url, body);
    if (std::optional<ChatResponse> hit = cache_->find(key, url, body)) {
        ++hits_;
        ChatOutcome outcome;
        outcome.response = std::move(*hit);
        done(std::move(outcome));
        return;
    }
    ++misses_;
    auto cache = cache_;
    QThreadPool* pool = storePool_.get();
    inner_->submit(request, [this, pool, cache, key, url, body, done = std::move(done)](ChatOutcome outcome) mutable {
        if (!outcome.ok() || stripReasoning(outcome.response.content).empty()) {  // no answer: not cached
            done(std::move(outcome));
            return;
        }
        // Store first, then deliver: a reply the caller has seen is in the cache (a rerun after an
        // interruption does not pay for it again).
        pool->start([this, cache, key, url, body, done = std::move(done), outcome = std::move(outcome)]() mutable {
            try {
                cache->store(key, url, body, outcome.response);
            } catch (const std::exception& e) {
                noteStoreFailure(e.what());
            }
            done(std::move(outcome));
        });
    }, token);
}

}  // namespace headlight::llm
