// JSON forms of the Study's small records (provenance, parameters, ablations), shared by the bundle's
// metadata document and `headlight-cli study export --json`.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/study/study.h"

namespace headlight {

// Converts a JSON value to T with checked types: integers must be JSON integers within T's range (never
// a float cast to an int), floating-point numbers finite, strings strings; vectors and string maps
// element by element. False if `v` does not fit T.
template <typename T>
bool jsonToChecked(const nlohmann::json& v, T& out) {
    if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_boolean()) return false;
        out = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
        if (v.is_number_unsigned()) {
            const uint64_t u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
            out = static_cast<T>(u);
        } else if (v.is_number_integer()) {
            const int64_t i = v.get<int64_t>();
            if constexpr (std::is_signed_v<T>) {
                if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                    i > static_cast<int64_t>(std::numeric_limits<T>::max()))
                    return false;
            } else if (i < 0 || static_cast<uint64_t>(i) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
                return false;
            }
            out = static_cast<T>(i);
        } else {
            return false;
        }
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_number()) return false;
        const double d = v.get<double>();
        if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) return false;
        out = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) return false;
        out = v.get<std::string>();
    } else if constexpr (std::is_same_v<T, std::vector<typename T::value_type>>) {
        if (!v.is_array()) return false;
        T result;
        for (const nlohmann::json& e : v) {
            typename T::value_type x;
            if (!jsonToChecked(e, x)) return false;
            result.push_back(std::move(x));
        }
        out = std::move(result);
    } else {
        static_assert(std::is_same_v<T, std::map<std::string, std::string>>, "unsupported type");
        if (!v.is_object()) return false;
        T result;
        for (auto it = v.begin(); it != v.end(); ++it)
            if (!jsonToChecked(it.value(), result[it.key()])) return false;
        out = std::move(result);
    }
    return true;
}

// Reads j[key] into `out` with jsonToChecked; throws headlight::Error naming `where` and the field when
// it is missing (and required), of the wrong type or out of range.
template <typename T>
void readJsonField(const nlohmann::json& j, const char* key, T& out, const std::string& where, bool required = true) {
    if (!j.is_object() || !j.contains(key)) {
        if (required) throw Error(where + ": missing field '" + key + "'");
        return;
    }
    if (!jsonToChecked(j.at(key), out))
        throw Error(where + ": field '" + std::string(key) + "' has the wrong type or is out of range");
}

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
