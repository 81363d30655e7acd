#include "core/llm/logprobs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace headlight::llm {

using nlohmann::json;

namespace {

constexpr double kVeryUnlikely = -9999.0;  // OpenAI's and vLLM's placeholder; llama.cpp's lowest float is below

// {token, logprob} or {token, prob} of one entry; empty when neither is a number.
std::optional<TokenLogprob> readEntry(const json& entry) {
    if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string()) return std::nullopt;
    TokenLogprob t{entry["token"].get<std::string>(), 0};
    if (entry.contains("logprob") && entry["logprob"].is_number()) {
        t.logprob = entry["logprob"].get<double>();
    } else if (entry.contains("prob") && entry["prob"].is_number()) {
        const double p = entry["prob"].get<double>();
        t.logprob = p > 0 ? std::log(p) : std::numeric_limits<double>::lowest();  // finite: JSON-safe
    } else {
        return std::nullopt;
    }
    return t;
}

void addCandidate(std::vector<TokenLogprob>& out, TokenLogprob t) {
    for (const TokenLogprob& c : out)
        if (c.token == t.token) return;
    out.push_back(std::move(t));
}

bool blank(const std::string& token) {
    return std::all_of(token.begin(), token.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

// Index of the first answer token among `tokens`: not blank, not inside a leading <think> block.
template <typename TokenAt>
std::optional<std::size_t> firstAnswer(std::size_t count, TokenAt tokenAt) {
    bool thinking = false;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string token = tokenAt(i);
        if (token.find("<think>") != std::string::npos) thinking = true;
        if (thinking) {
            if (token.find("</think>") != std::string::npos) thinking = false;
            continue;
        }
        if (!blank(token)) return i;
    }
    return std::nullopt;
}

// OpenAI / vLLM / llama.cpp: logprobs.content = [{token, logprob, top_logprobs | top_probs}].
std::optional<std::vector<TokenLogprob>> fromContent(const json& content) {
    const auto at = firstAnswer(content.size(), [&](std::size_t i) {
        return content[i].is_object() ? content[i].value("token", std::string()) : std::string();
    });
    if (!at) return std::nullopt;
    const json& entry = content[*at];
    std::vector<TokenLogprob> out;
    if (auto t = readEntry(entry)) addCandidate(out, std::move(*t));
    for (const char* key : {"top_logprobs", "top_probs"})
        if (entry.contains(key) && entry[key].is_array())
            for (const json& alt : entry[key])
                if (auto t = readEntry(alt)) addCandidate(out, std::move(*t));
    if (out.empty()) return std::nullopt;
    return out;
}

// vLLM 0.3: {tokens: [...], token_logprobs: [...], top_logprobs: [{token: logprob, ...}]}.
std::optional<std::vector<TokenLogprob>> fromLegacy(const json& logprobs) {
    const json& tokens = logprobs["tokens"];
    const auto at = firstAnswer(tokens.size(), [&](std::size_t i) {
        return tokens[i].is_string() ? tokens[i].get<std::string>() : std::string();
    });
    if (!at) return std::nullopt;
    std::vector<TokenLogprob> out;
    const json& lps = logprobs.value("token_logprobs", json());
    if (lps.is_array() && *at < lps.size() && lps[*at].is_number())
        addCandidate(out, {tokens[*at].get<std::string>(), lps[*at].get<double>()});
    const json& tops = logprobs.value("top_logprobs", json());
    if (tops.is_array() && *at < tops.size() && tops[*at].is_object())
        for (const auto& [token, lp] : tops[*at].items())
            if (lp.is_number()) addCandidate(out, {token, lp.get<double>()});
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace

std::optional<std::vector<TokenLogprob>> firstAnswerTokenLogprobs(const json& choice) {
    if (!choice.is_object() || !choice.contains("logprobs")) return std::nullopt;
    const json& logprobs = choice["logprobs"];
    if (!logprobs.is_object()) return std::nullopt;
    if (logprobs.contains("content") && logprobs["content"].is_array()) return fromContent(logprobs["content"]);
    if (logprobs.contains("tokens") && logprobs["tokens"].is_array()) return fromLegacy(logprobs);
    return std::nullopt;
}

std::string answerWord(const std::string& token) {
    static const std::string kSentencePieceSpace = "\xE2\x96\x81", kByteLevelSpace = "\xC4\xA0";
    std::size_t begin = 0;
    for (bool more = true; more;) {
        more = false;
        if (begin < token.size() && std::isspace(static_cast<unsigned char>(token[begin]))) {
            ++begin;
            more = true;
        }
        for (const std::string* marker : {&kSentencePieceSpace, &kByteLevelSpace})
            if (token.compare(begin, marker->size(), *marker) == 0) {
                begin += marker->size();
                more = true;
            }
    }
    std::size_t end = token.size();
    while (end > begin && std::isspace(static_cast<unsigned char>(token[end - 1]))) --end;
    std::string word = token.substr(begin, end - begin);
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return word;
}

std::optional<double> yesProbability(const std::vector<TokenLogprob>& candidates) {
    std::vector<std::pair<bool, double>> answers;  // (yes?, logprob)
    for (const TokenLogprob& c : candidates) {
        const std::string word = answerWord(c.token);
        if ((word == "yes" || word == "no") && std::isfinite(c.logprob) && c.logprob > kVeryUnlikely)
            answers.emplace_back(word == "yes", c.logprob);
    }
    if (answers.empty()) return std::nullopt;
    double top = -std::numeric_limits<double>::infinity();
    for (const auto& a : answers) top = std::max(top, a.second);
    double yes = 0, all = 0;
    for (const auto& [isYes, lp] : answers) {
        const double p = std::exp(lp - top);  // shifted by the largest: no underflow to 0/0
        all += p;
        if (isYes) yes += p;
    }
    return yes / all;
}

}  // namespace headlight::llm
