#include "core/llm/llm_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <QByteArray>
#include <QDateTime>
#include <QHostAddress>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QThread>
#include <QTimer>
#include <QUrl>

#include "core/base/thread_mailbox.h"
#include "core/base/error.h"
#include "core/llm/prompts.h"

namespace headlight::llm {

using nlohmann::json;
using nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------------------
// Small pieces

namespace {

constexpr int64_t kMaxReportedTokens = 1000000000000LL;  // 10^12: sums of millions of replies stay in int64

// `bytes` as one line of valid UTF-8 (invalid sequences become U+FFFD), at most `limit` bytes of it.
std::string excerpt(const QByteArray& bytes, int limit = 300) {
    QString s = QString::fromUtf8(bytes.left(limit));
    for (QChar& c : s)
        if (c.unicode() < 0x20) c = QLatin1Char(' ');
    std::string out = s.toStdString();
    if (bytes.size() > limit) out += "...";
    return out;
}
std::string excerpt(const std::string& text, int limit = 300) {
    return excerpt(QByteArray::fromRawData(text.data(), static_cast<int>(std::min<std::size_t>(text.size(), INT32_MAX))), limit);
}

// The server's error message: {"error": {"message": ...}} (OpenAI) or the start of the body.
std::string serverMessage(const QByteArray& body) {
    const json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_object() && j.contains("error")) {
        const json& e = j["error"];
        if (e.is_object() && e.contains("message") && e["message"].is_string()) return excerpt(e["message"].get<std::string>(), 1000);
        if (e.is_string()) return excerpt(e.get<std::string>(), 1000);
    }
    if (j.is_object() && j.contains("message") && j["message"].is_string()) return excerpt(j["message"].get<std::string>(), 1000);
    return excerpt(body);
}

std::string stringField(const json& object, const char* key) {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return {};
    return object[key].get<std::string>();
}

int64_t tokenField(const json& usage, const char* key) {
    if (!usage.is_object() || !usage.contains(key)) return 0;
    const json& v = usage[key];
    if (v.is_number_unsigned()) return clampTokens(static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), kMaxReportedTokens)));
    if (v.is_number_integer()) return clampTokens(v.get<int64_t>());
    return 0;
}

bool containsText(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// A reply with no usable answer: why, and whether another attempt may give one.
ParsedReply noAnswer(const std::string& finishReason, const std::string& what) {
    ParsedReply out;
    const bool exhausted = finishReason == "length";
    out.retryable = !exhausted && finishReason != "content_filter";
    out.problem = exhausted ? what + ": max_tokens ran out before an answer (finish_reason length)"
                            : what + (finishReason.empty() ? std::string() : " (finish_reason " + excerpt(finishReason, 40) + ")");
    return out;
}

}  // namespace

int64_t clampTokens(int64_t reported) { return std::clamp<int64_t>(reported, 0, kMaxReportedTokens); }

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

ordered_json chatBody(const std::string& model, const ChatRequest& request, const RequestDialect& dialect) {
    ordered_json body;
    body["model"] = model;
    ordered_json messages = ordered_json::array();
    for (const ChatMessage& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
    body[dialect.maxCompletionTokens ? "max_completion_tokens" : "max_tokens"] = request.maxTokens;
    if (request.temperature && !dialect.omitTemperature) body["temperature"] = *request.temperature;
    if (request.topLogprobs > 0 && !dialect.omitLogprobs) {
        body["logprobs"] = true;
        body["top_logprobs"] = request.topLogprobs;
    }
    return body;
}

std::string parametersJson(const ChatRequest& request, const RequestDialect& dialect) {
    ordered_json body = chatBody(std::string(), request, dialect);
    body.erase("model");
    body.erase("messages");
    return body.dump();
}

ordered_json LlmClient::requestBody(const ChatRequest& request) const { return chatBody(endpoint().model, request); }

ParsedReply parseChatReply(const std::string& body) {
    ParsedReply out;
    out.retryable = true;
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
        out.problem = "the reply is not valid JSON: " + excerpt(body);
        return out;
    }
    if (j.is_object() && j.contains("error") && !j["error"].is_null() && !j.contains("choices")) {
        out.problem = "the server answered with an error object: " + serverMessage(QByteArray::fromStdString(body));
        return out;
    }
    const json* choice = nullptr;
    if (j.is_object() && j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) choice = &j["choices"][0];
    const json* message = choice && choice->is_object() && choice->contains("message") ? &(*choice)["message"] : nullptr;
    if (!message || !message->is_object() || !message->contains("content")) {
        out.problem = "the reply has no choices[0].message.content: " + excerpt(body);
        return out;
    }
    const std::string finishReason = stringField(*choice, "finish_reason");
    if (const std::string refusal = stringField(*message, "refusal"); !refusal.empty()) {
        out.retryable = false;
        out.problem = "the model refused: " + excerpt(refusal, 1000);
        return out;
    }
    const json& content = (*message)["content"];
    if (!content.is_string()) return noAnswer(finishReason, content.is_null() ? "the reply's content is null" : "the reply's content is not text");
    ChatResponse r;
    r.content = content.get<std::string>();
    r.reasoning = stringField(*message, "reasoning_content");
    if (r.reasoning.empty()) r.reasoning = stringField(*message, "reasoning");
    if (stripReasoning(r.content).empty()) return noAnswer(finishReason, "the reply holds no answer (empty after removing reasoning)");
    r.finishReason = finishReason;
    r.model = stringField(j, "model");
    r.firstTokenLogprobs = firstAnswerTokenLogprobs(*choice);
    if (j.contains("usage")) {
        r.usage.promptTokens = tokenField(j["usage"], "prompt_tokens");
        r.usage.completionTokens = tokenField(j["usage"], "completion_tokens");
    }
    out.response = std::move(r);
    out.retryable = false;
    return out;
}

