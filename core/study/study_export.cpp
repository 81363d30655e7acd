#include "core/study/study_export.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/analysis/activation_histogram.h"
#include "core/study/study_json.h"

namespace headlight {

using nlohmann::ordered_json;

namespace {

std::string headLabel(const Study& s, int flat) { return headName(flat / s.nHeads, flat % s.nHeads); }

ordered_json headNames(const Study& s, const std::vector<int>& flat) {
    ordered_json out = ordered_json::array();
    for (int h : flat) out.push_back(headLabel(s, h));
    return out;
}

// The look-ups of a kept context: one entry per active head (issue 13), values per position of the
// attribution prompt, BOS first; absent in bundles made before look-ups were stored.
ordered_json lookupsJson(const Study& s, const NeuronContext& c) {
    ordered_json out = ordered_json::array();
    for (const HeadLookup& l : c.lookups)
        out.push_back({{"head", headLabel(s, l.head)}, {"score", l.score}, {"attention", l.attention},
                       {"contributions", l.contributions}});
    return out;
}

double mean(const std::vector<float>& v) {
    double sum = 0;
    for (float x : v) sum += x;
    return v.empty() ? std::nan("") : sum / double(v.size());
}

// One line per ablation record for `study info` (mode, heads, mean drops, KS tests).
ordered_json ablationSummaryJson(const Study& s) {
    ordered_json out = ordered_json::array();
    for (const AblationResult& a : s.ablations) {
        ordered_json j;
        j["neuron"] = neuronName(a.neuron);
        j["mode"] = ablationModeName(a.mode);
        j["heads"] = headNames(s, a.headSet());
        if (!a.group.empty()) {
            ordered_json group = ordered_json::array();
            for (const NeuronRef& n : a.group) group.push_back(neuronName(n));
            j["group"] = group;
        }
        j["mean_drop_active"] = mean(a.dropActive);
        j["mean_drop_inactive"] = mean(a.dropInactive);
        j["ks_statistic"] = a.ksStatistic;
        j["ks_p_value"] = a.ksPValue;
        j["mean_activation_drop_active"] = mean(a.activationActive);
        j["mean_activation_drop_inactive"] = mean(a.activationInactive);
        if (!a.total.empty()) j["mean_total_activation_drop_active"] = mean(a.total.activationActive);
        if (!a.sumOfSingles.empty()) j["mean_sum_of_singles_activation_drop_active"] = mean(a.sumOfSingles.activationActive);
        out.push_back(std::move(j));
    }
    return out;
}

std::string ablationSummaryText(const Study& s) {
    std::map<std::string, int> modes;
    for (const AblationResult& a : s.ablations) ++modes[ablationModeName(a.mode)];
    std::ostringstream out;
    out << "ablations:  " << s.ablations.size() << " records";
    for (const auto& [mode, count] : modes) out << (mode == modes.begin()->first ? " (" : ", ") << mode << " " << count;
    out << (modes.empty() ? "" : ")") << "\n";
    int shown = 0;
    for (const AblationResult& a : s.ablations) {
        if (shown++ >= 10) {
            out << "  ... (study export --json has them all)\n";
            break;
        }
        out << "  " << ablationRecordText(a, s.nHeads) << "\n";
    }
    return out.str();
}

ordered_json tokenValuesJson(const std::vector<TokenValue>& list) {
    ordered_json out = ordered_json::array();
    for (const TokenValue& t : list) out.push_back({{"token_id", t.token}, {"token", t.text}, {"congruence", t.value}});
    return out;
}

// The activation histogram over the scanned corpus: its non-empty bins with their edges (the open ends
// of the first and last bin are null), or null for bundles made before histograms were stored.
ordered_json histogramJson(const ActivationHistogram& h) {
    if (!h.recorded()) return nullptr;
    const std::vector<double>& edges = analysis::histogramEdges();
    ordered_json bins = ordered_json::array();
    auto edge = [](double e) { return std::isfinite(e) ? ordered_json(e) : ordered_json(nullptr); };
    for (std::size_t b = 0; b < h.counts.size(); ++b)
        if (h.counts[b]) bins.push_back({{"lower", edge(edges[b])}, {"upper", edge(edges[b + 1])}, {"count", h.counts[b]}});
    return {{"total", h.total()}, {"nan", h.nan}, {"min", h.total() ? ordered_json(h.min) : ordered_json(nullptr)},
            {"max", h.total() ? ordered_json(h.max) : ordered_json(nullptr)}, {"bins", std::move(bins)}};
}

// Neuron facts (issue 13): promoted / suppressed tokens (null when the bundle predates them), the
// activation histogram, and whether the neuron is near-dead (analysis::isNearDead).
void addFactsJson(ordered_json& jn, const NeuronResult& n) {
    const bool hasTokens = !n.promoted.empty() || !n.suppressed.empty();
    jn["promoted_tokens"] = hasTokens ? tokenValuesJson(n.promoted) : ordered_json(nullptr);
    jn["suppressed_tokens"] = hasTokens ? tokenValuesJson(n.suppressed) : ordered_json(nullptr);
    const float top = analysis::topActivation(n);
    jn["top_activation"] = std::isnan(top) ? ordered_json(nullptr) : ordered_json(top);
    jn["near_dead"] = analysis::isNearDead(top);
    jn["activation_histogram"] = histogramJson(n.histogram);
}

}  // namespace

std::string ablationHeadsName(const AblationResult& a, int nHeads) {
    std::string out;
    for (int h : a.headSet()) out += (out.empty() ? "" : "+") + headName(h / nHeads, h % nHeads);
    return out;
}

std::string ablationRecordText(const AblationResult& a, int nHeads) {
    std::ostringstream out;
    out << neuronName(a.neuron) << " " << ablationHeadsName(a, nHeads) << " " << ablationModeName(a.mode);
    if (!a.group.empty()) out << " [group of " << a.group.size() << "]";
    out << ": p drop " << mean(a.dropActive) << " active / " << mean(a.dropInactive) << " inactive (KS D "
        << a.ksStatistic << ", p " << a.ksPValue << ")";
    if (!a.activationActive.empty() || !a.activationInactive.empty())
        out << "; activation drop " << mean(a.activationActive) << " / " << mean(a.activationInactive);
    if (!a.total.empty()) out << "; total " << mean(a.total.activationActive) << " / " << mean(a.total.activationInactive);
    if (!a.sumOfSingles.empty())
        out << "; sum of singles " << mean(a.sumOfSingles.activationActive) << " / " << mean(a.sumOfSingles.activationInactive);
    return out.str();
}

ordered_json exportStudyJson(const Study& s, const TokenDecoder& decode) {
    ordered_json doc;
    doc["schema"] = "headlight.export";
    doc["schema_version"] = Study::kSchemaVersion;
    doc["model"] = {{"n_layers", s.nLayers}, {"n_heads", s.nHeads}, {"d_mlp", s.dMlp}};
    doc["provenance"] = toJson(s.provenance);
    doc["parameters"] = toJson(s.parameters);
    std::map<std::pair<NeuronRef, bool>, std::vector<const HeadExplanation*>> explanationsOf;
    for (const HeadExplanation& e : s.explanations) explanationsOf[{e.neuron, e.baseline}].push_back(&e);
    ordered_json neurons = ordered_json::array();
    for (const NeuronResult& n : s.neurons) {
        ordered_json jn;
        jn["layer"] = n.neuron.ref.layer;
        jn["neuron"] = n.neuron.ref.neuron;
        jn["token_id"] = n.neuron.tokenId;
        jn["token"] = n.neuron.token;
        jn["congruence"] = n.neuron.congruence;
        jn["baseline"] = n.neuron.baseline;
        jn["candidate_heads"] = headNames(s, n.candidateHeads);
        jn["relevant_heads"] = headNames(s, n.relevantHeads);
        ordered_json fractions = ordered_json::array();
        for (int h : n.candidateHeads)
            fractions.push_back(h < static_cast<int>(n.activeFraction.size()) ? n.activeFraction[h] : 0.f);
        jn["active_fraction"] = fractions;
        addFactsJson(jn, n);
        ordered_json contexts = ordered_json::array();
        for (const NeuronContext& c : n.contexts) {
            if (!c.kept) continue;  // dropped by the length cut, as a duplicate, or past P
            ordered_json jc;
            jc["doc"] = c.docLine;
            jc["doc_index"] = c.doc;
            jc["source"] = c.docSource;
            jc["position"] = c.position;
            jc["activation"] = c.activation;
            jc["start"] = c.start;
            jc["truncated_activation"] = c.truncatedActivation;
            jc["text"] = c.text;
            ordered_json scores = ordered_json::array();
            for (int h : n.candidateHeads) scores.push_back(c.headScores.at(h));
            jc["head_scores"] = scores;
            std::vector<int> active;
            for (int h : n.candidateHeads)
                if (h < static_cast<int>(c.active.size()) && c.active[h]) active.push_back(h);
            jc["active_heads"] = headNames(s, active);
            jc["tokens"] = std::vector<int>(c.tokens.begin() + (c.start - 1), c.tokens.end());
            jc["lookups"] = lookupsJson(s, c);
            contexts.push_back(std::move(jc));
        }
        jn["contexts"] = std::move(contexts);
        ordered_json explanations = ordered_json::array();  // steps 4-5
        if (const auto it = explanationsOf.find({n.neuron.ref, n.neuron.baseline}); it != explanationsOf.end())
            for (const HeadExplanation* e : it->second) explanations.push_back(toExportJson(*e, s.nHeads));
        jn["explanations"] = std::move(explanations);
        neurons.push_back(std::move(jn));
    }
    doc["neurons"] = std::move(neurons);
    doc["heads"] = headViewsJson(s, decode);  // the head-centric view (core/study/head_view.h)
    ordered_json ablations = ordered_json::array();
    for (const AblationResult& a : s.ablations) ablations.push_back(toJson(a, s.nHeads));
    doc["ablations"] = std::move(ablations);
    if (!s.heldOut.corpus.empty() || !s.heldOut.corpusHash.empty()) doc["held_out"] = toJson(s.heldOut);
    return doc;
}

ordered_json studySummaryJson(const Study& s) {
    int real = 0, baseline = 0, contexts = 0, relevant = 0;
    for (const NeuronResult& n : s.neurons) {
        (n.neuron.baseline ? baseline : real)++;
        for (const NeuronContext& c : n.contexts) contexts += c.kept ? 1 : 0;
        relevant += static_cast<int>(n.relevantHeads.size());
    }
    ordered_json j;
    j["provenance"] = toJson(s.provenance);
    j["parameters"] = toJson(s.parameters);
    j["model"] = {{"n_layers", s.nLayers}, {"n_heads", s.nHeads}, {"d_mlp", s.dMlp}};
    j["neurons"] = real;
    j["baseline_neurons"] = baseline;
    j["contexts"] = contexts;
    j["relevant_heads"] = relevant;
    j["ablations"] = s.ablations.size();
    j["ablation_records"] = ablationSummaryJson(s);
    int tokens = 0, histograms = 0, dead = 0;
    for (const NeuronResult& n : s.neurons) {
        tokens += !n.promoted.empty();
        histograms += n.histogram.recorded();
        dead += analysis::isNearDead(analysis::topActivation(n));
    }
    j["neurons_with_token_facts"] = tokens;
    j["neurons_with_histograms"] = histograms;
    j["near_dead_neurons"] = dead;
    return j;
}

namespace {

// The facts line of `study info`: what the bundle holds, and how many neurons are near-dead.
std::string factsSummary(const ordered_json& j) {
    const int tokens = j["neurons_with_token_facts"], histograms = j["neurons_with_histograms"];
    const int dead = j["near_dead_neurons"];
    std::ostringstream out;
    if (tokens) out << "promoted/suppressed tokens";
    else out << "no promoted/suppressed tokens (bundle made before neuron facts)";
    if (histograms) out << ", activation histograms";
    else out << ", no activation histograms (bundle made before them)";
    out << "; " << dead << " near-dead neuron(s) (top activation <= " << analysis::kNearDeadActivation << ")";
    return out.str();
}

// A neuron's promoted and suppressed tokens (the first 5 of each), indented under its line.
std::string neuronFactsText(const NeuronResult& n) {
    if (n.promoted.empty() && n.suppressed.empty()) return {};
    auto list = [](const std::vector<TokenValue>& l) {
        std::ostringstream o;
        for (std::size_t i = 0; i < l.size() && i < 5; ++i)
            o << (i ? ", " : "") << nlohmann::json(l[i].text).dump() << " " << l[i].value;
        return o.str();
    };
    return "      promotes " + list(n.promoted) + "\n      suppresses " + list(n.suppressed) + "\n";
}

}  // namespace

std::string studySummaryText(const Study& s) {
    const ordered_json j = studySummaryJson(s);
    std::ostringstream out;
    out << "model:      " << s.provenance.modelId << " (" << s.provenance.modelFamily << ", " << s.nLayers
        << " layers x " << s.nHeads << " heads, d_mlp " << s.dMlp << ")\n";
    out << "weights:    " << s.provenance.processing << " (hash " << s.provenance.weightHash << ")\n";
    out << "corpus:     " << s.provenance.corpus << " (" << s.provenance.corpusDocuments << " documents, "
        << s.provenance.corpusTokens << " tokens)\n";
    out << "layers:     ";
    for (std::size_t i = 0; i < s.parameters.layers.size(); ++i) out << (i ? "," : "") << s.parameters.layers[i];
    out << "\nneurons:    " << j["neurons"].get<int>() << " (+" << j["baseline_neurons"].get<int>() << " baseline)\n";
    out << "contexts:   " << j["contexts"].get<int>() << "\n";
    out << "relevant:   " << j["relevant_heads"].get<int>() << " (neuron, head) pairs\n";
    out << "created:    " << s.provenance.createdAt << " by " << s.provenance.software << "\n";
    if (!s.ablations.empty()) out << ablationSummaryText(s);
    out << "facts:      " << factsSummary(j) << "\n";
    int shown = 0;
    for (const NeuronResult& n : s.neurons) {
        if (shown++ >= 10) break;
        out << "  " << neuronName(n.neuron.ref) << (n.neuron.baseline ? " [baseline]" : "") << "  token "
            << nlohmann::json(n.neuron.token).dump() << "  congruence " << n.neuron.congruence << "  contexts "
            << std::count_if(n.contexts.begin(), n.contexts.end(), [](const NeuronContext& c) { return c.kept; })
            << "/" << n.contexts.size() << "  relevant";
        for (int h : n.relevantHeads) out << " " << headLabel(s, h);
        if (analysis::isNearDead(analysis::topActivation(n))) out << "  [near-dead]";
        out << "\n" << neuronFactsText(n);
    }
    return out.str();
}

}  // namespace headlight
