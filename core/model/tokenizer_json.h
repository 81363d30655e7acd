// Private part of the tokenizer: reading tokenizer.json. The file is parsed once, with the two big parts of
// a BPE model (the vocabulary and the merges, hundreds of thousands of entries for the newer families)
// streamed straight into flat lists instead of a JSON tree; and the field readers every stage uses, each
// failing with one line that names the file, the stage and the field. Not part of the public interface.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <QString>

namespace headlight::tokenizer_detail {

[[noreturn]] void fail(const std::string& where, const std::string& what);

// A tokenizer.json as read: the JSON tree of everything but model.vocab and model.merges (left null in the
// tree when they were streamed), and those two as lists in file order.
struct TokenizerJson {
    nlohmann::json root;
    bool vocabStreamed = false;  // model.vocab was a JSON object of token: id
    bool mergesStreamed = false;  // model.merges was a list
    std::vector<std::pair<std::string, int>> vocab;
    std::vector<std::pair<std::string, std::string>> merges;
};

// Reads and parses a tokenizer.json (or any JSON file: vocab.json) at `path`; `where` starts every error.
TokenizerJson readTokenizerJson(const QString& path, const std::string& where);
nlohmann::json readJsonFile(const QString& path, const std::string& where);
QByteArray readFileBytes(const QString& path, const std::string& where);

// The entries of a JSON object of token: id (vocab.json, or model.vocab when it was not streamed).
std::vector<std::pair<std::string, int>> parseVocabObject(const nlohmann::json& vocab, const std::string& where);

// Field readers. `what` names the stage in messages ("normalizer Replace"); an absent or null field gives
// the fallback where there is one.
bool isNull(const nlohmann::json& j, const char* key);
std::string typeOf(const nlohmann::json& j, const std::string& where, const std::string& what);
bool boolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& where, const std::string& what);
QString stringField(const nlohmann::json& j, const char* key, const std::string& where, const std::string& what);
int intField(const nlohmann::json& j, const char* key, int fallback, const std::string& where, const std::string& what);
const nlohmann::json& arrayField(const nlohmann::json& j, const char* key, const std::string& where, const std::string& what);
// A single character (one code point) as the steps that replace or strip one character want it.
QString singleCharField(const nlohmann::json& j, const char* key, const std::string& where, const std::string& what);

// Metaspace's prepend_scheme (pre-tokenizer and decoder), or the older add_prefix_space.
enum class PrependScheme { Always, First, Never };
PrependScheme parsePrependScheme(const nlohmann::json& j, const std::string& where, const std::string& what);

}  // namespace headlight::tokenizer_detail
