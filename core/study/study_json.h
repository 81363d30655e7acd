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

// Steps 4-5 records (the bundle's optional "explanations" and "held_out" keys). The export form
// (`study export --json`) is a subset: toExportJson.
nlohmann::ordered_json toJson(const HeadExplanation& e, int nHeads);
nlohmann::ordered_json toExportJson(const HeadExplanation& e, int nHeads);
nlohmann::ordered_json toJson(const HeldOutProvenance& h);
HeadExplanation headExplanationFromJson(const nlohmann::json& j, const std::string& where);
HeldOutProvenance heldOutFromJson(const nlohmann::json& j, const std::string& where);

}  // namespace headlight
