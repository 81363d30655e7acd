// LLM client behind an interface (METHOD.md sections 4-5: the explainer and the classifier are chat
// models). An LlmClient accepts chat requests from any thread and completes them asynchronously; it
// never needs an event loop in the caller. OpenAiChatClient speaks the OpenAI Chat Completions protocol
// (POST {base}/chat/completions) over Qt Network from a thread of its own, with bounded concurrency,
// timeouts, retries (exponential backoff with jitter, Retry-After honoured), cancellation, token usage
// and cost accounting. The API key lives only in memory: it is never written to a file, log or cache.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/progress.h"

namespace headlight::llm {

// One chat message.
struct ChatMessage {
    std::string role;     // "system", "user" or "assistant"
    std::string content;  // UTF-8 text
};

// What to ask; the model and endpoint belong to the client.
struct ChatRequest {
    std::vector<ChatMessage> messages;  // the conversation, usually one user message
    int maxTokens = 200;                // max_tokens
    std::optional<double> temperature;  // temperature; empty: the server's default (not sent)
};

// Token counts reported by the server (`usage`).
struct Usage {
    int64_t promptTokens = 0;      // usage.prompt_tokens
    int64_t completionTokens = 0;  // usage.completion_tokens
};

// A successful reply.
struct ChatResponse {
    std::string content;     // choices[0].message.content ("" when null)
    std::string model;       // the model the server says answered (may differ from the requested id)
    std::string finishReason;  // choices[0].finish_reason
    Usage usage;             // tokens of this request
    double cost = 0;         // usage priced with the endpoint's prices (USD)
    bool cached = false;     // true: served from the response cache, nothing was sent or paid now
    int attempts = 0;        // HTTP attempts made (0 when cached)
};

// The outcome of one request: a response, or an error (headlight::Error with the HTTP status and the
// server's message, or headlight::Cancelled).
struct ChatOutcome {
    ChatResponse response;
    std::exception_ptr error;  // null on success
    bool ok() const { return !error; }
    std::string errorMessage() const;  // "" on success
};

// Where the requests go. Explainer and classifier may use different endpoints and models.
struct Endpoint {
    std::string baseUrl = "https://api.openai.com/v1";  // POST {baseUrl}/chat/completions
    std::string model;                                   // "model" of every request
    std::string apiKey;        // Bearer token; only in memory (from OPENAI_API_KEY or the GUI)
    std::string organization;  // OpenAI-Organization header; empty: not sent
    double promptPricePerMillion = 0;      // USD per 1M prompt tokens (cost accounting)
    double completionPricePerMillion = 0;  // USD per 1M completion tokens

    std::string chatUrl() const;  // baseUrl without trailing '/' + "/chat/completions"
    // Reads OPENAI_API_KEY (and OPENAI_ORG_ID / OPENAI_ORGANIZATION when `organization` is empty).
    void takeKeyFromEnvironment();
};

// Transport settings of OpenAiChatClient.
struct ClientOptions {
    int concurrency = 16;            // requests in flight at once
    int timeoutMs = 120000;          // per attempt, from send to the end of the body
    int maxAttempts = 6;             // first try + retries, for retryable failures
    int initialBackoffMs = 1000;     // backoff before retry k: min(max, initial * 2^(k-1)) * U(0.5, 1]
    int maxBackoffMs = 60000;        // cap of the exponential backoff
    int maxRetryAfterMs = 300000;    // a server's Retry-After is honoured up to this
};

class LlmClient {
public:
    using Callback = std::function<void(ChatOutcome)>;

    virtual ~LlmClient() = default;

    // Starts `request`; `done` is called exactly once, from a thread of the client (never from
    // inside submit()'s caller frame for network requests; a cache hit may call it directly).
    // Thread-safe. `token` (may be null) cancels it; it must outlive the request.
    virtual void submit(const ChatRequest& request, Callback done, const CancellationToken* token = nullptr) = 0;

    // The endpoint's model id and URL (no key), for records and cache keys.
    virtual const Endpoint& endpoint() const = 0;

    // The exact request identity: {url, model, messages, max_tokens, temperature?}; the key is never in it.
    nlohmann::ordered_json requestBody(const ChatRequest& request) const;

    // Blocking conveniences (usable from any thread that is not the client's own).
    std::future<ChatResponse> request(const ChatRequest& request, const CancellationToken* token = nullptr);
    // Runs every request (at most the client's concurrency at once) and waits for all; outcomes in
    // input order. Reports progress; on cancellation the outstanding requests are cancelled and their
    // outcomes hold headlight::Cancelled.
    std::vector<ChatOutcome> runAll(const std::vector<ChatRequest>& requests, const Progress& progress = {},
                                    const std::string& what = "requests");
};

// The OpenAI Chat Completions client over QNetworkAccessManager, living in its own QThread.
class OpenAiChatClient : public LlmClient {
public:
    explicit OpenAiChatClient(Endpoint endpoint, ClientOptions options = {});
    ~OpenAiChatClient() override;  // cancels what is still pending (their callbacks get an error)
    OpenAiChatClient(const OpenAiChatClient&) = delete;
    OpenAiChatClient& operator=(const OpenAiChatClient&) = delete;

    void submit(const ChatRequest& request, Callback done, const CancellationToken* token = nullptr) override;
    const Endpoint& endpoint() const override { return endpoint_; }
    const ClientOptions& options() const { return options_; }

    // Counters since construction (thread-safe).
    struct Stats {
        int64_t requests = 0;   // submitted
        int64_t attempts = 0;   // HTTP attempts made
        int64_t retries = 0;    // attempts after the first
        int64_t failures = 0;   // outcomes with an error (not cancellations)
        Usage usage;            // tokens of successful replies
        double cost = 0;        // their cost (USD)
    };
    Stats stats() const;

    class Worker;  // implementation detail (QObject in the client's thread)

private:
    Endpoint endpoint_;
    ClientOptions options_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Parses a Retry-After value: delta-seconds ("3", "1.5") or an HTTP date ("Wed, 21 Oct 2015 07:28:00
// GMT"), relative to `nowMsSinceEpoch`. Empty when absent or unparsable; 0 for dates in the past.
std::optional<int64_t> parseRetryAfterMs(const std::string& value, int64_t nowMsSinceEpoch);

// The cost of `usage` at the endpoint's prices (USD).
double priceOf(const Usage& usage, const Endpoint& endpoint);

}  // namespace headlight::llm
