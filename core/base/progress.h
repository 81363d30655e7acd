// Progress reporting and cooperative cancellation for long jobs (scans, explanations, downloads).
// Steps take a Progress& and call report(); they call throwIfCancelled() at safe points.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/base/error.h"

namespace headlight {

// A flag shared between the job and whoever may cancel it (GUI button, SIGINT handler).
class CancellationToken {
public:
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    bool isCancelled() const { return cancelled_.load(std::memory_order_relaxed); }
    void throwIfCancelled() const {
        if (isCancelled()) throw Cancelled();
    }

private:
    std::atomic<bool> cancelled_{false};
};

// A sink for progress: done out of total units, with a short message. Thread-safe if the callback is.
class Progress {
public:
    using Callback = std::function<void(int64_t done, int64_t total, const std::string& message)>;

    Progress() = default;
    explicit Progress(Callback callback, const CancellationToken* token = nullptr)
        : callback_(std::move(callback)), token_(token) {}

    void report(int64_t done, int64_t total, const std::string& message = {}) const {
        if (callback_) callback_(done, total, message);
    }
    bool isCancelled() const { return token_ && token_->isCancelled(); }
    void throwIfCancelled() const {
        if (isCancelled()) throw Cancelled();
    }
    const CancellationToken* token() const { return token_; }

private:
    Callback callback_;
    const CancellationToken* token_ = nullptr;
};

}  // namespace headlight
