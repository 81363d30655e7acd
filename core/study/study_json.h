// JSON forms of the Study's small records (provenance, parameters, ablations), shared by the bundle's
// metadata document and `headlight-cli study export --json`.
#pragma once

#include <nlohmann/json.hpp>

#include "core/study/study.h"

namespace headlight {

nlohmann::ordered_json toJson(const Provenance& p);
nlohmann::ordered_json toJson(const StudyParameters& p);
nlohmann::ordered_json toJson(const AblationResult& a, int nHeads);
// The parsers throw headlight::Error naming `where` when a field is missing or of the wrong type.
Provenance provenanceFromJson(const nlohmann::json& j, const std::string& where);
StudyParameters parametersFromJson(const nlohmann::json& j, const std::string& where);
AblationResult ablationFromJson(const nlohmann::json& j, const std::string& where);

}  // namespace headlight
