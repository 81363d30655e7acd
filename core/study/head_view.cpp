#include "core/study/head_view.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/base/error.h"

namespace headlight {

using nlohmann::ordered_json;

std::vector<int> lookupTokenIds(const NeuronContext& c, const HeadLookup& look) {
    const int promptBegin = std::clamp(c.start - 1, 0, static_cast<int>(c.tokens.size()));
    const int promptLength = static_cast<int>(c.tokens.size()) - promptBegin;
    const int offset = static_cast<int>(look.contributions.size()) - promptLength;  // 1 with BOS, 0 without
    std::vector<int> ids(look.contributions.size(), -1);
    for (int j = std::max(0, offset); j < static_cast<int>(ids.size()); ++j) ids[std::size_t(j)] = c.tokens[std::size_t(promptBegin + j - offset)];
    return ids;
}

namespace {

// The look-up's top positive contributions (at most kSourcesPerLookup), ranked as head_view.h says.
std::vector<int> topSourcePositions(const HeadLookup& look) {
    std::vector<int> order;
    for (int j = 0; j < static_cast<int>(look.contributions.size()); ++j)
        if (look.contributions[std::size_t(j)] > 0.f) order.push_back(j);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return look.contributions[std::size_t(a)] > look.contributions[std::size_t(b)]; });
    if (order.size() > std::size_t(kSourcesPerLookup)) order.resize(kSourcesPerLookup);
    return order;
}

std::optional<double> explanationScore(const HeadViewInput& in, const NeuronResult& n, int head, const char* source) {
    if (!in.explanations) return std::nullopt;
    for (const HeadExplanation& e : *in.explanations)
        if (e.neuron == n.neuron.ref && e.baseline == n.neuron.baseline && e.head == head && e.source == source) return e.score;
    return std::nullopt;
}

// The entry of neuron `i` for `head`, or nothing when the head is neither active in a kept context nor relevant.
std::optional<HeadNeuronEntry> entryOf(const HeadViewInput& in, const NeuronResult& n, int i, int head) {
    HeadNeuronEntry e;
    e.neuron = i;
    e.ref = n.neuron.ref;
    e.baseline = n.neuron.baseline;
    e.candidate = std::binary_search(n.candidateHeads.begin(), n.candidateHeads.end(), head);
    e.relevant = std::find(n.relevantHeads.begin(), n.relevantHeads.end(), head) != n.relevantHeads.end();
    e.activeFraction = head < static_cast<int>(n.activeFraction.size()) ? n.activeFraction[std::size_t(head)] : 0.f;
    for (const NeuronContext& c : n.contexts) {
        if (!c.kept) continue;
        ++e.keptContexts;
        e.activeContexts += head < static_cast<int>(c.active.size()) && c.active[std::size_t(head)] ? 1 : 0;
    }
    if (e.activeContexts == 0 && !e.relevant) return std::nullopt;
    e.score = explanationScore(in, n, head, "llm");
    e.baselineScore = explanationScore(in, n, head, "baseline");
    return e;
}

// Adds the top sources of the head's look-ups in the kept contexts of `n` to `byToken`.
void addSources(const NeuronResult& n, int head, HeadView& v, std::map<int, HeadSourceToken>& byToken) {
    for (const NeuronContext& c : n.contexts) {
        if (!c.kept) continue;
        for (const HeadLookup& look : c.lookups) {
            if (look.head != head) continue;
            ++v.lookups;
            const std::vector<int> ids = lookupTokenIds(c, look);
            for (int j : topSourcePositions(look)) {
                HeadSourceToken& t = byToken[ids[std::size_t(j)]];
                t.tokenId = ids[std::size_t(j)];
                t.contribution += look.contributions[std::size_t(j)];
                ++t.lookups;
            }
        }
    }
}

}  // namespace

HeadView headView(const HeadViewInput& in, int head, int topSources) {
    if (head < 0 || head >= in.nLayers * in.nHeads)
        throw Error("--head: head " + std::to_string(head) + " is outside the model's " + std::to_string(in.nLayers) + " x " +
                    std::to_string(in.nHeads) + " heads");
    HeadView v;
    v.head = head;
    std::map<int, HeadSourceToken> byToken;
    for (int i = 0; i < in.neuronCount; ++i) {
        const std::shared_ptr<const NeuronResult> n = in.neuronAt(i);
        std::optional<HeadNeuronEntry> e = entryOf(in, *n, i, head);
        if (!e) continue;
        v.neurons.push_back(*e);
        addSources(*n, head, v, byToken);
    }
    std::stable_sort(v.neurons.begin(), v.neurons.end(),
                     [](const HeadNeuronEntry& a, const HeadNeuronEntry& b) { return a.activeFraction > b.activeFraction; });
    for (const auto& [id, t] : byToken) v.sources.push_back(t);   // ascending id, kept for equal contributions
    std::stable_sort(v.sources.begin(), v.sources.end(),
                     [](const HeadSourceToken& a, const HeadSourceToken& b) { return a.contribution > b.contribution; });
    if (v.sources.size() > std::size_t(std::max(0, topSources))) v.sources.resize(std::size_t(std::max(0, topSources)));
    return v;
}

