// One retry policy for the clients that talk to servers (the LLM client; the hub client can take it
// too): which HTTP statuses are transient, how many attempts, the exponential backoff with jitter, and
// how far a server's Retry-After is honoured (capped, as OpenAI's own client caps it at 60 s). QtCore
// only, torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace headlight {

struct RetryPolicy {
    int maxAttempts = 6;           // first try + retries, for transient failures
    int initialBackoffMs = 1000;   // backoff before retry k: min(max, initial * 2^(k-1)) * U(0.5, 1]
    int maxBackoffMs = 60000;      // cap of the exponential backoff
    int maxRetryAfterMs = 60000;   // a server's Retry-After is honoured up to this (then retried anyway)

    // 408, 409, 429 and 5xx: worth another attempt.
    static bool retryableStatus(int httpStatus);
    // True while another attempt is allowed after `attemptsMade`.
    bool mayRetry(int attemptsMade) const;
    // The wait before the next attempt after `attemptsMade` attempts. With the server's Retry-After:
    // that (capped at maxRetryAfterMs) plus up to 10 % so that waiting requests do not all return at
    // once; else the exponential backoff. `unit` is a uniform random number in [0, 1).
    int64_t delayMs(int attemptsMade, std::optional<int64_t> retryAfterMs, double unit) const;
};

// Parses a Retry-After value: delta-seconds ("3", "1.5") or an HTTP date ("Wed, 21 Oct 2015 07:28:00
// GMT"), relative to `nowMsSinceEpoch`. Empty when absent or unparsable; 0 for dates in the past.
std::optional<int64_t> parseRetryAfterMs(const std::string& value, int64_t nowMsSinceEpoch);

}  // namespace headlight
