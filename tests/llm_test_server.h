// A tiny HTTP/1.1 server speaking the OpenAI Chat Completions protocol on 127.0.0.1, in its own thread,
// for the LLM client's tests and benchmark. Each request is answered by a scriptable handler: reply
// (any status, body, headers), latency, malformed JSON, a truncated body, a reset connection (before
// or in the middle of the body), a hang, and a body that never ends (with or without a Content-Length).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <QByteArray>
#include <QString>
#include <nlohmann/json.hpp>

namespace headlight::test {

// One request as the server received it.
struct ReceivedRequest {
    int index = 0;                              // 0-based arrival order
    QByteArray method, path;                    // "POST", "/v1/chat/completions"
    std::map<std::string, std::string> headers; // lower-cased names
    QByteArray body;                            // raw body
    nlohmann::json json;                        // parsed body (null if not JSON)
    std::string lastUserMessage() const;        // content of the last "user" message
};

// What the server does with a request.
struct ServerAction {
    enum Kind { Reply, MalformedJson, TruncatedBody, Reset, Hang, ResetMidBody, Endless, EndlessDeclared };
    // ResetMidBody: half the body, then RST. Endless: 200 without Content-Length, then data for as long
    // as the client reads; EndlessDeclared: the same with "Content-Length: 1073741824".
    Kind kind = Reply;
    int latencyMs = 0;                      // wait before answering (or resetting)
    int status = 200;                       // HTTP status
    std::string content = "ok";             // assistant content of the default 200 body
    int promptTokens = 10, completionTokens = 1;  // usage of the default 200 body
    QByteArray body;                        // when not empty: sent instead of the default body
    std::vector<std::pair<QByteArray, QByteArray>> headers;  // extra response headers
    // Log-probabilities of the default 200 body: the first answer token's candidates (the first is the
    // sampled token), spelled as the chosen server does (see llm_test_server.cpp); None: no field.
    enum class Logprobs { None, OpenAi, Vllm, VllmLegacy, LlamaCpp };
    Logprobs logprobs = Logprobs::None;
    std::vector<std::pair<std::string, double>> candidates;  // (token, logprob)

    static ServerAction ok(std::string content, int latencyMs = 0);
    static ServerAction error(int status, const std::string& message, std::vector<std::pair<QByteArray, QByteArray>> headers = {});
    static ServerAction of(Kind kind, int latencyMs = 0);
    // A reply `content` whose first token has `candidates` in `format`.
    static ServerAction withLogprobs(std::string content, Logprobs format, std::vector<std::pair<std::string, double>> candidates);
};

class LlmTestServer {
public:
    using Handler = std::function<ServerAction(const ReceivedRequest&)>;

    LlmTestServer();   // listens on 127.0.0.1, a free port
    ~LlmTestServer();
    LlmTestServer(const LlmTestServer&) = delete;
    LlmTestServer& operator=(const LlmTestServer&) = delete;

    QString baseUrl() const;     // "http://127.0.0.1:PORT/v1"
    void setHandler(Handler handler);  // default: ServerAction::ok("ok")
    std::vector<ReceivedRequest> requests() const;
    int requestCount() const;
    int maxConcurrent() const;   // most requests received and not yet answered at once
    int64_t bytesStreamed() const;  // bytes of Endless bodies written so far
    void reset();                // forgets the recorded requests and counters

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace headlight::test