HeadView headView(const Study& s, int head, int topSources) {
    HeadViewInput in;
    in.nLayers = s.nLayers;
    in.nHeads = s.nHeads;
    in.neuronCount = static_cast<int>(s.neurons.size());
    in.neuronAt = [&s](int i) { return std::shared_ptr<const NeuronResult>(std::shared_ptr<void>(), &s.neurons[std::size_t(i)]); };
    in.explanations = &s.explanations;
    return headView(in, head, topSources);
}

std::vector<HeadView> headViews(const Study& s, int topSources) {
    std::vector<HeadView> out;
    for (int h = 0; h < s.nLayers * s.nHeads; ++h) {
        HeadView v = headView(s, h, topSources);
        if (!v.neurons.empty()) out.push_back(std::move(v));
    }
    return out;
}

namespace {

std::string headLabel(const Study& s, int flat) { return headName(flat / s.nHeads, flat % s.nHeads); }

ordered_json optionalScore(const std::optional<double>& e) { return e ? ordered_json(*e) : ordered_json(); }

std::string tokenText(int id, const TokenDecoder& decode) {
    if (id < 0) return "BOS";
    return decode ? decode(id) : "#" + std::to_string(id);
}

}  // namespace

ordered_json headViewJson(const Study& s, const HeadView& v, const TokenDecoder& decode) {
    ordered_json j;
    j["head"] = headLabel(s, v.head);
    ordered_json neurons = ordered_json::array();
    for (const HeadNeuronEntry& e : v.neurons)
        neurons.push_back({{"neuron", neuronName(e.ref)}, {"baseline", e.baseline}, {"candidate", e.candidate},
                           {"active_fraction", e.activeFraction}, {"active_contexts", e.activeContexts},
                           {"kept_contexts", e.keptContexts}, {"relevant", e.relevant}, {"E", optionalScore(e.score)},
                           {"E_baseline", optionalScore(e.baselineScore)}});
    j["neurons"] = std::move(neurons);
    j["lookups"] = v.lookups;
    ordered_json sources = ordered_json::array();
    for (const HeadSourceToken& t : v.sources) {
        ordered_json js = {{"token_id", t.tokenId >= 0 ? ordered_json(t.tokenId) : ordered_json()}};
        if (decode || t.tokenId < 0) js["token"] = tokenText(t.tokenId, decode);
        js["contribution"] = t.contribution;
        js["lookups"] = t.lookups;
        sources.push_back(std::move(js));
    }
    j["top_source_tokens"] = std::move(sources);
    return j;
}

ordered_json headViewsJson(const Study& s, const TokenDecoder& decode) {
    ordered_json out = ordered_json::array();
    for (const HeadView& v : headViews(s)) out.push_back(headViewJson(s, v, decode));
    return out;
}

std::string headViewText(const Study& s, const HeadView& v, const TokenDecoder& decode) {
    std::ostringstream out;
    out << "head:       " << headLabel(s, v.head) << "  (" << v.neurons.size() << " neurons active or relevant, " << v.lookups
        << " look-ups)\n";
    out << "  neuron      active       relevant  E       E baseline\n";
    auto score = [](const std::optional<double>& e) {
        std::ostringstream o;
        if (e) o.precision(3), o << std::fixed << *e;
        else o << "-";
        return o.str();
    };
    for (const HeadNeuronEntry& e : v.neurons) {
        std::ostringstream active;
        active << e.activeContexts << "/" << e.keptContexts << " (" << std::lround(e.activeFraction * 100) << " %)";
        std::string name = neuronName(e.ref) + (e.baseline ? "*" : "");
        std::string a = active.str();
        name.resize(std::max<std::size_t>(name.size(), 10), ' ');
        a.resize(std::max<std::size_t>(a.size(), 12), ' ');
        std::string e1 = score(e.score);
        e1.resize(std::max<std::size_t>(e1.size(), 7), ' ');
        out << "  " << name << "  " << a << " " << (e.relevant ? "yes      " : "no       ") << " " << e1 << " "
            << score(e.baselineScore) << "\n";
    }
    if (v.neurons.end() != std::find_if(v.neurons.begin(), v.neurons.end(), [](const HeadNeuronEntry& e) { return e.baseline; }))
        out << "  (* random-baseline neuron)\n";
    if (v.lookups == 0) {
        out << "  no look-ups stored for this head (a bundle made before look-ups, or the head is never active)\n";
        return out.str();
    }
    out << "  typical source tokens (top " << kSourcesPerLookup << " of each look-up; summed contribution, look-ups):\n";
    for (const HeadSourceToken& t : v.sources)
        out << "    " << (t.tokenId < 0 ? std::string("BOS")   // quoted token text, BOS bare
                                  : nlohmann::json(tokenText(t.tokenId, decode)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
            << "  " << std::fixed << std::setprecision(4) << t.contribution << std::defaultfloat << "  " << t.lookups << "\n";
    return out.str();
}

}  // namespace headlight
