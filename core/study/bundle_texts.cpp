#include "core/study/bundle_texts.h"

#include <cstdint>

#include "core/base/utf8.h"

namespace headlight {

void spillLongTexts(nlohmann::ordered_json& node, std::string& blob, std::size_t inlineBytes) {
    if (node.is_string()) {
        const std::string& s = node.get_ref<const std::string&>();
        if (s.size() <= inlineBytes) return;
        const auto offset = static_cast<int64_t>(blob.size());
        blob += s;
        node = nlohmann::ordered_json{{"text", {offset, static_cast<int64_t>(s.size())}}};
        return;
    }
    if (node.is_structured())
        for (auto& child : node) spillLongTexts(child, blob, inlineBytes);
}

namespace {

bool isReference(const nlohmann::json& node) {
    return node.is_object() && node.size() == 1 && node.contains("text") && node["text"].is_array();
}

}  // namespace

void restoreLongTexts(nlohmann::json& node, std::string_view blob, const std::function<void(const std::string&)>& fail) {
    if (isReference(node)) {
        const nlohmann::json& ref = node["text"];
        if (ref.size() != 2 || !ref[0].is_number_integer() || !ref[1].is_number_integer())
            fail("a text reference in the metadata is not [offset, length]");
        const auto offset = ref[0].get<int64_t>(), length = ref[1].get<int64_t>();
        if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > blob.size() ||
            static_cast<uint64_t>(length) > blob.size() - static_cast<uint64_t>(offset))
            fail("a text reference in the metadata points outside tensor '" + std::string(kTextsTensor) + "' (" +
                 std::to_string(blob.size()) + " bytes): offset " + std::to_string(offset) + ", length " +
                 std::to_string(length));
        const std::string_view text = blob.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
        if (!isValidUtf8(text))
            fail("tensor '" + std::string(kTextsTensor) + "' bytes " + std::to_string(offset) + ".." +
                 std::to_string(offset + length) + " are not valid UTF-8");
        node = std::string(text);
        return;
    }
    if (node.is_structured())
        for (auto& child : node) restoreLongTexts(child, blob, fail);
}

}  // namespace headlight