std::string unsupportedParameter(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    std::string param, code, message;
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
        param = stringField(j["error"], "param");
        code = stringField(j["error"], "code");
        message = stringField(j["error"], "message");
    } else {
        message = body.substr(0, 4000);
    }
    message = QString::fromStdString(message).toLower().toStdString();
    if (containsText(param, "logprobs") || containsText(message, "logprobs")) return "logprobs";
    const bool unsupported = containsText(code, "unsupported") || containsText(message, "unsupported") ||
                             containsText(message, "not supported") || containsText(message, "does not support");
    if (!unsupported) return {};
    for (const char* name : {"max_tokens", "temperature"})
        if (param == name) return name;
    for (const char* name : {"max_tokens", "temperature"})
        if (param.empty() && containsText(message, name)) return name;
    return {};
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
// How far Qt's HTTP layer may read a reply ahead of the worker.
constexpr qint64 kReadBuffer = 256 * 1024;

struct Pending {
    ChatRequest request;
    LlmClient::Callback done;
    const CancellationToken* token = nullptr;
    int attempts = 0;
    int manager = -1;
    QNetworkReply* reply = nullptr;
    QTimer* timeout = nullptr;
    QTimer* backoff = nullptr;
    bool timedOut = false;
    bool tooLarge = false;
    bool adaptedMaxTokens = false;    // resent once with max_completion_tokens
    bool adaptedTemperature = false;  // resent once without temperature
    bool adaptedLogprobs = false;     // resent once without logprobs
    int adaptations = 0;              // attempts that only changed the form (not counted as retries)
    std::string sentParameters;       // of the last attempt
    QByteArray body;                  // the reply body read so far (at most maxReplyBytes)
    std::string modelNotFound;        // set while /models is asked after a 404: the message so far
};
using PendingPtr = std::shared_ptr<Pending>;

// What one finished HTTP exchange gave.
struct Exchange {
    QByteArray body;
    int status = 0;
    QString reason;
    QNetworkReply::NetworkError netError = QNetworkReply::NoError;
    QString netErrorString;
    QByteArray retryAfter;
    qint64 declaredLength = -1;
};

Exchange readExchange(QNetworkReply* reply, QByteArray bodySoFar) {
    Exchange x;
    x.body = std::move(bodySoFar);
    if (reply->isOpen()) x.body += reply->readAll();
    const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    x.status = status.isValid() ? status.toInt() : 0;
    x.reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
    x.netError = reply->error();
    x.netErrorString = reply->errorString();
    x.retryAfter = reply->rawHeader("Retry-After");
    const QVariant length = reply->header(QNetworkRequest::ContentLengthHeader);
    if (length.isValid()) x.declaredLength = length.toLongLong();
    return x;
}

// The model ids of a /models answer ({"data": [{"id": ...}, ...]}), at most 30.
std::vector<std::string> modelIds(const QByteArray& body) {
    std::vector<std::string> ids;
    const json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) return ids;
    for (const json& m : j["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string() && ids.size() < 30) ids.push_back(excerpt(m["id"].get<std::string>(), 100));
    return ids;
}

// What the servers taught this process about their parameters, per (URL, model): a client made later
// for the same endpoint (step 5 after step 4) starts with it. `settled`: a reply other than a 400
// "unsupported parameter" came back, so the form is known.
struct LearnedForm {
    RequestDialect dialect;
    bool settled = false;
};
std::mutex gDialectMutex;
std::map<std::string, LearnedForm>& learnedForms() {
    static std::map<std::string, LearnedForm> forms;
    return forms;
}

}  // namespace

