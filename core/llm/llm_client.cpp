#include "core/llm/llm_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>

#include <QByteArray>
#include <QDateTime>
#include <QHostAddress>
#include <QLocale>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QThread>
#include <QTimeZone>
#include <QTimer>
#include <QUrl>

#include "core/base/error.h"

namespace headlight::llm {

using nlohmann::json;
using nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------------------
// Small pieces

std::string ChatOutcome::errorMessage() const {
    if (!error) return {};
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

std::string Endpoint::chatUrl() const {
    std::string base = baseUrl;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/chat/completions";
}

void Endpoint::takeKeyFromEnvironment() {
    const QByteArray key = qgetenv("OPENAI_API_KEY");
    if (!key.isEmpty()) apiKey = key.toStdString();
    if (organization.empty()) {
        QByteArray org = qgetenv("OPENAI_ORG_ID");
        if (org.isEmpty()) org = qgetenv("OPENAI_ORGANIZATION");
        organization = org.toStdString();
    }
}

double priceOf(const Usage& usage, const Endpoint& e) {
    return (double(usage.promptTokens) * e.promptPricePerMillion +
            double(usage.completionTokens) * e.completionPricePerMillion) / 1e6;
}

std::optional<int64_t> parseRetryAfterMs(const std::string& raw, int64_t nowMs) {
    const QString value = QString::fromStdString(raw).trimmed();
    if (value.isEmpty()) return std::nullopt;
    bool ok = false;
    const double seconds = value.toDouble(&ok);
    if (ok) {
        if (!std::isfinite(seconds) || seconds < 0) return std::nullopt;
        return static_cast<int64_t>(std::llround(std::min(seconds, 1e9) * 1000.0));
    }
    // HTTP date (RFC 7231 IMF-fixdate), e.g. "Wed, 21 Oct 2015 07:28:00 GMT"; also RFC 2822 forms.
    QDateTime when = QLocale::c().toDateTime(value, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
    if (when.isValid()) {
        when.setTimeZone(QTimeZone::utc());
    } else {
        when = QDateTime::fromString(value, Qt::RFC2822Date);
    }
    if (!when.isValid()) return std::nullopt;
    return std::max<int64_t>(0, when.toMSecsSinceEpoch() - nowMs);
}

ordered_json LlmClient::requestBody(const ChatRequest& request) const {
    ordered_json body;
    body["model"] = endpoint().model;
    ordered_json messages = ordered_json::array();
    for (const ChatMessage& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
    body["max_tokens"] = request.maxTokens;
    if (request.temperature) body["temperature"] = *request.temperature;
    return body;
}

std::future<ChatResponse> LlmClient::request(const ChatRequest& request, const CancellationToken* token) {
    auto promise = std::make_shared<std::promise<ChatResponse>>();
    std::future<ChatResponse> future = promise->get_future();
    submit(request, [promise](ChatOutcome outcome) {
        if (outcome.error)
            promise->set_exception(outcome.error);
        else
            promise->set_value(std::move(outcome.response));
    }, token);
    return future;
}

std::vector<ChatOutcome> LlmClient::runAll(const std::vector<ChatRequest>& requests, const Progress& progress,
                                           const std::string& what) {
    struct Shared {
        std::mutex mutex;
        std::condition_variable changed;
        std::vector<ChatOutcome> outcomes;
        int64_t done = 0;
    };
    auto shared = std::make_shared<Shared>();
    shared->outcomes.resize(requests.size());
    // Our own token: cancelled when the caller's progress is, so the client drops what is pending.
    // (Each callback holds it: it outlives this call, as submit() requires.)
    auto token = std::make_shared<CancellationToken>();
    const int64_t total = static_cast<int64_t>(requests.size());
    progress.report(0, total, what);
    for (std::size_t i = 0; i < requests.size(); ++i) {
        submit(requests[i], [shared, i, token](ChatOutcome outcome) {
            std::lock_guard<std::mutex> lock(shared->mutex);
            shared->outcomes[i] = std::move(outcome);
            ++shared->done;
            shared->changed.notify_all();
        }, token.get());
    }
    std::unique_lock<std::mutex> lock(shared->mutex);
    int64_t reported = 0;
    while (shared->done < total) {
        shared->changed.wait_for(lock, std::chrono::milliseconds(50));
        if (progress.isCancelled()) {
            // The client drops what is queued or in flight; the callbacks keep `shared` and `token` alive.
            token->cancel();
            throw Cancelled();
        }
        if (shared->done != reported) {
            reported = shared->done;
            lock.unlock();
            progress.report(reported, total, what);
            lock.lock();
        }
    }
    return std::move(shared->outcomes);
}

// ---------------------------------------------------------------------------------------------------------
// OpenAiChatClient: a worker QObject in a QThread owns the QNetworkAccessManagers and every reply.

namespace {

// Qt's HTTP/1.1 backend opens at most 6 connections per host and manager; more managers give more.
constexpr int kConnectionsPerManager = 6;

struct Pending {
    ChatRequest request;
    QByteArray body;
    LlmClient::Callback done;
    const CancellationToken* token = nullptr;
    int attempts = 0;
    int manager = -1;
    QNetworkReply* reply = nullptr;
    QTimer* timeout = nullptr;
    QTimer* backoff = nullptr;
    bool timedOut = false;
};
using PendingPtr = std::shared_ptr<Pending>;

std::string truncateForMessage(const QByteArray& body, int limit = 300) {
    std::string s = body.left(limit).toStdString();
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    if (body.size() > limit) s += "...";
    return s;
}

// The server's error message: {"error": {"message": ...}} (OpenAI) or the start of the body.
std::string serverMessage(const QByteArray& body) {
    try {
        const json j = json::parse(body.toStdString());
        if (j.is_object() && j.contains("error")) {
            const json& e = j["error"];
            if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
            if (e.is_string()) return e.get<std::string>();
        }
        if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
    } catch (const json::exception&) {
    }
    return truncateForMessage(body);
}

}  // namespace

class OpenAiChatClient::Worker : public QObject {
public:
    Worker(const Endpoint& endpoint, const ClientOptions& options, OpenAiChatClient::Stats& stats, std::mutex& statsMutex)
        : endpoint_(endpoint), options_(options), stats_(stats), statsMutex_(statsMutex),
          url_(QUrl(QString::fromStdString(endpoint.chatUrl()))), rng_(std::random_device{}()) {}

    // Runs in the worker thread.
    void start() {
        const int managers = std::max(1, (options_.concurrency + kConnectionsPerManager - 1) / kConnectionsPerManager);
        const QHostAddress host(url_.host());
        const bool loopback = url_.host() == QLatin1String("localhost") || (!host.isNull() && host.isLoopback());
        for (int i = 0; i < managers; ++i) {
            auto* m = new QNetworkAccessManager(this);
            if (loopback) m->setProxy(QNetworkProxy::NoProxy);
            m->setRedirectPolicy(QNetworkRequest::NoLessSafeRedirectPolicy);
            managers_.push_back(m);
            load_.push_back(0);
        }
        resume_ = new QTimer(this);
        resume_->setSingleShot(true);
        QObject::connect(resume_, &QTimer::timeout, this, [this] { pump(); });
        poll_ = new QTimer(this);
        poll_->setInterval(50);
        QObject::connect(poll_, &QTimer::timeout, this, [this] { pollCancellation(); });
    }

    void enqueue(PendingPtr p) {
        queue_.push_back(std::move(p));
        pump();
    }

    // Fails everything still pending; runs in the worker thread before it stops.
    void shutdown() {
        shuttingDown_ = true;
        std::vector<PendingPtr> all(active_.begin(), active_.end());
        all.insert(all.end(), queue_.begin(), queue_.end());
        queue_.clear();
        for (const PendingPtr& p : all) finishError(p, std::make_exception_ptr(Error("LLM client was shut down")), false);
        for (QNetworkAccessManager* m : managers_) delete m;
        managers_.clear();
    }

private:
    void pump() {
        if (shuttingDown_ || pumping_) return;  // finish() inside the loop below must not recurse
        pumping_ = true;
        pumpOnce();
        pumping_ = false;
    }

    void pumpOnce() {
        // After a Retry-After, no new request starts before the server said (they would be refused too).
        const int64_t now = QDateTime::currentMSecsSinceEpoch();
        if (now < pausedUntilMs_ && !queue_.empty()) {
            if (!resume_->isActive()) resume_->start(static_cast<int>(pausedUntilMs_ - now) + 1);
            if (!poll_->isActive()) poll_->start();
            return;
        }
        while (!queue_.empty() && static_cast<int>(active_.size()) < std::max(1, options_.concurrency)) {
            PendingPtr p = queue_.front();
            queue_.pop_front();
            if (p->token && p->token->isCancelled()) {
                finishError(p, std::make_exception_ptr(Cancelled()), true);
                continue;
            }
            active_.insert(p);
            send(p);
        }
        if (!active_.empty() || !queue_.empty()) {
            if (!poll_->isActive()) poll_->start();
        } else {
            poll_->stop();
        }
    }

    void send(const PendingPtr& p) {
        p->attempts++;
        p->timedOut = false;
        {
            std::lock_guard<std::mutex> lock(statsMutex_);
            stats_.attempts++;
            if (p->attempts > 1) stats_.retries++;
        }
        QNetworkRequest req(url_);
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        req.setRawHeader("Accept", "application/json");
        if (!endpoint_.apiKey.empty())
            req.setRawHeader("Authorization", QByteArray("Bearer ") + QByteArray::fromStdString(endpoint_.apiKey));
        if (!endpoint_.organization.empty())
            req.setRawHeader("OpenAI-Organization", QByteArray::fromStdString(endpoint_.organization));
        // HTTP/2 (one multiplexed connection) over TLS; plain http stays HTTP/1.1 (no h2c upgrade).
        req.setAttribute(QNetworkRequest::Http2AllowedAttribute, url_.scheme() == QLatin1String("https"));
        int best = 0;
        for (int i = 1; i < static_cast<int>(managers_.size()); ++i)
            if (load_[i] < load_[best]) best = i;
        p->manager = best;
        load_[best]++;
        QNetworkReply* reply = managers_[best]->post(req, p->body);
        p->reply = reply;
        QObject::connect(reply, &QNetworkReply::finished, this, [this, p] { onFinished(p); });
        p->timeout = new QTimer(this);
        p->timeout->setSingleShot(true);
        QObject::connect(p->timeout, &QTimer::timeout, this, [p] {
            p->timedOut = true;
            if (p->reply) p->reply->abort();
        });
        p->timeout->start(std::max(1, options_.timeoutMs));
    }

    void releaseReply(const PendingPtr& p) {
        if (p->timeout) {
            p->timeout->stop();
            p->timeout->deleteLater();
            p->timeout = nullptr;
        }
        if (p->reply) {
            QObject::disconnect(p->reply, nullptr, this, nullptr);
            p->reply->deleteLater();
            p->reply = nullptr;
            if (p->manager >= 0) load_[p->manager]--;
            p->manager = -1;
        }
    }

    void onFinished(const PendingPtr& p) {
        QNetworkReply* reply = p->reply;
        if (!reply) return;
        const QByteArray body = reply->isOpen() ? reply->readAll() : QByteArray();
        const QVariant statusVar = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        const int status = statusVar.isValid() ? statusVar.toInt() : 0;
        const QString reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
        const QNetworkReply::NetworkError netError = reply->error();
        const QString netErrorString = reply->errorString();
        const QByteArray retryAfter = reply->rawHeader("Retry-After");
        const qint64 declaredLength = reply->header(QNetworkRequest::ContentLengthHeader).isValid()
                                          ? reply->header(QNetworkRequest::ContentLengthHeader).toLongLong()
                                          : -1;
        const bool timedOut = p->timedOut;
        releaseReply(p);
        const std::string where = "LLM request to " + endpoint_.chatUrl() + " (model " + endpoint_.model + ")";

        if (p->token && p->token->isCancelled()) {
            finishError(p, std::make_exception_ptr(Cancelled()), true);
            return;
        }
        if (timedOut) {
            retryOrFail(p, where + ": no complete reply within " + QString::number(options_.timeoutMs / 1000.0).toStdString() + " s (timeout)", {});
            return;
        }
        if (status >= 200 && status < 300) {
            if (netError != QNetworkReply::NoError || (declaredLength >= 0 && body.size() < declaredLength)) {
                retryOrFail(p, where + ": reply body truncated (got " + std::to_string(body.size()) + " of " +
                                   (declaredLength >= 0 ? std::to_string(declaredLength) : std::string("?")) +
                                   " bytes: " + netErrorString.toStdString() + ")", {});
                return;
            }
            parseAndFinish(p, body, where);
            return;
        }
        if (status > 0) {
            const std::string message = where + ": HTTP " + std::to_string(status) +
                                        (reason.isEmpty() ? std::string() : " " + reason.toStdString()) + ": " +
                                        serverMessage(body);
            const bool retryable = status == 408 || status == 409 || status == 429 || status >= 500;
            if (retryable) {
                std::optional<int64_t> after;
                if (!retryAfter.isEmpty())
                    after = parseRetryAfterMs(retryAfter.toStdString(), QDateTime::currentMSecsSinceEpoch());
                retryOrFail(p, message, after);
            } else {
                std::string hint;
                if (status == 401) hint = " (check the API key: OPENAI_API_KEY)";
                if (status == 404) hint = " (check the base URL and the model name)";
                failFinal(p, message + hint);
            }
            return;
        }
        // No HTTP status: a transport failure.
        switch (netError) {
            case QNetworkReply::HostNotFoundError:
            case QNetworkReply::ConnectionRefusedError:
            case QNetworkReply::ProtocolUnknownError:
            case QNetworkReply::SslHandshakeFailedError:
            case QNetworkReply::ProtocolInvalidOperationError:
                failFinal(p, where + ": " + netErrorString.toStdString());
                return;
            default:
                retryOrFail(p, where + ": " + netErrorString.toStdString(), {});
        }
    }

    void parseAndFinish(const PendingPtr& p, const QByteArray& body, const std::string& where) {
        json j;
        try {
            j = json::parse(body.toStdString());
        } catch (const json::exception&) {
            failFinal(p, where + ": the reply is not valid JSON: " + truncateForMessage(body));
            return;
        }
        ChatResponse r;
        try {
            const json& choice = j.at("choices").at(0);
            const json& content = choice.at("message").at("content");
            r.content = content.is_null() ? std::string() : content.get<std::string>();
            if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
                r.finishReason = choice["finish_reason"].get<std::string>();
            if (j.contains("model") && j["model"].is_string()) r.model = j["model"].get<std::string>();
            if (j.contains("usage") && j["usage"].is_object()) {
                const json& u = j["usage"];
                if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
                    r.usage.promptTokens = u["prompt_tokens"].get<int64_t>();
                if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
                    r.usage.completionTokens = u["completion_tokens"].get<int64_t>();
            }
        } catch (const json::exception&) {
            failFinal(p, where + ": the reply has no choices[0].message.content: " + truncateForMessage(body));
            return;
        }
        if (r.model.empty()) r.model = endpoint_.model;
        r.cost = priceOf(r.usage, endpoint_);
        r.attempts = p->attempts;
        {
            std::lock_guard<std::mutex> lock(statsMutex_);
            stats_.usage.promptTokens += r.usage.promptTokens;
            stats_.usage.completionTokens += r.usage.completionTokens;
            stats_.cost += r.cost;
        }
        ChatOutcome outcome;
        outcome.response = std::move(r);
        finish(p, std::move(outcome));
    }

    void retryOrFail(const PendingPtr& p, const std::string& message, std::optional<int64_t> retryAfterMs) {
        if (p->attempts >= std::max(1, options_.maxAttempts)) {
            failFinal(p, message + " (gave up after " + std::to_string(p->attempts) + " attempts)");
            return;
        }
        int64_t delay;
        if (retryAfterMs) {
            // As the server says, plus up to 10 % so that the waiting requests do not all return at once.
            delay = std::min<int64_t>(*retryAfterMs, options_.maxRetryAfterMs);
            std::uniform_real_distribution<double> jitter(0.0, 0.1);
            delay += static_cast<int64_t>(double(delay) * jitter(rng_));
            pausedUntilMs_ = std::max<int64_t>(pausedUntilMs_, QDateTime::currentMSecsSinceEpoch() +
                                                          std::min<int64_t>(*retryAfterMs, options_.maxRetryAfterMs));
        } else {
            const double base = std::min<double>(options_.maxBackoffMs,
                                                 double(options_.initialBackoffMs) * std::pow(2.0, p->attempts - 1));
            std::uniform_real_distribution<double> jitter(0.5, 1.0);
            delay = static_cast<int64_t>(base * jitter(rng_));
        }
        p->backoff = new QTimer(this);
        p->backoff->setSingleShot(true);
        QObject::connect(p->backoff, &QTimer::timeout, this, [this, p] {
            p->backoff->deleteLater();
            p->backoff = nullptr;
            if (shuttingDown_) return;
            if (p->token && p->token->isCancelled()) {
                finishError(p, std::make_exception_ptr(Cancelled()), true);
                return;
            }
            send(p);
        });
        p->backoff->start(static_cast<int>(std::max<int64_t>(0, delay)));
    }

    void failFinal(const PendingPtr& p, const std::string& message) {
        finishError(p, std::make_exception_ptr(Error(scrub(message))), false);
    }

    // A server may echo the key in its message: it never leaves the client.
    std::string scrub(std::string message) const {
        const std::string& key = endpoint_.apiKey;
        if (key.size() < 4) return message;
        for (std::size_t at; (at = message.find(key)) != std::string::npos;) message.replace(at, key.size(), "[API key]");
        return message;
    }

    void finishError(const PendingPtr& p, std::exception_ptr error, bool cancelled) {
        if (!cancelled) {
            std::lock_guard<std::mutex> lock(statsMutex_);
            stats_.failures++;
        }
        ChatOutcome outcome;
        outcome.error = std::move(error);
        finish(p, std::move(outcome));
    }

    void finish(const PendingPtr& p, ChatOutcome outcome) {
        releaseReply(p);
        if (p->backoff) {
            p->backoff->stop();
            p->backoff->deleteLater();
            p->backoff = nullptr;
        }
        active_.erase(p);
        LlmClient::Callback done = std::move(p->done);
        p->done = nullptr;
        if (done) done(std::move(outcome));
        pump();
    }

    void pollCancellation() {
        std::vector<PendingPtr> cancelled;
        for (const PendingPtr& p : active_)
            if (p->token && p->token->isCancelled()) cancelled.push_back(p);
        for (auto it = queue_.begin(); it != queue_.end();) {
            if ((*it)->token && (*it)->token->isCancelled()) {
                cancelled.push_back(*it);
                it = queue_.erase(it);
            } else {
                ++it;
            }
        }
        for (const PendingPtr& p : cancelled) finishError(p, std::make_exception_ptr(Cancelled()), true);
    }

    const Endpoint& endpoint_;
    const ClientOptions& options_;
    OpenAiChatClient::Stats& stats_;
    std::mutex& statsMutex_;
    QUrl url_;
    std::mt19937_64 rng_;
    std::vector<QNetworkAccessManager*> managers_;
    std::vector<int> load_;
    std::deque<PendingPtr> queue_;
    std::set<PendingPtr> active_;
    QTimer* poll_ = nullptr;
    QTimer* resume_ = nullptr;       // restarts pump() when a Retry-After pause ends
    int64_t pausedUntilMs_ = 0;      // no new request starts before this (ms since epoch)
    bool pumping_ = false;
    bool shuttingDown_ = false;
};

struct OpenAiChatClient::Impl {
    QThread thread;
    Worker* worker = nullptr;
    mutable std::mutex statsMutex;
    Stats stats;
};

OpenAiChatClient::OpenAiChatClient(Endpoint endpoint, ClientOptions options)
    : endpoint_(std::move(endpoint)), options_(options), impl_(std::make_unique<Impl>()) {
    if (endpoint_.model.empty()) throw Error("LLM endpoint " + endpoint_.baseUrl + ": no model name given");
    const QUrl url(QString::fromStdString(endpoint_.chatUrl()));
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")))
        throw Error("LLM base URL '" + endpoint_.baseUrl + "' is not an http(s) URL");
    if (options_.concurrency < 1) options_.concurrency = 1;
    impl_->thread.setObjectName(QStringLiteral("headlight-llm"));
    impl_->worker = new Worker(endpoint_, options_, impl_->stats, impl_->statsMutex);
    impl_->worker->moveToThread(&impl_->thread);
    QObject::connect(&impl_->thread, &QThread::finished, impl_->worker, &QObject::deleteLater);
    impl_->thread.start();
    Worker* worker = impl_->worker;
    QMetaObject::invokeMethod(worker, [worker] { worker->start(); }, Qt::BlockingQueuedConnection);
}

OpenAiChatClient::~OpenAiChatClient() {
    Worker* worker = impl_->worker;
    QMetaObject::invokeMethod(worker, [worker] { worker->shutdown(); }, Qt::BlockingQueuedConnection);
    impl_->thread.quit();
    impl_->thread.wait();
}

void OpenAiChatClient::submit(const ChatRequest& request, Callback done, const CancellationToken* token) {
    auto p = std::make_shared<Pending>();
    p->request = request;
    p->body = QByteArray::fromStdString(requestBody(request).dump(-1, ' ', false, json::error_handler_t::replace));
    p->done = std::move(done);
    p->token = token;
    {
        std::lock_guard<std::mutex> lock(impl_->statsMutex);
        impl_->stats.requests++;
    }
    Worker* worker = impl_->worker;
    QMetaObject::invokeMethod(worker, [worker, p] { worker->enqueue(p); }, Qt::QueuedConnection);
}

OpenAiChatClient::Stats OpenAiChatClient::stats() const {
    std::lock_guard<std::mutex> lock(impl_->statsMutex);
    return impl_->stats;
}

}  // namespace headlight::llm
