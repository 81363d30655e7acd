// Headlight's one exception type: every error a user can cause (bad file, bad option, bad input) is
// reported as a headlight::Error whose message names the thing at fault and the problem, in one line.
#pragma once

#include <stdexcept>
#include <string>

namespace headlight {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Raised when a job notices that it was cancelled; callers treat it as "stopped", not as a failure.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace headlight