class OpenAiChatClient::Worker : public ThreadMailbox {
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
        {
            std::lock_guard<std::mutex> lock(gDialectMutex);
            const LearnedForm& form = learnedForms()[dialectKey()];
            dialect_ = form.dialect;
            settled_ = form.settled;
        }
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
        all.insert(all.end(), waiting_.begin(), waiting_.end());
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
        // Until the endpoint's parameter form is known, one request at a time: a server that refuses
        // max_tokens / temperature then answers one 400 each, not one per request in flight.
        const int slots = settled_ ? std::max(1, options_.concurrency) : 1;
        while (!queue_.empty() && static_cast<int>(active_.size()) < slots) {
            PendingPtr p = queue_.front();
            queue_.pop_front();
            if (p->token && p->token->isCancelled()) {
                finishError(p, std::make_exception_ptr(Cancelled()), true);
                continue;
            }
            active_.insert(p);
            send(p);
        }
        if (!active_.empty() || !queue_.empty() || !waiting_.empty()) {
            if (!poll_->isActive()) poll_->start();
        } else {
            poll_->stop();
        }
        pumping_ = false;
    }

    QNetworkRequest networkRequest(const QUrl& url) const {
        QNetworkRequest req(url);
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        req.setRawHeader("Accept", "application/json");
        if (!endpoint_.apiKey.empty())
            req.setRawHeader("Authorization", QByteArray("Bearer ") + QByteArray::fromStdString(endpoint_.apiKey));
        if (!endpoint_.organization.empty())
            req.setRawHeader("OpenAI-Organization", QByteArray::fromStdString(endpoint_.organization));
        // HTTP/2 (one multiplexed connection) over TLS; plain http stays HTTP/1.1 (no h2c upgrade).
        req.setAttribute(QNetworkRequest::Http2AllowedAttribute, url.scheme() == QLatin1String("https"));
        return req;
    }

    void send(const PendingPtr& p) {
        p->attempts++;
        {
            std::lock_guard<std::mutex> lock(statsMutex_);
            stats_.attempts++;
            if (p->attempts > 1) stats_.retries++;
        }
        // The body as this endpoint takes it (what the 400 replies taught), built for each attempt.
        const QByteArray body = QByteArray::fromStdString(
            chatBody(endpoint_.model, p->request, dialect_).dump(-1, ' ', false, json::error_handler_t::replace));
        p->sentParameters = parametersJson(p->request, dialect_);
        start(p, url_, &body);
    }

    // Starts a POST of `body` (or a GET when null) to `url` for `p`, with its timeout and body cap.
    void start(const PendingPtr& p, const QUrl& url, const QByteArray* body) {
        p->timedOut = false;
        p->tooLarge = false;
        int best = 0;
        for (int i = 1; i < static_cast<int>(managers_.size()); ++i)
            if (load_[i] < load_[best]) best = i;
        p->manager = best;
        load_[best]++;
        QNetworkReply* reply = body ? managers_[best]->post(networkRequest(url), *body) : managers_[best]->get(networkRequest(url));
        p->reply = reply;
        p->body.clear();
        // A body past the cap is refused as it arrives, never buffered whole: Qt reads at most
        // kReadBuffer ahead of us (backpressure), and we keep at most the cap.
        reply->setReadBufferSize(kReadBuffer);
        QObject::connect(reply, &QNetworkReply::finished, this, [this, p] { onFinished(p); });
        QObject::connect(reply, &QNetworkReply::readyRead, this, [this, p] {
            if (!p->reply) return;
            const qint64 declared = p->reply->header(QNetworkRequest::ContentLengthHeader).toLongLong();
            p->body += p->reply->read(std::max<qint64>(0, options_.maxReplyBytes + 1 - p->body.size()));
            if (p->body.size() > options_.maxReplyBytes || declared > options_.maxReplyBytes) {
                p->tooLarge = true;
                p->body.clear();
                p->reply->abort();
            }
        });
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

    std::string dialectKey() const { return endpoint_.chatUrl() + "\n" + endpoint_.model; }

    std::string where() const { return "LLM request to " + endpoint_.chatUrl() + " (model " + endpoint_.model + ")"; }

    void onFinished(const PendingPtr& p) {
        QNetworkReply* reply = p->reply;
        if (!reply) return;
        const bool timedOut = p->timedOut, tooLarge = p->tooLarge;
        const Exchange x = readExchange(reply, std::move(p->body));
        p->body.clear();
        releaseReply(p);
        if (p->token && p->token->isCancelled()) {
            finishError(p, std::make_exception_ptr(Cancelled()), true);
            return;
        }
        if (!p->modelNotFound.empty()) {
            failModelNotFound(p, x, timedOut || tooLarge);
            return;
        }
        if (x.status == 400 && adapt(p, unsupportedParameter(x.body.toStdString()))) {
            send(p);  // at once, in the form the server takes
            return;
        }
        settle();
        if (tooLarge) {
            failFinal(p, where() + ": the reply body is larger than " + std::to_string(options_.maxReplyBytes >> 20) +
                             " MiB (" + std::to_string(options_.maxReplyBytes) + " bytes); refused");
            return;
        }
        if (timedOut) {
            retryOrFail(p, where() + ": no complete reply within " + QString::number(options_.timeoutMs / 1000.0).toStdString() + " s (timeout)", {});
            return;
        }
        if (x.status >= 200 && x.status < 300) {
            if (x.netError != QNetworkReply::NoError || (x.declaredLength >= 0 && x.body.size() < x.declaredLength)) {
                retryOrFail(p, where() + ": reply body truncated (got " + std::to_string(x.body.size()) + " of " +
                                   (x.declaredLength >= 0 ? std::to_string(x.declaredLength) : std::string("?")) +
                                   " bytes: " + x.netErrorString.toStdString() + ")", {});
                return;
            }
            parseAndFinish(p, x.body);
            return;
        }
        if (x.status > 0) {
            onHttpError(p, x);
            return;
        }
        // No HTTP status: a transport failure.
        switch (x.netError) {
            case QNetworkReply::HostNotFoundError:
            case QNetworkReply::ConnectionRefusedError:
            case QNetworkReply::ProtocolUnknownError:
            case QNetworkReply::SslHandshakeFailedError:
            case QNetworkReply::ProtocolInvalidOperationError:
                failFinal(p, where() + ": " + x.netErrorString.toStdString());
                return;
            default:
                retryOrFail(p, where() + ": " + x.netErrorString.toStdString(), {});
        }
    }

    void onHttpError(const PendingPtr& p, const Exchange& x) {
        const std::string message = where() + ": HTTP " + std::to_string(x.status) +
                                    (x.reason.isEmpty() ? std::string() : " " + x.reason.toStdString()) + ": " +
                                    serverMessage(x.body);
        if (RetryPolicy::retryableStatus(x.status)) {
            std::optional<int64_t> after;
            if (!x.retryAfter.isEmpty()) after = parseRetryAfterMs(x.retryAfter.toStdString(), QDateTime::currentMSecsSinceEpoch());
            retryOrFail(p, message, after);
            return;
        }
        if (x.status == 404) {
            // Ask the server which models it has, then fail with the list.
            p->modelNotFound = message + " (model '" + endpoint_.model + "' not found at " + endpoint_.chatUrl() + ")";
            QString base = QString::fromStdString(endpoint_.chatUrl());
            base.chop(int(std::string("/chat/completions").size()));
            start(p, QUrl(base + QStringLiteral("/models")), nullptr);
            return;
        }
        failFinal(p, message + (x.status == 401 ? " (check the API key: OPENAI_API_KEY)" : ""));
    }

    // A 400 "unsupported parameter": true when the request may go again in the form the server takes
    // (once per parameter and request); the form is kept for every later request of this endpoint.
    bool adapt(const PendingPtr& p, const std::string& parameter) {
        if (!learn(p, parameter)) return false;
        std::lock_guard<std::mutex> lock(gDialectMutex);
        learnedForms()[dialectKey()].dialect = dialect_;
        return true;
    }
    // Any other reply (or transport failure): the form is known; the other requests may start.
    void settle() {
        if (settled_) return;
        settled_ = true;
        {
            std::lock_guard<std::mutex> lock(gDialectMutex);
            learnedForms()[dialectKey()] = {dialect_, true};
        }
        pump();
    }
    bool learn(const PendingPtr& p, const std::string& parameter) {
        if (parameter == "max_tokens" && !p->adaptedMaxTokens) {
            p->adaptedMaxTokens = true;
            p->adaptations++;
            dialect_.maxCompletionTokens = true;
            return true;
        }
        if (parameter == "temperature" && p->request.temperature && !p->adaptedTemperature) {
            p->adaptedTemperature = true;
            p->adaptations++;
            dialect_.omitTemperature = true;
            return true;
        }
        if (parameter == "logprobs" && p->request.topLogprobs > 0 && !p->adaptedLogprobs) {
            p->adaptedLogprobs = true;
            p->adaptations++;
            dialect_.omitLogprobs = true;
            return true;
        }
        return false;
    }

    void failModelNotFound(const PendingPtr& p, const Exchange& x, bool incomplete) {
        std::string message = std::move(p->modelNotFound);
        p->modelNotFound.clear();
        const std::vector<std::string> ids = incomplete || x.status != 200 ? std::vector<std::string>{} : modelIds(x.body);
        if (ids.empty()) {
            message += "; check the base URL and the model name";
        } else {
            message += "; the server offers:";
            for (std::size_t i = 0; i < ids.size(); ++i) message += (i ? ", " : " ") + ids[i];
        }
        failFinal(p, message);
    }

    void parseAndFinish(const PendingPtr& p, const QByteArray& body) {
        ParsedReply parsed = parseChatReply(body.toStdString());
        if (!parsed.response) {
            if (parsed.retryable)
                retryOrFail(p, where() + ": " + parsed.problem, {});
            else
                failFinal(p, where() + ": " + parsed.problem);
            return;
        }
        ChatResponse r = std::move(*parsed.response);
        if (r.model.empty()) r.model = endpoint_.model;
        r.parameters = p->sentParameters;
        r.cost = priceOf(r.usage, endpoint_);
        r.attempts = p->attempts;
        {
            std::lock_guard<std::mutex> lock(statsMutex_);
            stats_.usage.promptTokens += r.usage.promptTokens;  // each at most 10^12: no overflow
            stats_.usage.completionTokens += r.usage.completionTokens;
            stats_.cost += r.cost;
        }
        ChatOutcome outcome;
        outcome.response = std::move(r);
        finish(p, std::move(outcome));
    }

    // Another attempt after the policy's delay, or the final error. While it waits the request holds
    // no concurrency slot: the other requests go on (a Retry-After pauses this request only).
    void retryOrFail(const PendingPtr& p, const std::string& message, std::optional<int64_t> retryAfterMs) {
        if (!options_.retry.mayRetry(p->attempts - p->adaptations)) {
            failFinal(p, message + " (gave up after " + std::to_string(p->attempts) + " attempts)");
            return;
        }
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        const int64_t delay = options_.retry.delayMs(p->attempts - p->adaptations, retryAfterMs, unit(rng_));
        active_.erase(p);
        waiting_.insert(p);
        p->backoff = new QTimer(this);
        p->backoff->setSingleShot(true);
        QObject::connect(p->backoff, &QTimer::timeout, this, [this, p] {
            p->backoff->deleteLater();
            p->backoff = nullptr;
            waiting_.erase(p);
            if (shuttingDown_) return;
            queue_.push_front(p);  // before the requests that never started
            pump();
        });
        p->backoff->start(static_cast<int>(std::clamp<int64_t>(delay, 0, INT32_MAX)));
        pump();
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
        waiting_.erase(p);
        LlmClient::Callback done = std::move(p->done);
        p->done = nullptr;
        if (done) done(std::move(outcome));
        pump();
    }

    void pollCancellation() {
        std::vector<PendingPtr> cancelled;
        for (const auto* set : {&active_, &waiting_})
            for (const PendingPtr& p : *set)
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
    std::deque<PendingPtr> queue_;   // not started yet (retries waiting no more go first)
    std::set<PendingPtr> active_;    // in flight: hold a concurrency slot
    std::set<PendingPtr> waiting_;   // waiting for their backoff / Retry-After: hold none
    QTimer* poll_ = nullptr;
    RequestDialect dialect_;         // how this endpoint takes the parameters (learned from 400 replies)
    bool settled_ = false;           // a reply came back that was not a 400 "unsupported parameter"
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
    worker->call([worker] { worker->start(); });
}

OpenAiChatClient::~OpenAiChatClient() {
    Worker* worker = impl_->worker;
    worker->call([worker] { worker->shutdown(); });
    impl_->thread.quit();
    impl_->thread.wait();
}

void OpenAiChatClient::submit(const ChatRequest& request, Callback done, const CancellationToken* token) {
    auto p = std::make_shared<Pending>();
    p->request = request;
    p->done = std::move(done);
    p->token = token;
    {
        std::lock_guard<std::mutex> lock(impl_->statsMutex);
        impl_->stats.requests++;
    }
    Worker* worker = impl_->worker;
    worker->post([worker, p] { worker->enqueue(p); });
}

OpenAiChatClient::Stats OpenAiChatClient::stats() const {
    std::lock_guard<std::mutex> lock(impl_->statsMutex);
    return impl_->stats;
}

}  // namespace headlight::llm
