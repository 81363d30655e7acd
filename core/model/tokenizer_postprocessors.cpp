// Post-processors: the special tokens encode(text, add_special_tokens=true) puts around one sequence.
#include "core/model/tokenizer_pipeline.h"

#include <climits>

#include <nlohmann/json.hpp>
#include <QStringList>

#include "core/model/tokenizer_json.h"

namespace headlight::tokenizer_detail {

using nlohmann::json;

namespace {

// The ids of one special token of a TemplateProcessing, from its "special_tokens" table (HF refuses a
// template whose special token is missing there, and so do we).
std::vector<int> templateSpecialIds(const json& j, const std::string& token, const std::string& where) {
    const std::string what = "post-processor TemplateProcessing";
    if (isNull(j, "special_tokens") || !j.at("special_tokens").is_object() || !j.at("special_tokens").contains(token))
        fail(where, what + ": special token '" + token + "' of the template is missing from 'special_tokens'");
    const json& entry = j.at("special_tokens").at(token);
    if (!entry.is_object() || !entry.contains("ids") || !entry.at("ids").is_array() || entry.at("ids").empty())
        fail(where, what + ": special token '" + token + "' needs a list of 'ids'");
    std::vector<int> ids;
    for (const json& id : entry.at("ids")) {
        if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > INT32_MAX)
            fail(where, what + ": special token '" + token + "' has an id that is not a non-negative integer");
        ids.push_back(static_cast<int>(id.get<long long>()));
    }
    return ids;
}

// One item of the "single" template: a special token's name, or nothing for the sequence ($A).
std::optional<std::string> templateItem(const json& item, const std::string& where) {
    const std::string what = "post-processor TemplateProcessing";
    if (item.is_string()) {
        // Short form, one word of "<s>:0 $A:0": the name up to an optional ":type_id".
        const std::string word = item.get<std::string>();
        if (!word.empty() && word[0] == '$') return std::nullopt;
        const size_t colon = word.rfind(':');
        return colon != std::string::npos && colon > 0 ? word.substr(0, colon) : word;
    }
    if (item.is_object() && item.contains("Sequence")) return std::nullopt;
    if (item.is_object() && item.contains("SpecialToken")) {
        const json& special = item.at("SpecialToken");
        if (special.is_object() && special.contains("id") && special.at("id").is_string()) return special.at("id").get<std::string>();
        fail(where, what + " has a SpecialToken without an id");
    }
    fail(where, what + ": a template item must be a SpecialToken or a Sequence");
}

PostProcessor templateProcessing(const json& j, const std::string& where) {
    const std::string what = "post-processor TemplateProcessing";
    if (!j.contains("single")) fail(where, what + " needs 'single'");
    json items = j.at("single");
    if (items.is_string()) {
        json words = json::array();
        for (const QString& word : QString::fromStdString(items.get<std::string>()).split(u' ', Qt::SkipEmptyParts))
            words.push_back(word.toStdString());
        items = words;
    }
    if (!items.is_array()) fail(where, what + " 'single' must be a list or a string");
    PostProcessor out;
    int sequences = 0;
    for (const json& item : items) {
        const std::optional<std::string> special = templateItem(item, where);
        if (!special) {
            if (++sequences > 1) fail(where, what + ": a 'single' template with more than one sequence is not supported");
            continue;
        }
        const std::vector<int> ids = templateSpecialIds(j, *special, where);
        std::vector<int>& side = sequences == 0 ? out.before : out.after;
        side.insert(side.end(), ids.begin(), ids.end());
    }
    if (sequences == 0) fail(where, what + ": the 'single' template has no sequence ($A)");
    return out;
}

// RobertaProcessing / BertProcessing: "cls": ["<s>", 0] before, "sep": ["</s>", 2] after.
int clsSepId(const json& j, const char* key, const std::string& where, const std::string& type) {
    if (!j.contains(key) || !j.at(key).is_array() || j.at(key).size() != 2 || !j.at(key)[0].is_string() ||
        !j.at(key)[1].is_number_integer() || j.at(key)[1].get<long long>() < 0 || j.at(key)[1].get<long long>() > INT32_MAX)
        fail(where, "post-processor " + type + " needs '" + key + "': [token, id]");
    return static_cast<int>(j.at(key)[1].get<long long>());
}

}  // namespace

PostProcessor parsePostProcessor(const json& j, const std::string& where) {
    if (j.is_null()) return {};
    const std::string type = typeOf(j, where, "post-processor");
    if (type == "ByteLevel") return {};  // only moves offsets
    if (type == "TemplateProcessing") return templateProcessing(j, where);
    if (type == "RobertaProcessing" || type == "BertProcessing")
        return PostProcessor{{clsSepId(j, "cls", where, type)}, {clsSepId(j, "sep", where, type)}};
    if (type == "Sequence") {
        // Each processor wraps what the previous ones produced.
        PostProcessor all;
        for (const json& step : arrayField(j, "processors", where, "post-processor Sequence")) {
            const PostProcessor inner = parsePostProcessor(step, where);
            all.before.insert(all.before.begin(), inner.before.begin(), inner.before.end());
            all.after.insert(all.after.end(), inner.after.begin(), inner.after.end());
        }
        return all;
    }
    fail(where, "unsupported post-processor type '" + type + "'");
}

}  // namespace headlight::tokenizer_detail
