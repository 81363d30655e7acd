// LLM client throughput: 1,000 chat requests against the loopback Chat Completions test server with
// 200 ms latency per request, at the default concurrency (16), then the same 1,000 again from the
// response cache. Goals: under 15 s uncached, under 1 s cached. Prints one line each:
//   llm_requests_s_uncached <seconds>
//   llm_requests_s_cached <seconds>
#include <cstdio>
#include <memory>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include "core/llm/llm_client.h"
#include "core/llm/response_cache.h"
#include "tests/llm_test_server.h"

using namespace headlight;

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const int requests = argc > 1 ? std::atoi(argv[1]) : 1000;
    test::LlmTestServer server;
    server.setHandler([](const test::ReceivedRequest& r) { return test::ServerAction::ok("re: " + r.lastUserMessage(), 200); });
    QTemporaryDir dir;
    auto cache = std::make_shared<llm::ResponseCache>(dir.path());
    llm::Endpoint endpoint;
    endpoint.baseUrl = server.baseUrl().toStdString();
    endpoint.model = "bench-model";
    std::vector<llm::ChatRequest> batch;
    for (int i = 0; i < requests; ++i) {
        llm::ChatRequest r;
        r.messages = {{"user", "Explain head " + std::to_string(i) + " of the benchmark study, please."}};
        batch.push_back(std::move(r));
    }
    double seconds[2] = {0, 0};
    for (int pass = 0; pass < 2; ++pass) {
        llm::CachedLlmClient client(std::make_shared<llm::OpenAiChatClient>(endpoint, llm::ClientOptions{}), cache);
        QElapsedTimer timer;
        timer.start();
        const auto outcomes = client.runAll(batch);
        seconds[pass] = timer.nsecsElapsed() / 1e9;
        int failures = 0;
        for (const auto& o : outcomes) failures += o.ok() ? 0 : 1;
        if (failures) {
            std::fprintf(stderr, "%d requests failed, first: %s\n", failures, outcomes[0].errorMessage().c_str());
            return 1;
        }
        if (pass == 1 && client.hits() != requests) {
            std::fprintf(stderr, "cached pass: %lld hits of %d\n", static_cast<long long>(client.hits()), requests);
            return 1;
        }
    }
    std::printf("llm_requests_s_uncached %.3f\n", seconds[0]);
    std::printf("llm_requests_s_cached %.3f\n", seconds[1]);
    std::fflush(stdout);
    std::fprintf(stderr, "(%d requests, 200 ms latency each, concurrency %d, server saw at most %d at once)\n", requests,
                 llm::ClientOptions{}.concurrency, server.maxConcurrent());
    return 0;
}
