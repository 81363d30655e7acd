// bench/tokenizer_throughput: how fast a tokenizer encodes real text, in MB of UTF-8 per second (one thread).
// Usage: bench_tokenizer_throughput [corpus.jsonl] [tokenizer folder]   ("" for the default corpus)
//   defaults: ${HEADLIGHT_FIXTURES}/corpora/mix_en/train.jsonl and ${HEADLIGHT_FIXTURES}/tokenizers/gpt2.
// Prints "tokenizer_load_s <value>" (reading tokenizer.json, CPU seconds) and "tokenizer_throughput_MBps <value>"
// on stdout, the token count and timing on stderr. A corpus of "-" measures the load only.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <QString>

#include "core/base/error.h"
#include "core/model/tokenizer.h"

int main(int argc, char** argv) {
    const std::string fixtures = HEADLIGHT_FIXTURES_DIR;
    // An empty argument means the default, so that a tokenizer can be named without a corpus.
    auto argument = [&](int i, const std::string& fallback) {
        return argc > i && argv[i][0] != '\0' ? std::string(argv[i]) : fallback;
    };
    const std::string corpusPath = argument(1, fixtures + "/corpora/mix_en/train.jsonl");
    const std::string tokenizerDir = argument(2, fixtures + "/tokenizers/gpt2");
    try {
        const std::clock_t loadStart = std::clock();
        const auto loadWallStart = std::chrono::steady_clock::now();
        const auto tokenizer = headlight::Tokenizer::fromFolder(QString::fromStdString(tokenizerDir));
        const double loadSeconds = static_cast<double>(std::clock() - loadStart) / CLOCKS_PER_SEC;
        const double loadWall = std::chrono::duration<double>(std::chrono::steady_clock::now() - loadWallStart).count();
        std::cerr << "loaded " << tokenizer.source().toStdString() << " (" << tokenizer.vocabSize() << " ids) in " << loadWall
                  << " s (CPU " << loadSeconds << " s)\n";
        std::printf("tokenizer_load_s %.3f\n", loadSeconds);
        if (corpusPath == "-") return 0;

        // Parse the JSON Lines first: the figure is for tokenizing, not for reading JSON.
        std::ifstream in(corpusPath);
        if (!in) throw headlight::Error("corpus " + corpusPath + ": cannot open");
        std::vector<std::string> texts;
        size_t bytes = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            const auto row = nlohmann::json::parse(line);
            texts.push_back(row.at("text").get<std::string>());
            bytes += texts.back().size();
        }
        const auto start = std::chrono::steady_clock::now();
        const std::clock_t cpuStart = std::clock();
        size_t tokens = 0;
        std::uint64_t checksum = 1469598103934665603ULL;  // FNV-1a over the ids: equal ids, equal checksum
        for (const std::string& text : texts) {
            const std::vector<int> ids = tokenizer.encodeUtf8(text).ids;
            tokens += ids.size();
            for (int id : ids) checksum = (checksum ^ static_cast<std::uint32_t>(id)) * 1099511628211ULL;
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpuSeconds = static_cast<double>(std::clock() - cpuStart) / CLOCKS_PER_SEC;

        std::cerr << texts.size() << " texts, " << bytes << " bytes, " << tokens << " tokens (ids checksum " << std::hex << checksum
                  << std::dec << ") in " << seconds << " s (CPU " << cpuSeconds << " s; "
                  << tokenizer.kind() << ", " << tokenizer.source().toStdString() << ")\n";
        std::printf("tokenizer_throughput_MBps %.2f\n", static_cast<double>(bytes) / 1e6 / seconds);
        std::printf("tokenizer_throughput_cpu_MBps %.2f\n", static_cast<double>(bytes) / 1e6 / cpuSeconds);
    } catch (const std::exception& e) {
        std::cerr << "bench_tokenizer_throughput: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
