// LLM client behind an interface (METHOD.md sections 4-5: the explainer and the classifier are chat
// models). An LlmClient accepts chat requests from any thread and completes them asynchronously; it
// never needs an event loop in the caller. OpenAiChatClient speaks the OpenAI Chat Completions protocol
// (POST {base}/chat/completions) over Qt Network from a thread of its own, with bounded concurrency,
// timeouts, retries (core/base/retry_policy.h: exponential backoff with jitter; a Retry-After, capped,
// pauses only the request it came with), a cap on reply bodies, cancellation, token usage and cost
// accounting. Transient faults are retried: resets, timeouts, 408/409/429/5xx, and 2xx replies that are
// cut off, not JSON, carry an error object or no choices[0].message.content. Servers of 2026: a 400
// "unsupported parameter" for max_tokens / temperature (or any 400 about logprobs) is answered by
// resending once in the accepted form (max_completion_tokens / no temperature / no logprobs), remembered for the endpoint (in this process; until
// the form is known, one request is in flight, so such a server answers two 400s, not one per
// request in flight); reasoning in
// `reasoning_content` or inline <think> is kept apart from the answer; a 404 for the model lists the
// server's /models. The API key lives only in memory: it is never written to a file, log or cache.
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
#include "core/base/retry_policy.h"
#include "core/llm/logprobs.h"

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
    int topLogprobs = 0;                // > 0: ask for log-probabilities (logprobs: true, top_logprobs: N)
};

// Token counts reported by the server (`usage`).
struct Usage {
    int64_t promptTokens = 0;      // usage.prompt_tokens
    int64_t completionTokens = 0;  // usage.completion_tokens
};

// How the parameters of a request are spelled for a server (learned from its 400 replies).
struct RequestDialect {
    bool maxCompletionTokens = false;  // send max_completion_tokens instead of max_tokens
    bool omitTemperature = false;      // never send temperature (the model only takes its default)
    bool omitLogprobs = false;         // never send logprobs / top_logprobs (the server refused them)
};

// A successful reply: never empty (a reply without an answer is an error, so it is never cached).
struct ChatResponse {
    std::string content;     // choices[0].message.content (may hold inline <think> reasoning)
    std::string reasoning;   // choices[0].message.reasoning_content (or .reasoning); "" when absent
    std::string parameters;  // JSON of the parameters as sent, e.g. {"max_completion_tokens":200}
    std::string model;       // the model the server says answered (may differ from the requested id)
    std::string finishReason;  // choices[0].finish_reason
    Usage usage;             // tokens of this request
    double cost = 0;         // usage priced with the endpoint's prices (USD)
    bool cached = false;     // true: served from the response cache, nothing was sent or paid now
    int attempts = 0;        // HTTP attempts made (0 when cached)
    // The candidates of the first answer token (core/llm/logprobs.h) when logprobs were asked for and
    // the server sent them; empty otherwise (a Yes/No-only server).
    std::optional<std::vector<TokenLogprob>> firstTokenLogprobs;
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
    int concurrency = 16;            // requests in flight at once (a request waiting to retry holds none)
    int timeoutMs = 120000;          // per attempt, from send to the end of the body
    int64_t maxReplyBytes = 16 << 20;  // a longer reply body is refused (final error), never buffered
    RetryPolicy retry;               // attempts, backoff, Retry-After cap (60 s)
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

    // The exact request identity: {model, messages, max_tokens, temperature?}; the key is never in it.
    // (What goes on the wire may spell the parameters differently: RequestDialect.)
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

using headlight::parseRetryAfterMs;

// The Chat Completions body of `request` for `model`, its parameters spelled as `dialect` says.
nlohmann::ordered_json chatBody(const std::string& model, const ChatRequest& request, const RequestDialect& dialect = {});
// The parameters of that body alone, as compact JSON ({"max_tokens":200,"temperature":0.5}).
std::string parametersJson(const ChatRequest& request, const RequestDialect& dialect = {});

// A 2xx body read as a Chat Completions reply: the response, or why not and whether another attempt
// may help (a cut-off or garbled body, an error object, no choices: yes; a refusal, or no answer
// because max_tokens ran out: no). Never throws; messages are valid UTF-8 and short.
struct ParsedReply {
    std::optional<ChatResponse> response;
    std::string problem;     // "" when response is set
    bool retryable = false;
};
ParsedReply parseChatReply(const std::string& body);

// What a 400 reply says the model does not support: "max_tokens", "temperature", "logprobs" (any 400
// naming logprobs / top_logprobs: they are an optional extra, dropped rather than failing), or "".
std::string unsupportedParameter(const std::string& body);

// Token counts as reported by a server, made safe to add up: negative -> 0, at most 10^12.
int64_t clampTokens(int64_t reported);

// The cost of `usage` at the endpoint's prices (USD).
double priceOf(const Usage& usage, const Endpoint& endpoint);

}  // namespace headlight::llm
