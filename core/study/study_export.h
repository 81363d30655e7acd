// `headlight-cli study export --json` and `study info`: the whole Study as one JSON document for
// scripts (schema in docs/bundle-format.md), and a short human summary.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/study/head_view.h"
#include "core/study/study.h"

namespace headlight {

// `decode` gives the token text of the `heads` section's source tokens (ids only without it).
nlohmann::ordered_json exportStudyJson(const Study& study, const TokenDecoder& decode = {});
nlohmann::ordered_json studySummaryJson(const Study& study);
std::string studySummaryText(const Study& study);
// One ablation record: "L2N0 L0H1+L1H1 path: p drop <mean> active / <mean> inactive (KS D .., p ..);
// activation drop ..; total ..; sum of singles .." (means; the parts the record has), and its heads "L0H1+L1H1".
std::string ablationRecordText(const AblationResult& a, int nHeads);
std::string ablationHeadsName(const AblationResult& a, int nHeads);

}  // namespace headlight
