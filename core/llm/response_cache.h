// On-disk cache of LLM replies, so that a rerun (or a resumed, interrupted run) sends nothing and pays
// nothing, and gives identical results. An entry is keyed by the SHA-256 of the exact request: the
// endpoint URL and the request body (model, messages, max_tokens, temperature) — never the API key,
// which is not part of either. One JSON file per entry, DIR/ab/abcdef....json, written atomically.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <QString>
#include <QThreadPool>
#include <nlohmann/json.hpp>

#include "core/llm/llm_client.h"

namespace headlight::llm {

class ResponseCache {
public:
    // `directory` is created on first store. Empty: defaultDirectory().
    explicit ResponseCache(QString directory = {});

    // $XDG_CACHE_HOME/headlight/llm (QStandardPaths::GenericCacheLocation + "/headlight/llm").
    static QString defaultDirectory();
    // Hex SHA-256 of url + "\n" + the compact JSON of `body`.
    static std::string keyOf(const std::string& url, const nlohmann::ordered_json& body);

    const QString& directory() const { return directory_; }
    QString pathOf(const std::string& key) const;

    // A stored reply for `key` whose recorded request equals (url, body); empty when there is none or
    // the file is unreadable or corrupt (a corrupt entry is treated as absent and later overwritten).
    std::optional<ChatResponse> find(const std::string& key, const std::string& url, const nlohmann::ordered_json& body) const;
    // Stores a reply atomically. Throws headlight::Error if the file cannot be written.
    void store(const std::string& key, const std::string& url, const nlohmann::ordered_json& body,
               const ChatResponse& response) const;

private:
    QString directory_;
};

// An LlmClient that answers from a ResponseCache when it can and otherwise asks `inner`, storing what
// comes back (on threads of its own, before the reply is delivered, so that the network thread never
// waits for the disk). Errors and replies without an answer are never cached. A reply that cannot be
// stored is still delivered; storeFailures() / firstStoreError() say so (a rerun would pay again).
class CachedLlmClient : public LlmClient {
public:
    CachedLlmClient(std::shared_ptr<LlmClient> inner, std::shared_ptr<ResponseCache> cache);
    ~CachedLlmClient() override;  // waits for pending stores

    void submit(const ChatRequest& request, Callback done, const CancellationToken* token = nullptr) override;
    const Endpoint& endpoint() const override { return inner_->endpoint(); }

    int64_t hits() const { return hits_.load(); }
    int64_t misses() const { return misses_.load(); }
    int64_t storeFailures() const { return storeFailures_.load(); }
    std::string firstStoreError() const;  // "" when every store succeeded
    LlmClient& inner() { return *inner_; }

private:
    // Declaration order matters: the inner client's shutdown may still hand replies to the store pool.
    void noteStoreFailure(const std::string& message);
    std::atomic<int64_t> hits_{0}, misses_{0}, storeFailures_{0};
    mutable std::mutex storeErrorMutex_;
    std::string firstStoreError_;
    std::unique_ptr<QThreadPool> storePool_;
    std::shared_ptr<ResponseCache> cache_;
    std::shared_ptr<LlmClient> inner_;
};

}  // namespace headlight::llm
