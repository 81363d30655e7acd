#include "tests/llm_test_server.h"

#include "core/base/thread_mailbox.h"

#include <atomic>

#include <QHostAddress>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#endif

namespace headlight::test {

std::string ReceivedRequest::lastUserMessage() const {
    std::string out;
    if (json.is_object() && json.contains("messages") && json["messages"].is_array())
        for (const auto& m : json["messages"])
            if (m.value("role", std::string()) == "user") out = m.value("content", std::string());
    return out;
}

ServerAction ServerAction::ok(std::string content, int latencyMs) {
    ServerAction a;
    a.content = std::move(content);
    a.latencyMs = latencyMs;
    return a;
}

ServerAction ServerAction::error(int status, const std::string& message, std::vector<std::pair<QByteArray, QByteArray>> headers) {
    ServerAction a;
    a.status = status;
    a.body = QByteArray::fromStdString(nlohmann::json{{"error", {{"message", message}, {"type", "test"}}}}.dump());
    a.headers = std::move(headers);
    return a;
}

ServerAction ServerAction::of(Kind kind, int latencyMs) {
    ServerAction a;
    a.kind = kind;
    a.latencyMs = latencyMs;
    return a;
}

ServerAction ServerAction::withLogprobs(std::string content, Logprobs format, std::vector<std::pair<std::string, double>> candidates) {
    ServerAction a = ok(std::move(content));
    a.logprobs = format;
    a.candidates = std::move(candidates);
    return a;
}

namespace {

std::vector<int> utf8Bytes(const std::string& s) { return std::vector<int>(s.begin(), s.end()); }

// choices[0].logprobs as each server family writes it (one answer token):
//   OpenAI (platform.openai.com/docs/api-reference/chat/object): {"content": [{"token": "Yes",
//     "logprob": -0.31, "bytes": [89, 101, 115], "top_logprobs": [{"token", "logprob", "bytes"}, ...]}],
//     "refusal": null}
//   vLLM (vllm/entrypoints/openai/protocol.py: ChatCompletionLogProbsContent(ChatCompletionLogProb):
//     token, logprob = -9999.0, bytes, top_logprobs: list[ChatCompletionLogProb]): the same shape,
//     with a -9999.0 alternative added here
//   vLLM 0.3 (PR #2918, its first chat logprobs): the legacy Completions shape, SentencePiece tokens:
//     {"content": null, "text_offset": [0], "token_logprobs": [-0.31], "tokens": ["▁Yes"],
//      "top_logprobs": [{"▁Yes": -0.31, "▁No": -1.6}]}
//   llama.cpp server (tools/server: probs_vector_to_json): {"content": [{"id": 7414, "token": " Yes",
//     "bytes": [...], "logprob": -0.31, "top_logprobs": [{"id", "token", "bytes", "logprob"}]}]}, the
//     float lowest (-3.4028234663852886e+38) for a zero probability
nlohmann::json logprobsJson(ServerAction::Logprobs format, const std::vector<std::pair<std::string, double>>& candidates) {
    using nlohmann::json;
    using F = ServerAction::Logprobs;
    if (candidates.empty()) return json();
    if (format == F::VllmLegacy) {
        json top = json::object();
        for (const auto& [token, lp] : candidates) top[token] = lp;
        return {{"content", nullptr}, {"text_offset", {0}}, {"token_logprobs", {candidates[0].second}},
                {"tokens", {candidates[0].first}}, {"top_logprobs", json::array({top})}};
    }
    auto entry = [&](const std::string& token, double lp, int id) {
        json e = {{"token", token}, {"logprob", lp}, {"bytes", utf8Bytes(token)}};
        if (format == F::LlamaCpp) e["id"] = id;
        return e;
    };
    json top = json::array();
    for (std::size_t i = 0; i < candidates.size(); ++i) top.push_back(entry(candidates[i].first, candidates[i].second, 7000 + int(i)));
    if (format == F::Vllm) top.push_back(entry("Perhaps", -9999.0, 0));
    if (format == F::LlamaCpp) top.push_back(entry("Maybe", -3.4028234663852886e+38, 42));
    json first = entry(candidates[0].first, candidates[0].second, 7000);
    first["top_logprobs"] = top;
    json out = {{"content", json::array({first})}};
    if (format == F::OpenAi) out["refusal"] = nullptr;
    return out;
}

QByteArray reasonPhrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

}  // namespace

struct LlmTestServer::Impl {
    QThread thread;
    ThreadMailbox* context = nullptr;   // lives in `thread`; parent of the server
    QTcpServer* server = nullptr;  // lives in `thread`
    quint16 port = 0;
    mutable std::mutex mutex;
    Handler handler;
    std::vector<ReceivedRequest> received;
    int inFlight = 0, maxInFlight = 0;
    std::atomic<int64_t> streamed{0};

