// Log-probabilities of a Chat Completions reply (request `logprobs: true, top_logprobs: N`) and the
// classifier's probability of "Yes" read from them. Servers of 2026 spell them three ways, all read here:
//   OpenAI    choices[0].logprobs.content[i] = {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}
//             (a logprob of -9999.0 stands for "very unlikely")
//   vLLM      the same shape (top_logprobs may be null); vLLM 0.3 (its first chat logprobs) sent the
//             legacy Completions shape instead: {tokens: [...], token_logprobs: [...], top_logprobs: [{token: logprob}]}
//   llama.cpp server: the OpenAI shape with an `id` per token (the float lowest, -3.4e38, for a zero
//             probability); with post_sampling_probs: `prob` and `top_probs` (probabilities, not logs)
// A server that sends no logprobs field (or null) gives none; the score then rests on the Yes/No answer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace headlight::llm {

// One candidate for a token position: its text and natural-log probability.
struct TokenLogprob {
    std::string token;
    double logprob = 0;
};

// The candidates of the first answer token of choices[0] (the sampled token first, then its top
// alternatives; a token listed twice is kept once): whitespace-only tokens and a leading
// <think>...</think> block are skipped. Empty when the reply carries no (readable) log-probabilities.
std::optional<std::vector<TokenLogprob>> firstAnswerTokenLogprobs(const nlohmann::json& choice);

// The candidate's answer word: the token without leading spaces or word markers (U+2581 of
// SentencePiece, U+0120 of byte-level BPE) and trailing spaces, lower-cased: "yes", "no" or other.
std::string answerWord(const std::string& token);

// p(Yes) = sum of exp(logprob) over the "yes" candidates / the same over "yes" and "no" (every case and
// leading-space variant counts). Log-probabilities at or below -9999 are the servers' "very unlikely"
// placeholders and count as 0. Empty when no candidate is a yes or a no.
std::optional<double> yesProbability(const std::vector<TokenLogprob>& candidates);

}  // namespace headlight::llm
