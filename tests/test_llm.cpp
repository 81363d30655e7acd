// The LLM client and its response cache against a real HTTP server on 127.0.0.1 (tests/llm_test_server):
// the Chat Completions protocol, bounded concurrency, retries (429 with Retry-After, 5xx, truncated
// bodies, reset connections, hangs past the timeout), clear final errors (401, 400, malformed JSON),
// cancellation, usage and cost, and the cache (a rerun sends nothing; the key is never written).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include <QDateTime>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QLocale>
#include <QTemporaryDir>
#include <QTimeZone>
#include <QtTest>

#include "core/base/error.h"
#include "core/llm/llm_client.h"
#include "core/llm/response_cache.h"
#include "tests/llm_test_server.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::llm;
using headlight::test::LlmTestServer;
using headlight::test::ReceivedRequest;
using headlight::test::ServerAction;

namespace {

const char* kSecretKey = "sk-test-SECRET-0123456789abcdef";

Endpoint endpointFor(const LlmTestServer& server, const std::string& model = "test-model") {
    Endpoint e;
    e.baseUrl = server.baseUrl().toStdString();
    e.model = model;
    e.apiKey = kSecretKey;
    e.promptPricePerMillion = 10.0;
    e.completionPricePerMillion = 30.0;
    return e;
}

ClientOptions fastOptions() {
    ClientOptions o;
    o.concurrency = 4;
    o.timeoutMs = 5000;
    o.retry.maxAttempts = 4;
    o.retry.initialBackoffMs = 10;
    o.retry.maxBackoffMs = 50;
    return o;
}

ChatRequest ask(const std::string& text, int maxTokens = 200) {
    ChatRequest r;
    r.messages = {{"user", text}};
    r.maxTokens = maxTokens;
    return r;
}

// Runs one request and returns its outcome.
ChatOutcome runOne(LlmClient& client, const ChatRequest& request) {
    return client.runAll({request}).at(0);
}

// True if any file under `dir` contains `needle`.
bool anyFileContains(const QString& dir, const QByteArray& needle) {
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile f(it.next());
        if (f.open(QIODevice::ReadOnly) && f.readAll().contains(needle)) return true;
    }
    return false;
}

// OpenAI's 400 replies for parameters a model does not take (2026); \u0027 is an apostrophe (moc
// cannot read apostrophes inside raw strings).
const char* kUnsupportedMaxTokens =
    R"({"error": {"message": "Unsupported parameter: \u0027max_tokens\u0027 is not supported with this model. Use \u0027max_completion_tokens\u0027 instead.", "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}})";
const char* kUnsupportedTemperature =
    R"({"error": {"message": "Unsupported value: \u0027temperature\u0027 does not support 0.5 with this model. Only the default (1) value is supported.", "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}})";

ServerAction badRequest(const char* body) {
    ServerAction a;
    a.status = 400;
    a.body = body;
    return a;
}

// The process's peak resident memory (VmHWM), KiB; 0 where /proc is not there.
int64_t peakRssKb() {
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly)) return 0;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmHWM:")) return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    return 0;
}

int countFiles(const QString& dir) {
    int n = 0;
    QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        it.next();
        ++n;
    }
    return n;
}

}  // namespace