    // Writes 64 KiB chunks whenever the socket has drained, until the peer goes away.
    // An endless body, as far as the client is concerned: 64 KiB chunks as fast as the socket takes them,
    // until the client closes or 256 MiB went out (far past any cap; a slow, sanitized client may read on
    // that long in Qt's network thread, and a stream that never ended would outlive the client there).
    void stream(QTcpSocket* socket) {
        const QByteArray chunk(64 * 1024, 'x');
        auto sent = std::make_shared<int64_t>(0);
        auto more = [this, socket, chunk, sent] {
            if (socket->state() != QAbstractSocket::ConnectedState || socket->bytesToWrite() > 0) return;
            if (*sent >= (int64_t(256) << 20)) {
                socket->disconnectFromHost();
                return;
            }
            socket->write(chunk);
            *sent += chunk.size();
            streamed += chunk.size();
        };
        QObject::connect(socket, &QTcpSocket::bytesWritten, socket, more);
        more();
    }

    // Runs in the server thread.
    void onConnection(QTcpSocket* socket) {
        auto buffer = std::make_shared<QByteArray>();
        auto busy = std::make_shared<bool>(false);
        QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        QObject::connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer, busy] {
            buffer->append(socket->readAll());
            processBuffer(socket, buffer, busy);
        });
    }

    void processBuffer(QTcpSocket* socket, const std::shared_ptr<QByteArray>& buffer, const std::shared_ptr<bool>& busy) {
        if (*busy) return;  // one request at a time per connection (HTTP/1.1 without pipelining)
        const int headerEnd = buffer->indexOf("\r\n\r\n");
        if (headerEnd < 0) return;
        const QList<QByteArray> lines = buffer->left(headerEnd).split('\n');
        ReceivedRequest r;
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        r.method = requestLine.value(0);
        r.path = requestLine.value(1);
        qint64 length = 0;
        for (int i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines[i].trimmed();
            const int colon = line.indexOf(':');
            if (colon <= 0) continue;
            const std::string name = line.left(colon).trimmed().toLower().toStdString();
            const std::string value = line.mid(colon + 1).trimmed().toStdString();
            r.headers[name] = value;
            if (name == "content-length") length = std::stoll(value);
        }
        if (buffer->size() < headerEnd + 4 + length) return;
        r.body = buffer->mid(headerEnd + 4, length);
        buffer->remove(0, headerEnd + 4 + length);
        r.json = nlohmann::json::parse(r.body.toStdString(), nullptr, false);
        if (r.json.is_discarded()) r.json = nullptr;
        Handler h;
        {
            std::lock_guard<std::mutex> lock(mutex);
            r.index = static_cast<int>(received.size());
            received.push_back(r);
            h = handler;
            maxInFlight = std::max(maxInFlight, ++inFlight);
        }
        const ServerAction action = h ? h(r) : ServerAction::ok("ok");
        *busy = true;
        QPointer<QTcpSocket> guard(socket);
        auto respond = [this, guard, action, buffer, busy] {
            {
                std::lock_guard<std::mutex> lock(mutex);
                --inFlight;
            }
            if (!guard) return;
            *busy = false;
            answer(guard, action);
            if (guard && guard->state() == QAbstractSocket::ConnectedState) processBuffer(guard, buffer, busy);
        };
        if (action.kind == ServerAction::Hang) {
            // Never answer; the connection stays open until the client gives up.
            std::lock_guard<std::mutex> lock(mutex);
            --inFlight;
            return;
        }
        if (action.latencyMs > 0)
            QTimer::singleShot(action.latencyMs, Qt::PreciseTimer, socket, respond);
        else
            respond();
    }

    void answer(QTcpSocket* socket, const ServerAction& action) {
        if (action.kind == ServerAction::Reset) {
#ifdef Q_OS_UNIX
            // SO_LINGER 0: close() sends RST instead of FIN.
            struct linger lg {1, 0};
            ::setsockopt(static_cast<int>(socket->socketDescriptor()), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
#endif
            socket->abort();
            return;
        }
        QByteArray body = action.body;
        if (action.kind == ServerAction::MalformedJson) {
            body = "{\"choices\": [{\"message\": {\"content\": \"Yes\"";  // cut JSON, correct length
        } else if (body.isEmpty()) {
            nlohmann::json j = {{"id", "chatcmpl-test"},
                                {"object", "chat.completion"},
                                {"model", "test-model-reply"},
                                {"choices", {{{"index", 0},
                                              {"message", {{"role", "assistant"}, {"content", action.content}}},
                                              {"finish_reason", "stop"}}}},
                                {"usage", {{"prompt_tokens", action.promptTokens},
                                           {"completion_tokens", action.completionTokens},
                                           {"total_tokens", action.promptTokens + action.completionTokens}}}};
            if (action.logprobs != ServerAction::Logprobs::None)
                j["choices"][0]["logprobs"] = logprobsJson(action.logprobs, action.candidates);
            body = QByteArray::fromStdString(j.dump());
        }
        QByteArray head = "HTTP/1.1 " + QByteArray::number(action.status) + " " + reasonPhrase(action.status) + "\r\n";
        head += "Content-Type: application/json\r\n";
        if (action.kind == ServerAction::Endless || action.kind == ServerAction::EndlessDeclared) {
            head += action.kind == ServerAction::Endless ? QByteArray("Connection: close\r\n\r\n")
                                                         : QByteArray("Content-Length: 1073741824\r\n\r\n");
            socket->write(head + "{\"choices\": [{\"message\": {\"content\": \"");
            stream(socket);
            return;
        }
        head += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        for (const auto& [name, value] : action.headers) head += name + ": " + value + "\r\n";
        head += "\r\n";
        if (action.kind == ServerAction::ResetMidBody) {
            socket->write(head + body.left(body.size() / 2));
            socket->flush();
            QPointer<QTcpSocket> guard(socket);
            QTimer::singleShot(20, socket, [guard] {
                if (!guard) return;
#ifdef Q_OS_UNIX
                struct linger lg {1, 0};
                ::setsockopt(static_cast<int>(guard->socketDescriptor()), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
#endif
                guard->abort();
            });
            return;
        }
        if (action.kind == ServerAction::TruncatedBody) {
            socket->write(head + body.left(body.size() / 2));
            socket->flush();
            socket->disconnectFromHost();
            return;
        }
        socket->write(head + body);
    }
};

LlmTestServer::LlmTestServer() : impl_(std::make_unique<Impl>()) {
    Impl* impl = impl_.get();
    impl->thread.setObjectName(QStringLiteral("llm-test-server"));
    impl->context = new ThreadMailbox;
    impl->context->moveToThread(&impl->thread);
    QObject::connect(&impl->thread, &QThread::finished, impl->context, &QObject::deleteLater);
    impl->thread.start();
    // The server is created inside its thread so that it and its sockets live there.
    impl->context->call([impl] {
        impl->server = new QTcpServer(impl->context);
        impl->server->setMaxPendingConnections(1000);
        QObject::connect(impl->server, &QTcpServer::newConnection, impl->server, [impl] {
            while (QTcpSocket* s = impl->server->nextPendingConnection()) impl->onConnection(s);
        });
        if (!impl->server->listen(QHostAddress::LocalHost, 0)) qFatal("LlmTestServer: cannot listen on 127.0.0.1");
        impl->port = impl->server->serverPort();
    });
}

LlmTestServer::~LlmTestServer() {
    Impl* impl = impl_.get();
    impl->context->call([impl] {
        for (QTcpSocket* s : impl->server->findChildren<QTcpSocket*>()) s->abort();
        impl->server->close();
        delete impl->server;
        impl->server = nullptr;
    });
    impl->thread.quit();
    impl->thread.wait();
}

QString LlmTestServer::baseUrl() const {
    return QStringLiteral("http://127.0.0.1:%1/v1").arg(impl_->port);
}

void LlmTestServer::setHandler(Handler handler) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->handler = std::move(handler);
}

std::vector<ReceivedRequest> LlmTestServer::requests() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->received;
}

int LlmTestServer::requestCount() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return static_cast<int>(impl_->received.size());
}

int64_t LlmTestServer::bytesStreamed() const { return impl_->streamed.load(); }

int LlmTestServer::maxConcurrent() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->maxInFlight;
}

void LlmTestServer::reset() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->received.clear();
    impl_->maxInFlight = 0;
}

}  // namespace headlight::test
