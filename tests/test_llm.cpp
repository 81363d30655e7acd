// The LLM client and its response cache against a real HTTP server on 127.0.0.1 (tests/llm_test_server):
// the Chat Completions protocol, bounded concurrency, retries (429 with Retry-After, 5xx, truncated
// bodies, reset connections, hangs past the timeout), clear final errors (401, 400, malformed JSON),
// cancellation, usage and cost, and the cache (a rerun sends nothing; the key is never written).
#include <algorithm>
#include <atomic>
#include <chrono>
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
    o.maxAttempts = 4;
    o.initialBackoffMs = 10;
    o.maxBackoffMs = 50;
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

    void retryAfterPausesNewRequests() {
        LlmTestServer server;
        QElapsedTimer clock;
        clock.start();
        std::mutex mutex;
        std::vector<qint64> arrivals;
        server.setHandler([&](const ReceivedRequest& r) {
            {
                std::lock_guard<std::mutex> lock(mutex);
                arrivals.push_back(clock.elapsed());
            }
            if (r.index == 0) return ServerAction::error(429, "slow down", {{"Retry-After", "1"}});
            return ServerAction::ok("ok", 100);
        });
        OpenAiChatClient client(endpointFor(server), fastOptions());  // concurrency 4
        std::vector<ChatRequest> reqs;
        for (int i = 0; i < 10; ++i) reqs.push_back(ask("p" + std::to_string(i)));
        const auto out = client.runAll(reqs);
        for (const auto& o : out) QVERIFY2(o.ok(), o.errorMessage().c_str());
        std::lock_guard<std::mutex> lock(mutex);
        QCOMPARE(int(arrivals.size()), 11);
        // The first 4 were sent at once; every later one (the 6 queued and the retry) waited for the
        // pause to end, although slots were free after 100 ms.
        std::sort(arrivals.begin(), arrivals.end());
        for (std::size_t i = 4; i < arrivals.size(); ++i)
            QVERIFY2(arrivals[i] >= arrivals[0] + 950, qPrintable(QString::number(arrivals[i] - arrivals[0])));
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
        o.maxAttempts = 3;
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
        QVERIFY2(message(2).contains("not valid JSON"), qPrintable(message(2)));
        QVERIFY2(message(3).contains("choices[0].message.content"), qPrintable(message(3)));
        QVERIFY2(message(4).contains("truncated") && message(4).contains("after 3 attempts"), qPrintable(message(4)));
        QVERIFY2(message(5).contains("timeout") && message(5).contains("after 3 attempts"), qPrintable(message(5)));
        QVERIFY2(message(6).contains("HTTP 500") && message(6).contains("always broken") && message(6).contains("after 3 attempts"),
                 qPrintable(message(6)));
        for (int i = 0; i < int(qs.size()); ++i) QVERIFY(!message(i).contains(kSecretKey));
        // Not retried: 401, 400, malformed, no choices.
        int n401 = 0, nMalformed = 0, n500 = 0;
        for (const auto& r : server.requests()) {
            n401 += r.lastUserMessage() == "401";
            nMalformed += r.lastUserMessage() == "malformed";
            n500 += r.lastUserMessage() == "500";
        }
        QCOMPARE(n401, 1);
        QCOMPARE(nMalformed, 1);
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

    void defaultCacheDirectoryFollowsXdg() {
        qputenv("XDG_CACHE_HOME", "/tmp/hl-xdg-cache-test");
        QCOMPARE(ResponseCache::defaultDirectory(), QStringLiteral("/tmp/hl-xdg-cache-test/headlight/llm"));
        qunsetenv("XDG_CACHE_HOME");
    }
};

QTEST_GUILESS_MAIN(TestLlm)
#include "test_llm.moc"