class TestLlm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void protocolHeadersUsageAndCost() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            ServerAction a = ServerAction::ok("Hello " + r.lastUserMessage());
            a.promptTokens = 1000;
            a.completionTokens = 100;
            return a;
        });
        Endpoint e = endpointFor(server);
        e.organization = "org-test";
        OpenAiChatClient client(e, fastOptions());
        ChatRequest req = ask("world", 7);
        req.messages.insert(req.messages.begin(), ChatMessage{"system", "be brief"});
        req.temperature = 0.25;
        const ChatResponse r = client.request(req).get();
        QCOMPARE(QString::fromStdString(r.content), QStringLiteral("Hello world"));
        QCOMPARE(r.usage.promptTokens, int64_t(1000));
        QCOMPARE(r.usage.completionTokens, int64_t(100));
        QVERIFY(std::abs(r.cost - (1000 * 10.0 + 100 * 30.0) / 1e6) < 1e-12);
        QCOMPARE(r.attempts, 1);
        QVERIFY(!r.cached);
        QCOMPARE(QString::fromStdString(r.model), QStringLiteral("test-model-reply"));
        QCOMPARE(QString::fromStdString(r.finishReason), QStringLiteral("stop"));
        const auto got = server.requests();
        QCOMPARE(int(got.size()), 1);
        QCOMPARE(got[0].method, QByteArray("POST"));
        QCOMPARE(got[0].path, QByteArray("/v1/chat/completions"));
        QCOMPARE(QString::fromStdString(got[0].headers.at("authorization")), QStringLiteral("Bearer ") + kSecretKey);
        QCOMPARE(QString::fromStdString(got[0].headers.at("openai-organization")), QStringLiteral("org-test"));
        QVERIFY(QString::fromStdString(got[0].headers.at("content-type")).startsWith("application/json"));
        const auto& j = got[0].json;
        QCOMPARE(QString::fromStdString(j.at("model").get<std::string>()), QStringLiteral("test-model"));
        QCOMPARE(j.at("max_tokens").get<int>(), 7);
        QCOMPARE(j.at("temperature").get<double>(), 0.25);
        QCOMPARE(int(j.at("messages").size()), 2);
        QCOMPARE(QString::fromStdString(j["messages"][0]["role"].get<std::string>()), QStringLiteral("system"));
        QCOMPARE(QString::fromStdString(j["messages"][1]["content"].get<std::string>()), QStringLiteral("world"));
        // No temperature given: none sent (the server's default, as the paper).
        client.request(ask("x")).get();
        QVERIFY(!server.requests().back().json.contains("temperature"));
        const auto stats = client.stats();
        QCOMPARE(stats.requests, int64_t(2));
        QCOMPARE(stats.usage.promptTokens, int64_t(2000));
    }

    void baseUrlWithTrailingSlash() {
        LlmTestServer server;
        Endpoint e = endpointFor(server);
        e.baseUrl += "/";
        OpenAiChatClient client(e, fastOptions());
        QVERIFY(runOne(client, ask("a")).ok());
        QCOMPARE(server.requests().at(0).path, QByteArray("/v1/chat/completions"));
    }

    void boundedConcurrencyAndInputOrder() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) { return ServerAction::ok("re:" + r.lastUserMessage(), 50); });
        ClientOptions o = fastOptions();
        o.concurrency = 5;
        OpenAiChatClient client(endpointFor(server), o);
        std::vector<ChatRequest> reqs;
        for (int i = 0; i < 40; ++i) reqs.push_back(ask("q" + std::to_string(i)));
        std::atomic<int64_t> lastDone{0};
        Progress progress([&](int64_t done, int64_t, const std::string&) { lastDone = done; });
        const auto out = client.runAll(reqs, progress);
        QCOMPARE(int(out.size()), 40);
        for (int i = 0; i < 40; ++i) {
            QVERIFY2(out[i].ok(), out[i].errorMessage().c_str());
            QCOMPARE(QString::fromStdString(out[i].response.content), QString::fromStdString("re:q" + std::to_string(i)));
        }
        QCOMPARE(lastDone.load(), int64_t(40));
        QVERIFY2(server.maxConcurrent() <= 5, qPrintable(QString::number(server.maxConcurrent())));
        QVERIFY2(server.maxConcurrent() >= 3, qPrintable(QString::number(server.maxConcurrent())));
    }

    void retryAfterSecondsOn429() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.index == 0) return ServerAction::error(429, "Rate limit reached", {{"Retry-After", "1"}});
            return ServerAction::ok("after wait");
        });
        OpenAiChatClient client(endpointFor(server), fastOptions());  // backoff alone would wait ~10 ms
        QElapsedTimer t;
        t.start();
        const ChatOutcome o = runOne(client, ask("a"));
        QVERIFY2(o.ok(), o.errorMessage().c_str());
        QVERIFY2(t.elapsed() >= 950, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(o.response.attempts, 2);
        QCOMPARE(QString::fromStdString(o.response.content), QStringLiteral("after wait"));
    }

    void retryAfterHttpDateOn503() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.index == 0) {
                const QDateTime when = QDateTime::currentDateTimeUtc().addSecs(2);
                const QByteArray date =
                    QLocale::c().toString(when, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'")).toLatin1();
                return ServerAction::error(503, "overloaded", {{"Retry-After", date}});
            }
            return ServerAction::ok("ok");
        });
        OpenAiChatClient client(endpointFor(server), fastOptions());
        QElapsedTimer t;
        t.start();
        const ChatOutcome o = runOne(client, ask("a"));
        QVERIFY2(o.ok(), o.errorMessage().c_str());
        QVERIFY2(t.elapsed() >= 900, qPrintable(QString::number(t.elapsed())));  // whole seconds in the date
        QCOMPARE(o.response.attempts, 2);
    }

    // A Retry-After of 300 s is capped (60 s by default; 600 ms here) and pauses only its request: with
    // one slot, the other requests go on while it waits.
    void retryAfterIsCappedAndPausesOnlyItsRequest() {
        QCOMPARE(ClientOptions().retry.maxRetryAfterMs, 60000);
        LlmTestServer server;
        QElapsedTimer clock;
        clock.start();
        std::mutex mutex;
        std::map<std::string, std::vector<qint64>> arrivals;
        server.setHandler([&](const ReceivedRequest& r) {
            std::lock_guard<std::mutex> lock(mutex);
            arrivals[r.lastUserMessage()].push_back(clock.elapsed());
            if (r.lastUserMessage() == "p0" && arrivals["p0"].size() == 1)
                return ServerAction::error(429, "slow down", {{"Retry-After", "300"}});
            return ServerAction::ok("ok", 10);
        });
        ClientOptions o = fastOptions();
        o.concurrency = 1;
        o.retry.maxRetryAfterMs = 600;
        OpenAiChatClient client(endpointFor(server), o);
        std::vector<ChatRequest> reqs;
        for (int i = 0; i < 8; ++i) reqs.push_back(ask("p" + std::to_string(i)));
        const auto out = client.runAll(reqs);
        QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
        for (const auto& x : out) QVERIFY2(x.ok(), x.errorMessage().c_str());
        QCOMPARE(out[0].response.attempts, 2);
        std::lock_guard<std::mutex> lock(mutex);
        QCOMPARE(int(arrivals["p0"].size()), 2);
        const qint64 retryAt = arrivals["p0"][1] - arrivals["p0"][0];
        QVERIFY2(retryAt >= 590 && retryAt < 2000, qPrintable(QString::number(retryAt)));
        for (int i = 1; i < 8; ++i)  // all served while p0 waited
            QVERIFY2(arrivals["p" + std::to_string(i)].at(0) < arrivals["p0"][1], qPrintable(QString::number(i)));
    }

    // One policy: statuses, attempts, backoff and the Retry-After cap.
    void retryPolicy() {
        RetryPolicy p;
        p.maxAttempts = 3;
        p.initialBackoffMs = 100;
        p.maxBackoffMs = 250;
        p.maxRetryAfterMs = 1000;
        for (int s : {408, 409, 429, 500, 502, 503, 599}) QVERIFY(RetryPolicy::retryableStatus(s));
        for (int s : {200, 400, 401, 403, 404, 422, 600}) QVERIFY(!RetryPolicy::retryableStatus(s));
        QVERIFY(p.mayRetry(2) && !p.mayRetry(3));
        QCOMPARE(p.delayMs(1, std::nullopt, 0.0), int64_t(50));
        QCOMPARE(p.delayMs(1, std::nullopt, 1.0), int64_t(100));
        QCOMPARE(p.delayMs(2, std::nullopt, 1.0), int64_t(200));
        QCOMPARE(p.delayMs(9, std::nullopt, 1.0), int64_t(250));   // capped
        QCOMPARE(p.delayMs(1000, std::nullopt, 1.0), int64_t(250)); // no overflow
        QCOMPARE(p.delayMs(1, int64_t(300000), 0.0), int64_t(1000));  // Retry-After 300 s -> the cap
        QCOMPARE(p.delayMs(1, int64_t(400), 1.0), int64_t(440));      // + up to 10 %
    }

    void parseRetryAfter() {
        const int64_t now = QDateTime(QDate(2015, 10, 21), QTime(7, 28, 0), QTimeZone::utc()).toMSecsSinceEpoch();
        QCOMPARE(parseRetryAfterMs("3", now).value_or(-1), int64_t(3000));
        QCOMPARE(parseRetryAfterMs(" 1.5 ", now).value_or(-1), int64_t(1500));
        QCOMPARE(parseRetryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", now).value_or(-1), int64_t(10000));
        QCOMPARE(parseRetryAfterMs("Wed, 21 Oct 2015 07:27:00 GMT", now).value_or(-1), int64_t(0));  // past
        QVERIFY(!parseRetryAfterMs("", now));
        QVERIFY(!parseRetryAfterMs("soon", now));
        QVERIFY(!parseRetryAfterMs("-4", now));
    }

    void recoversFrom5xxTruncationResetAndHang() {
        LlmTestServer server;
        // Request k of each content fails in a different way first.
        server.setHandler([](const ReceivedRequest& r) {
            const std::string q = r.lastUserMessage();
            static std::map<std::string, int> seen;  // server thread only
            const int n = seen[q]++;
            if (q == "500" && n < 2) return ServerAction::error(500, "boom");
            if (q == "502" && n < 1) return ServerAction::error(502, "bad gateway");
            if (q == "trunc" && n < 2) return ServerAction::of(ServerAction::TruncatedBody);
            if (q == "reset" && n < 2) return ServerAction::of(ServerAction::Reset, 20);
            if (q == "hang" && n < 1) return ServerAction::of(ServerAction::Hang);
            return ServerAction::ok("fine:" + q);
        });
        ClientOptions o = fastOptions();
        o.timeoutMs = 400;
        OpenAiChatClient client(endpointFor(server), o);
        const std::vector<std::string> qs = {"500", "502", "trunc", "reset", "hang"};
        std::vector<ChatRequest> reqs;
        for (const auto& q : qs) reqs.push_back(ask(q));
        const auto out = client.runAll(reqs);
        for (std::size_t i = 0; i < qs.size(); ++i) {
            QVERIFY2(out[i].ok(), (qs[i] + ": " + out[i].errorMessage()).c_str());
            QCOMPARE(QString::fromStdString(out[i].response.content), QString::fromStdString("fine:" + qs[i]));
            QVERIFY2(out[i].response.attempts >= 2, qs[i].c_str());
        }
        QVERIFY(client.stats().retries >= 7);
        QCOMPARE(client.stats().failures, int64_t(0));
    }

    void finalErrorsAreClear() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            const std::string q = r.lastUserMessage();
            if (q == "401") return ServerAction::error(401, std::string("Incorrect API key provided: ") + kSecretKey);
            if (q == "400") return ServerAction::error(400, "max_tokens is too large");
            if (q == "malformed") return ServerAction::of(ServerAction::MalformedJson);
            if (q == "nochoices") {
                ServerAction a;
                a.body = "{\"object\": \"chat.completion\", \"choices\": []}";
                return a;
            }
            if (q == "trunc") return ServerAction::of(ServerAction::TruncatedBody);
            if (q == "hang") return ServerAction::of(ServerAction::Hang);
            return ServerAction::error(500, "always broken");
        });
        ClientOptions o = fastOptions();
        o.timeoutMs = 300;
        o.retry.maxAttempts = 3;
        OpenAiChatClient client(endpointFor(server), o);
        const std::vector<std::string> qs = {"401", "400", "malformed", "nochoices", "trunc", "hang", "500"};
        std::vector<ChatRequest> reqs;
        for (const auto& q : qs) reqs.push_back(ask(q));
        const auto out = client.runAll(reqs);
        auto message = [&](int i) { return QString::fromStdString(out[i].errorMessage()); };
        for (int i = 0; i < int(qs.size()); ++i) QVERIFY2(!out[i].ok(), qs[i].c_str());
        QVERIFY2(message(0).contains("HTTP 401") && message(0).contains("Incorrect API key provided: [API key]") &&
                     message(0).contains("OPENAI_API_KEY"), qPrintable(message(0)));  // an echoed key is scrubbed
        QVERIFY2(message(1).contains("HTTP 400") && message(1).contains("max_tokens is too large"), qPrintable(message(1)));
        QVERIFY2(message(2).contains("not valid JSON") && message(2).contains("after 3 attempts"), qPrintable(message(2)));
        QVERIFY2(message(3).contains("choices[0].message.content") && message(3).contains("after 3 attempts"), qPrintable(message(3)));
        QVERIFY2(message(4).contains("truncated") && message(4).contains("after 3 attempts"), qPrintable(message(4)));
        QVERIFY2(message(5).contains("timeout") && message(5).contains("after 3 attempts"), qPrintable(message(5)));
        QVERIFY2(message(6).contains("HTTP 500") && message(6).contains("always broken") && message(6).contains("after 3 attempts"),
                 qPrintable(message(6)));
        for (int i = 0; i < int(qs.size()); ++i) QVERIFY(!message(i).contains(kSecretKey));
        // Not retried: 401, 400. Retried like a cut-off body: malformed JSON, no choices.
        int n401 = 0, nMalformed = 0, n500 = 0;
        for (const auto& r : server.requests()) {
            n401 += r.lastUserMessage() == "401";
            nMalformed += r.lastUserMessage() == "malformed";
            n500 += r.lastUserMessage() == "500";
        }
        QCOMPARE(n401, 1);
        QCOMPARE(nMalformed, 3);
        QCOMPARE(n500, 3);
        QCOMPARE(client.stats().failures, int64_t(7));
        // The blocking future reports the same error as a headlight::Error.
        HL_EXPECT_ERROR(client.request(ask("401")).get(), "HTTP 401");
    }

    void connectionRefusedIsFinal() {
        quint16 port;
        {
            LlmTestServer server;
            port = QUrl(server.baseUrl()).port();
        }
        Endpoint e;
        e.baseUrl = "http://127.0.0.1:" + std::to_string(port) + "/v1";
        e.model = "m";
        OpenAiChatClient client(e, fastOptions());
        const ChatOutcome o = runOne(client, ask("a"));
        QVERIFY(!o.ok());
        QVERIFY2(QString::fromStdString(o.errorMessage()).contains("refused", Qt::CaseInsensitive),
                 o.errorMessage().c_str());
    }

    void invalidEndpoint() {
        Endpoint e;
        e.baseUrl = "ftp://example.org";
        e.model = "m";
        HL_EXPECT_ERROR(OpenAiChatClient c{e}, "not an http(s) URL");
        e.baseUrl = "http://127.0.0.1:1/v1";
        e.model = "";
        HL_EXPECT_ERROR(OpenAiChatClient c{e}, "no model name");
    }

    void cancellation() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest&) { return ServerAction::ok("late", 3000); });
        ClientOptions o = fastOptions();
        o.concurrency = 2;
        OpenAiChatClient client(endpointFor(server), o);
        CancellationToken token;
        std::vector<ChatRequest> reqs(6, ask("slow"));
        QElapsedTimer t;
        t.start();
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            token.cancel();
        });
        bool cancelled = false;
        try {
            client.runAll(reqs, Progress({}, &token));
        } catch (const Cancelled&) {
            cancelled = true;
        }
        canceller.join();
        QVERIFY(cancelled);
        QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        // A single request with its own token.
        CancellationToken single;
        auto future = client.request(ask("slow"), &single);
        single.cancel();
        bool threw = false;
        try {
            future.get();
        } catch (const Cancelled&) {
            threw = true;
        }
        QVERIFY(threw);
        QCOMPARE(client.stats().failures, int64_t(0));  // cancellations are not failures
    }

    void worksFromPlainThreadsAndShutsDownWithPendingRequests() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) { return ServerAction::ok(r.lastUserMessage(), 10); });
        std::atomic<int> errors{0};
        {
            OpenAiChatClient client(endpointFor(server), fastOptions());
            std::vector<std::thread> threads;
            std::atomic<int> good{0};
            for (int t = 0; t < 4; ++t)
                threads.emplace_back([&, t] {
                    for (int i = 0; i < 5; ++i)
                        if (client.request(ask(std::to_string(t * 10 + i))).get().content == std::to_string(t * 10 + i))
                            ++good;
                });
            for (auto& th : threads) th.join();
            QCOMPARE(good.load(), 20);
            server.setHandler([](const ReceivedRequest&) { return ServerAction::of(ServerAction::Hang); });
            for (int i = 0; i < 3; ++i)
                client.submit(ask("never"), [&](ChatOutcome o) { errors += o.ok() ? 0 : 1; });
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }  // destroyed with three requests hanging
        QCOMPARE(errors.load(), 3);
    }

    void cacheRerunSendsNothingAndGivesIdenticalResults() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            static int counter = 0;  // a different reply each time: the rerun must repeat the first
            return ServerAction::ok(r.lastUserMessage() + "#" + std::to_string(counter++), 5);
        });
        QTemporaryDir dir;
        auto cache = std::make_shared<ResponseCache>(dir.path());
        std::vector<ChatRequest> reqs;
        for (int i = 0; i < 12; ++i) reqs.push_back(ask("cached " + std::to_string(i)));
        std::vector<ChatOutcome> first, second;
        {
            CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
            first = client.runAll(reqs);
            QCOMPARE(client.misses(), int64_t(12));
            QCOMPARE(client.hits(), int64_t(0));
        }
        QCOMPARE(server.requestCount(), 12);
        QCOMPARE(countFiles(dir.path()), 12);
        {
            CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
            second = client.runAll(reqs);
            QCOMPARE(client.hits(), int64_t(12));
        }
        QCOMPARE(server.requestCount(), 12);  // nothing sent
        for (int i = 0; i < 12; ++i) {
            QVERIFY(first[i].ok() && second[i].ok());
            QCOMPARE(second[i].response.content, first[i].response.content);
            QCOMPARE(second[i].response.usage.promptTokens, first[i].response.usage.promptTokens);
            QVERIFY(second[i].response.cached);
            QVERIFY(!first[i].response.cached);
        }
        // Everything of the request is in the key: model, max_tokens, temperature, messages, URL.
        const auto key = [&](const std::string& model, const ChatRequest& r, const std::string& url) {
            Endpoint e = endpointFor(server, model);
            OpenAiChatClient c(e, fastOptions());
            return ResponseCache::keyOf(url, c.requestBody(r));
        };
        const std::string url = "http://x/v1/chat/completions";
        ChatRequest base = ask("q");
        ChatRequest t = base;
        t.temperature = 0.0;
        ChatRequest m = base;
        m.maxTokens = 1;
        const std::string k0 = key("a", base, url);
        QCOMPARE(key("a", base, url), k0);
        QVERIFY(key("b", base, url) != k0);
        QVERIFY(key("a", t, url) != k0);
        QVERIFY(key("a", m, url) != k0);
        QVERIFY(key("a", ask("q2"), url) != k0);
        QVERIFY(key("a", base, "http://y/v1/chat/completions") != k0);
        QCOMPARE(int(k0.size()), 64);
        // The key is never written.
        QVERIFY(!anyFileContains(dir.path(), kSecretKey));
        // A different API key shares the entries (the key is not part of the request identity).
        {
            Endpoint e = endpointFor(server);
            e.apiKey = "sk-another";
            CachedLlmClient client(std::make_shared<OpenAiChatClient>(e, fastOptions()), cache);
            QVERIFY(runOne(client, reqs[0]).response.cached);
        }
    }

    void cacheIgnoresCorruptEntriesAndNeverStoresErrors() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.lastUserMessage() == "bad") return ServerAction::error(400, "nope");
            return ServerAction::ok("good");
        });
        QTemporaryDir dir;
        auto cache = std::make_shared<ResponseCache>(dir.path());
        CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
        QVERIFY(!runOne(client, ask("bad")).ok());
        QCOMPARE(countFiles(dir.path()), 0);
        QVERIFY(runOne(client, ask("good")).ok());
        QCOMPARE(countFiles(dir.path()), 1);
        // Corrupt the entry: it is a miss, fetched again and rewritten.
        QDirIterator it(dir.path(), QDir::Files, QDirIterator::Subdirectories);
        const QString entry = it.next();
        {
            QFile f(entry);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write("{\"key\": ");
        }
        const int before = server.requestCount();
        const ChatOutcome o = runOne(client, ask("good"));
        QVERIFY(o.ok() && !o.response.cached);
        QCOMPARE(server.requestCount(), before + 1);
        QVERIFY(runOne(client, ask("good")).response.cached);
    }

    // Each transient fault of a 2xx reply, once, then a good reply: recovered on the second attempt.
    void recoversFromBad2xxReplies() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            const std::string q = r.lastUserMessage();
            static std::map<std::string, int> seen;  // server thread only
            if (seen[q]++ > 0) return ServerAction::ok("fine:" + q);
            ServerAction a;
            if (q == "cut") return ServerAction::of(ServerAction::MalformedJson);
            if (q == "errorobject") a.body = R"({"error": {"message": "upstream overloaded", "type": "server_error"}})";
            if (q == "nochoices") a.body = R"({"object": "chat.completion", "choices": []})";
            if (q == "nonutf8") a.body = "{\"choices\": [{\"message\": {\"content\": \"Y\xff\xfe\"}}]}";
            if (q == "nullcontent") a.body = R"({"choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": "stop"}]})";
            if (q == "midbody") return ServerAction::of(ServerAction::ResetMidBody);
            return a;
        });
        OpenAiChatClient client(endpointFor(server), fastOptions());
        const std::vector<std::string> qs = {"cut", "errorobject", "nochoices", "nonutf8", "nullcontent", "midbody"};
        std::vector<ChatRequest> reqs;
        for (const auto& q : qs) reqs.push_back(ask(q));
        const auto out = client.runAll(reqs);
        for (std::size_t i = 0; i < qs.size(); ++i) {
            QVERIFY2(out[i].ok(), (qs[i] + ": " + out[i].errorMessage()).c_str());
            QCOMPARE(QString::fromStdString(out[i].response.content), QString::fromStdString("fine:" + qs[i]));
            QCOMPARE(out[i].response.attempts, 2);
        }
        QCOMPARE(server.requestCount(), 12);
    }

    // The same faults for good: a clear final error naming the request and the reason, in valid UTF-8.
    void persistentBad2xxRepliesFailClearly() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            const std::string q = r.lastUserMessage();
            ServerAction a;
            if (q == "errorobject") a.body = R"({"error": {"message": "upstream overloaded"}})";
            if (q == "nonutf8") a.body = "\xff\xfe not json \xc3";
            if (q == "refusal") a.body = R"({"choices": [{"message": {"content": null, "refusal": "I cannot help with that."}}]})";
            if (q == "length") a.body = R"({"choices": [{"message": {"content": "<think>so much to say"}, "finish_reason": "length"}]})";
            return a;
        });
        ClientOptions o = fastOptions();
        o.retry.maxAttempts = 3;
        OpenAiChatClient client(endpointFor(server), o);
        const auto out = client.runAll({ask("errorobject"), ask("nonutf8"), ask("refusal"), ask("length")});
        auto message = [&](int i) { return QString::fromStdString(out[i].errorMessage()); };
        for (int i = 0; i < 4; ++i) {
            QVERIFY(!out[i].ok());
            QVERIFY2(message(i).contains("LLM request to " + server.baseUrl() + "/chat/completions (model test-model)"), qPrintable(message(i)));
            QVERIFY(QString::fromUtf8(out[i].errorMessage().c_str()).toUtf8() == QByteArray::fromStdString(out[i].errorMessage()));
        }
        QVERIFY2(message(0).contains("error object: upstream overloaded") && message(0).contains("after 3 attempts"), qPrintable(message(0)));
        QVERIFY2(message(1).contains("not valid JSON") && message(1).contains("after 3 attempts"), qPrintable(message(1)));
        QVERIFY2(message(2).contains("the model refused: I cannot help with that."), qPrintable(message(2)));  // not retried
        QVERIFY2(message(3).contains("max_tokens ran out"), qPrintable(message(3)));                           // not retried
        QCOMPARE(server.requestCount(), 3 + 3 + 1 + 1);
    }

    // A huge body, declared or endless: refused at the cap, at once, with bounded memory.
    void hugeReplyBodiesAreCapped() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.lastUserMessage() == "declared") return ServerAction::of(ServerAction::EndlessDeclared);
            if (r.lastUserMessage() == "endless") return ServerAction::of(ServerAction::Endless);
            ServerAction a = ServerAction::error(500, std::string(3 << 20, 'e'));  // a 3 MiB error body
            return a;
        });
        ClientOptions o = fastOptions();
        o.maxReplyBytes = 1 << 20;
        o.timeoutMs = 20000;
        OpenAiChatClient client(endpointFor(server), o);
        const int64_t peakBefore = peakRssKb();
        QElapsedTimer t;
        t.start();
        const auto out = client.runAll({ask("declared"), ask("endless"), ask("error")});
        const int64_t peakGrowthKb = peakRssKb() - peakBefore;
        for (int i = 0; i < 3; ++i) {
            QVERIFY(!out[i].ok());
            QVERIFY2(QString::fromStdString(out[i].errorMessage()).contains("larger than 1 MiB"), out[i].errorMessage().c_str());
        }
        QVERIFY2(t.elapsed() < 5000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(server.requestCount(), 3);  // refused, not retried
        qInfo("endless bodies: %lld bytes streamed before the client closed (cap 1 MiB); peak RSS grew by %lld KiB",
              static_cast<long long>(server.bytesStreamed()), static_cast<long long>(peakGrowthKb));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        // The server could stream on forever; the client stopped reading soon after the cap. (Not under a
        // sanitizer: its slower client closes the connection later, so the loopback server streams hundreds
        // of MiB into the socket first, and ASan's quarantine keeps freed memory in the RSS.)
        QVERIFY2(server.bytesStreamed() < 64 << 20, qPrintable(QString::number(server.bytesStreamed())));
        QVERIFY2(peakGrowthKb < 64 * 1024, qPrintable(QString::number(peakGrowthKb)));
#endif
    }

    // 2026 servers: max_tokens and temperature refused with a 400 "unsupported" are resent once in the
    // accepted form, remembered for the endpoint, and the parameters as sent are recorded.
    void unsupportedParametersAreAdapted() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.json.contains("max_tokens")) return badRequest(kUnsupportedMaxTokens);
            if (r.json.contains("temperature")) return badRequest(kUnsupportedTemperature);
            return ServerAction::ok("took " + std::to_string(r.json.value("max_completion_tokens", -1)));
        });
        ClientOptions o = fastOptions();
        o.concurrency = 1;
        OpenAiChatClient client(endpointFor(server), o);
        ChatRequest req = ask("a", 7);
        req.temperature = 0.5;
        const ChatOutcome first = runOne(client, req);
        QVERIFY2(first.ok(), first.errorMessage().c_str());
        QCOMPARE(QString::fromStdString(first.response.content), QStringLiteral("took 7"));
        QCOMPARE(first.response.attempts, 3);
        QCOMPARE(QString::fromStdString(first.response.parameters), QStringLiteral("{\"max_completion_tokens\":7}"));
        QCOMPARE(server.requestCount(), 3);
        // Remembered: the next request goes out in the accepted form at once.
        ChatRequest second = ask("b", 9);
        second.temperature = 0.5;
        const ChatOutcome o2 = runOne(client, second);
        QVERIFY(o2.ok());
        QCOMPARE(o2.response.attempts, 1);
        QCOMPARE(server.requestCount(), 4);
        // Until the form is known, one request at a time: 6 requests at once cost 2 refusals, not 12.
        {
            LlmTestServer fresh;
            fresh.setHandler([](const ReceivedRequest& r) {
                if (r.json.contains("max_tokens")) return badRequest(kUnsupportedMaxTokens);
                if (r.json.contains("temperature")) return badRequest(kUnsupportedTemperature);
                return ServerAction::ok("ok", 20);
            });
            OpenAiChatClient parallel(endpointFor(fresh), fastOptions());  // concurrency 4
            std::vector<ChatRequest> six(6, req);
            for (const auto& x : parallel.runAll(six)) QVERIFY2(x.ok(), x.errorMessage().c_str());
            QCOMPARE(fresh.requestCount(), 2 + 6);
            QVERIFY(fresh.maxConcurrent() >= 2);  // then in parallel
        }
        // A later client of the same endpoint (step 5 after step 4) starts with what was learned.
        {
            OpenAiChatClient later(endpointFor(server), o);
            const ChatOutcome o3 = runOne(later, second);
            QVERIFY(o3.ok());
            QCOMPARE(o3.response.attempts, 1);
            QCOMPARE(server.requestCount(), 5);
        }
        // The identity (cache key) does not change with the spelling.
        QVERIFY(client.requestBody(second).contains("max_tokens"));
        // Another 400 is final, not adapted.
        QCOMPARE(QString::fromStdString(unsupportedParameter(R"({"error": {"message": "max_tokens is too large"}})")), QString());
        QCOMPARE(QString::fromStdString(unsupportedParameter("{\"error\": {\"message\": \"Unsupported parameter: max_tokens\"}}")), QStringLiteral("max_tokens"));
    }

    // Log-probabilities in the three servers' formats (tests/llm_test_server.cpp quotes each shape),
    // served over loopback, read into the first answer token's candidates and p(Yes); the cache keeps them.
    void logprobsOfThreeServerFormats_data() {
        QTest::addColumn<int>("format");
        QTest::addColumn<QStringList>("tokens");
        using F = ServerAction::Logprobs;
        QTest::newRow("OpenAI") << int(F::OpenAi) << QStringList{"Yes", "No", " yes", "Maybe"};
        QTest::newRow("vLLM") << int(F::Vllm) << QStringList{"Yes", "No", "yes", "Maybe"};
        QTest::newRow("vLLM 0.3 legacy") << int(F::VllmLegacy) << QStringList{"\u2581Yes", "\u2581No", "YES", "Maybe"};
        QTest::newRow("llama.cpp") << int(F::LlamaCpp) << QStringList{" Yes", " No", "yes", "Maybe"};
    }
    void logprobsOfThreeServerFormats() {
        QFETCH(int, format);
        QFETCH(QStringList, tokens);
        // p = 0.7, 0.2, 0.05, 0.05: p(Yes) = (0.7 + 0.05) / (0.7 + 0.2 + 0.05) = 0.7894736842105263
        const std::vector<double> p = {0.7, 0.2, 0.05, 0.05};
        std::vector<std::pair<std::string, double>> candidates;
        for (int i = 0; i < 4; ++i) candidates.push_back({tokens[i].toStdString(), std::log(p[i])});
        LlmTestServer server;
        server.setHandler([&](const ReceivedRequest&) {
            return ServerAction::withLogprobs("Yes", ServerAction::Logprobs(format), candidates);
        });
        QTemporaryDir dir;
        auto inner = std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions());
        CachedLlmClient client(inner, std::make_shared<ResponseCache>(dir.path()));
        ChatRequest req = ask("is it?", 1);
        req.topLogprobs = 10;
        const ChatOutcome o = runOne(client, req);
        QVERIFY2(o.ok(), o.errorMessage().c_str());
        const nlohmann::json sent = server.requests().at(0).json;
        QCOMPARE(sent.value("logprobs", false), true);
        QCOMPARE(sent.value("top_logprobs", 0), 10);
        QVERIFY(o.response.firstTokenLogprobs);
        QCOMPARE(QString::fromStdString(o.response.firstTokenLogprobs->at(0).token), tokens[0]);
        const auto no = std::find_if(o.response.firstTokenLogprobs->begin(), o.response.firstTokenLogprobs->end(),
                                     [&](const TokenLogprob& t) { return QString::fromStdString(t.token) == tokens[1]; });
        QVERIFY(no != o.response.firstTokenLogprobs->end());
        QVERIFY(std::fabs(no->logprob - std::log(0.2)) < 1e-12);
        QVERIFY(std::fabs(*yesProbability(*o.response.firstTokenLogprobs) - 0.7894736842105263) < 1e-12);
        QVERIFY(o.response.parameters.find("\"top_logprobs\":10") != std::string::npos);
        const ChatOutcome again = runOne(client, req);  // from the cache, candidates included
        QVERIFY(again.ok() && again.response.cached);
        QCOMPARE(server.requestCount(), 1);
        QVERIFY(again.response.firstTokenLogprobs);
        QCOMPARE(*yesProbability(*again.response.firstTokenLogprobs), *yesProbability(*o.response.firstTokenLogprobs));
    }

    // Yes/No-only servers: one that ignores logprobs, one that refuses them with a 400 (then every
    // later request of the endpoint goes without, as for max_tokens).
    void serversWithoutLogprobsFallBack() {
        LlmTestServer ignoring;
        OpenAiChatClient plain(endpointFor(ignoring), fastOptions());
        ChatRequest req = ask("is it?", 1);
        req.topLogprobs = 5;
        const ChatOutcome o = runOne(plain, req);
        QVERIFY(o.ok());
        QVERIFY(!o.response.firstTokenLogprobs);

        LlmTestServer refusing;
        refusing.setHandler([](const ReceivedRequest& r) {
            if (r.json.contains("logprobs") || r.json.contains("top_logprobs"))
                return badRequest(R"({"error": {"message": "logprobs is not supported with this model", "type": "invalid_request_error", "param": "logprobs", "code": "unsupported_parameter"}})");
            return ServerAction::ok("No");
        });
        ClientOptions one = fastOptions();
        one.concurrency = 1;
        OpenAiChatClient client(endpointFor(refusing, "no-logprobs-model"), one);
        const ChatOutcome first = runOne(client, req);
        QVERIFY2(first.ok(), first.errorMessage().c_str());
        QCOMPARE(QString::fromStdString(first.response.content), QStringLiteral("No"));
        QVERIFY(!first.response.firstTokenLogprobs);
        QCOMPARE(first.response.attempts, 2);
        QCOMPARE(QString::fromStdString(first.response.parameters), QStringLiteral("{\"max_tokens\":1}"));
        const ChatOutcome second = runOne(client, req);
        QCOMPARE(second.response.attempts, 1);  // remembered for the endpoint
        QCOMPARE(refusing.requestCount(), 3);
        QCOMPARE(QString::fromStdString(unsupportedParameter(R"({"error": {"message": "top_logprobs must be between 0 and 5"}})")),
                 QStringLiteral("logprobs"));
    }

    void yesProbabilityEdgeCases() {
        QCOMPARE(QString::fromStdString(answerWord(" \u2581YES \n")), QStringLiteral("yes"));
        QCOMPARE(QString::fromStdString(answerWord("\u0120No")), QStringLiteral("no"));
        QCOMPARE(QString::fromStdString(answerWord("Nope")), QStringLiteral("nope"));
        QVERIFY(!yesProbability({{"Maybe", -0.1}, {"Perhaps", -2}}));  // neither: no p(Yes)
        QCOMPARE(*yesProbability({{"Yes", -0.1}}), 1.0);
        QCOMPARE(*yesProbability({{"No", -0.1}, {"yes", -9999.0}}), 0.0);  // the servers' "very unlikely"
        // Far below exp's range: shifted by the largest, still a ratio (1 / (1 + e^-1)).
        QVERIFY(std::fabs(*yesProbability({{"Yes", -800.0}, {"No", -801.0}}) - 1 / (1 + std::exp(-1.0))) < 1e-12);
        // Whitespace tokens and a leading think block are skipped: the answer token is "No".
        const nlohmann::json choice = {{"logprobs", {{"content", {{{"token", "<think>"}, {"logprob", 0}},
                                                                 {{"token", "hmm"}, {"logprob", 0}},
                                                                 {{"token", "</think>"}, {"logprob", 0}},
                                                                 {{"token", "\n"}, {"logprob", 0}},
                                                                 {{"token", "No"}, {"logprob", -0.5},
                                                                  {"top_logprobs", {{{"token", "Yes"}, {"logprob", -1.5}}}}}}}}}};
        const auto c = firstAnswerTokenLogprobs(choice);
        QVERIFY(c && c->size() == 2);
        QVERIFY(std::fabs(*yesProbability(*c) - 1 / (1 + std::exp(1.0))) < 1e-12);
        // llama.cpp with post_sampling_probs: probabilities, not logs.
        const nlohmann::json post = {{"logprobs", {{"content", {{{"token", "Yes"}, {"prob", 0.6},
                                                                 {"top_probs", {{{"token", "No"}, {"prob", 0.2}}}}}}}}}};
        QVERIFY(std::fabs(*yesProbability(*firstAnswerTokenLogprobs(post)) - 0.75) < 1e-12);
        QVERIFY(!firstAnswerTokenLogprobs(nlohmann::json{{"logprobs", nullptr}}));
        QVERIFY(!firstAnswerTokenLogprobs(nlohmann::json::object()));
    }

    // A 404 for the model names it and lists the server's /models; without a list, a hint.
    void modelNotFoundListsTheServersModels() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            if (r.method == "GET" && r.path == "/v1/models") {
                ServerAction a;
                a.body = R"({"object": "list", "data": [{"id": "gpt-5-mini"}, {"id": "llama-3.3-70b"}]})";
                return a;
            }
            return ServerAction::error(404, "The model `gpt-9` does not exist or you do not have access to it.");
        });
        OpenAiChatClient client(endpointFor(server, "gpt-9"), fastOptions());
        const ChatOutcome o = runOne(client, ask("a"));
        QVERIFY(!o.ok());
        const QString m = QString::fromStdString(o.errorMessage());
        QVERIFY2(m.contains("HTTP 404") && m.contains("model 'gpt-9' not found") && m.contains("the server offers: gpt-5-mini, llama-3.3-70b"),
                 qPrintable(m));
        const auto got = server.requests();
        QCOMPARE(int(got.size()), 2);  // not retried; one GET /models
        QCOMPARE(got[1].headers.at("authorization"), std::string("Bearer ") + kSecretKey);
        server.setHandler([](const ReceivedRequest&) { return ServerAction::error(404, "Not found"); });
        const QString m2 = QString::fromStdString(runOne(client, ask("b")).errorMessage());
        QVERIFY2(m2.contains("model 'gpt-9' not found") && m2.contains("check the base URL and the model name"), qPrintable(m2));
    }

    // Reasoning apart (reasoning_content) or inline (<think>): the answer is what counts; both cached.
    void reasoningFieldsAndInlineThinking() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest& r) {
            ServerAction a;
            if (r.lastUserMessage() == "apart")
                a.body = R"({"choices": [{"message": {"content": "Yes", "reasoning_content": "the excerpt says so"}, "finish_reason": "stop"}]})";
            else
                a.body = R"({"choices": [{"message": {"content": "<think>hmm</think> No"}, "finish_reason": "stop"}]})";
            return a;
        });
        QTemporaryDir dir;
        auto cache = std::make_shared<ResponseCache>(dir.path());
        for (int run = 0; run < 2; ++run) {
            CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
            const auto out = client.runAll({ask("apart"), ask("inline")});
            QVERIFY(out[0].ok() && out[1].ok());
            QCOMPARE(out[0].response.cached, run == 1);
            QCOMPARE(QString::fromStdString(out[0].response.content), QStringLiteral("Yes"));
            QCOMPARE(QString::fromStdString(out[0].response.reasoning), QStringLiteral("the excerpt says so"));
            QCOMPARE(QString::fromStdString(out[1].response.content), QStringLiteral("<think>hmm</think> No"));
            QCOMPARE(QString::fromStdString(out[0].response.parameters), QStringLiteral("{\"max_tokens\":200}"));
        }
        QCOMPARE(server.requestCount(), 2);
    }

    // Refusals and empty answers are never cached: a rerun asks again.
    void noAnswerIsNeverCached() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest&) {
            ServerAction a;
            a.body = R"({"choices": [{"message": {"content": null, "refusal": "No."}, "finish_reason": "stop"}]})";
            return a;
        });
        QTemporaryDir dir;
        auto cache = std::make_shared<ResponseCache>(dir.path());
        for (int run = 0; run < 2; ++run) {
            CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
            QVERIFY(!runOne(client, ask("x")).ok());
        }
        QCOMPARE(server.requestCount(), 2);
        QCOMPARE(countFiles(dir.path()), 0);
    }

    // Server-reported token counts are bounded before they are added up (no overflow).
    void hugeTokenCountsDoNotOverflow() {
        LlmTestServer server;
        server.setHandler([](const ReceivedRequest&) {
            ServerAction a;
            a.body = R"({"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 18446744073709551615, "completion_tokens": -7}})";
            return a;
        });
        OpenAiChatClient client(endpointFor(server), fastOptions());
        const auto out = client.runAll({ask("a"), ask("b"), ask("c")});
        for (const auto& o : out) {
            QVERIFY(o.ok());
            QCOMPARE(o.response.usage.promptTokens, int64_t(1000000000000));
            QCOMPARE(o.response.usage.completionTokens, int64_t(0));
        }
        QCOMPARE(client.stats().usage.promptTokens, int64_t(3000000000000));
        QCOMPARE(clampTokens(std::numeric_limits<int64_t>::max()), int64_t(1000000000000));
    }

    // A reply that cannot be written to the cache is delivered, and the failure is reported.
    void cacheWriteFailuresAreReported() {
        LlmTestServer server;
        QTemporaryDir dir;
        {
            QFile blocker(dir.path() + "/file");
            QVERIFY(blocker.open(QIODevice::WriteOnly));
        }
        auto cache = std::make_shared<ResponseCache>(dir.path() + "/file/cache");  // under a file: unwritable
        CachedLlmClient client(std::make_shared<OpenAiChatClient>(endpointFor(server), fastOptions()), cache);
        const auto out = client.runAll({ask("a"), ask("b")});
        QVERIFY(out[0].ok() && out[1].ok());
        QCOMPARE(client.storeFailures(), int64_t(2));
        QVERIFY2(QString::fromStdString(client.firstStoreError()).contains(dir.path() + "/file/cache"), client.firstStoreError().c_str());
    }

    void defaultCacheDirectoryFollowsXdg() {
        qputenv("XDG_CACHE_HOME", "/tmp/hl-xdg-cache-test");
        QCOMPARE(ResponseCache::defaultDirectory(), QStringLiteral("/tmp/hl-xdg-cache-test/headlight/llm"));
        qunsetenv("XDG_CACHE_HOME");
    }
};

QTEST_GUILESS_MAIN(TestLlm)
#include "test_llm.moc"
