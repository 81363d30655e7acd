// Long texts of a bundle's records (explainer prompts and replies, held-out test contexts, classifier
// replies) live in one byte tensor, `texts`, not in the metadata header: the header is parsed whole
// and the reader caps it (io::SafetensorsFile::kMaxHeaderBytes), so a study with thousands of explained
// heads, or one 60 MB reply, would otherwise write a file no reader opens. In the metadata such a
// string is replaced by {"text": [offset, length]} (bytes into `texts`); short strings stay inline.
// Bundles without the tensor (made before it existed) have every text inline. Internal to core/study.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace headlight {

// The name of the tensor and the length above which a string moves into it.
inline constexpr const char* kTextsTensor = "texts";
inline constexpr std::size_t kInlineTextBytes = 256;

// Moves every string of `node` (recursively) longer than `inlineBytes` into `blob`, replacing it by a
// reference.
void spillLongTexts(nlohmann::ordered_json& node, std::string& blob, std::size_t inlineBytes = kInlineTextBytes);

// The inverse, on a parsed metadata subtree: every reference is replaced by its text. `fail` (which
// must throw) is called with a one-line reason for a reference outside `blob` or not valid UTF-8.
void restoreLongTexts(nlohmann::json& node, std::string_view blob, const std::function<void(const std::string&)>& fail);

}  // namespace headlight
