#include "core/explain/baseline.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/analysis/statistics.h"
#include "core/base/error.h"
#include "core/explain/explainer.h"
#include "core/explain/scorer.h"

namespace headlight::explain {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr const char* kMethod = "ngram-log-odds";
constexpr int kMaxN = 3;        // contiguous n-grams, n = 1..3
constexpr int kMinGap = 2;      // gapped pairs: second word 2..4 positions after the first
constexpr int kMaxGap = 4;
constexpr double kSmoothing = 0.5;

bool isWordByte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

std::string joinWords(const std::vector<std::string>& words, std::size_t begin, std::size_t end) {
    std::string s;
    for (std::size_t i = begin; i < end; ++i) s += (i > begin ? " " : "") + words[i];
    return s;
}

// Feature keys of a word list: "a b c" for contiguous n-grams, "a ... b" for gapped pairs.
std::set<std::string> featureKeys(const std::vector<std::string>& words) {
    std::set<std::string> keys;
    for (std::size_t i = 0; i < words.size(); ++i) {
        for (int n = 1; n <= kMaxN && i + n <= words.size(); ++n) keys.insert(joinWords(words, i, i + n));
        for (int g = kMinGap; g <= kMaxGap && i + g < words.size(); ++g) keys.insert(words[i] + " ... " + words[i + g]);
    }
    return keys;
}

NgramFeature featureFromKey(const std::string& key) {
    NgramFeature f;
    const std::size_t gap = key.find(" ... ");
    if (gap != std::string::npos) {
        f.gapped = true;
        f.words = {key.substr(0, gap), key.substr(gap + 5)};
        return f;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t space = key.find(' ', start);
        f.words.push_back(key.substr(start, space == std::string::npos ? std::string::npos : space - start));
        if (space == std::string::npos) break;
        start = space + 1;
    }
    return f;
}

double balancedAccuracyOf(const std::vector<int>& activeCounts, const std::vector<int>& inactiveCounts, int threshold) {
    analysis::ConfusionMatrix m;
    for (int c : activeCounts) m.add(true, c >= threshold);
    for (int c : inactiveCounts) m.add(false, c >= threshold);
    return m.balancedAccuracy().value_or(0.5);
}

}  // namespace

std::vector<std::string> baselineWords(const std::string& text) {
    std::vector<std::string> words;
    std::string current;
    for (unsigned char c : text) {
        if (isWordByte(c)) {
            current += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
        } else if (!current.empty()) {
            words.push_back(std::move(current));
            current.clear();
        }
    }
    if (!current.empty()) words.push_back(std::move(current));
    return words;
}

std::string NgramFeature::text() const {
    if (gapped && words.size() == 2) return words[0] + " ... " + words[1];
    return joinWords(words, 0, words.size());
}

bool NgramFeature::matches(const std::vector<std::string>& ws) const {
    if (words.empty()) return false;
    if (gapped) {
        for (std::size_t i = 0; i < ws.size(); ++i) {
            if (ws[i] != words[0]) continue;
            for (int g = kMinGap; g <= kMaxGap && i + g < ws.size(); ++g)
                if (ws[i + g] == words[1]) return true;
        }
        return false;
    }
    if (ws.size() < words.size()) return false;
    for (std::size_t i = 0; i + words.size() <= ws.size(); ++i)
        if (std::equal(words.begin(), words.end(), ws.begin() + static_cast<std::ptrdiff_t>(i))) return true;
    return false;
}

std::string BaselineExplanation::text() const {
    if (features.empty()) return "no word pattern tells the contexts where the head is active from the others";
    std::string s = "active when the context contains ";
    s += threshold <= 1 ? std::string("any of") : "at least " + std::to_string(threshold) + " of";
    s += ": ";
    for (std::size_t i = 0; i < features.size(); ++i) s += (i ? ", '" : "'") + features[i].text() + "'";
    return s;
}

int BaselineExplanation::matchCount(const std::string& context) const {
    const std::vector<std::string> ws = baselineWords(context);
    int n = 0;
    for (const NgramFeature& f : features) n += f.matches(ws) ? 1 : 0;
    return n;
}

bool BaselineExplanation::predict(const std::string& context) const {
    return !features.empty() && matchCount(context) >= threshold;
}

ordered_json BaselineExplanation::toJson() const {
    ordered_json fs = ordered_json::array();
    for (const NgramFeature& f : features)
        fs.push_back({{"text", f.text()},
                      {"words", f.words},
                      {"gapped", f.gapped},
                      {"log_odds", f.logOdds},
                      {"z", f.z},
                      {"active", f.activeCount},
                      {"inactive", f.inactiveCount}});
    return {{"method", kMethod}, {"features", fs}, {"threshold", threshold}, {"training_accuracy", trainingAccuracy}};
}

BaselineExplanation BaselineExplanation::fromJson(const json& j) {
    BaselineExplanation b;
    try {
        if (j.at("method").get<std::string>() != kMethod) throw Error("unknown baseline method");
        b.threshold = j.at("threshold").get<int>();
        b.trainingAccuracy = j.value("training_accuracy", 0.0);
        for (const json& f : j.at("features")) {
            NgramFeature x;
            x.words = f.at("words").get<std::vector<std::string>>();
            x.gapped = f.value("gapped", false);
            x.logOdds = f.value("log_odds", 0.0);
            x.z = f.value("z", 0.0);
            x.activeCount = f.value("active", 0);
            x.inactiveCount = f.value("inactive", 0);
            if (x.words.empty() || (x.gapped && x.words.size() != 2)) throw Error("bad feature");
            b.features.push_back(std::move(x));
        }
    } catch (const json::exception& e) {
        throw Error(std::string("baseline explanation parameters are malformed (") + e.what() + ")");
    } catch (const Error& e) {
        throw Error(std::string("baseline explanation parameters are malformed (") + e.what() + ")");
    }
    return b;
}

BaselineExplanation fitBaseline(const std::vector<std::string>& active, const std::vector<std::string>& inactive,
                                int maxFeatures) {
    const int na = static_cast<int>(active.size()), ni = static_cast<int>(inactive.size());
    std::vector<std::set<std::string>> keys;  // active contexts first, then inactive
    for (const std::string& t : active) keys.push_back(featureKeys(baselineWords(t)));
    for (const std::string& t : inactive) keys.push_back(featureKeys(baselineWords(t)));
    std::map<std::string, std::pair<int, int>> counts;  // key -> (active, inactive)
    for (int i = 0; i < na + ni; ++i)
        for (const std::string& k : keys[i]) (i < na ? counts[k].first : counts[k].second)++;

    const int minActive = na >= 4 ? 2 : 1;
    std::vector<NgramFeature> candidates;
    for (const auto& [key, c] : counts) {
        const auto [ya, yi] = c;
        if (ya < minActive) continue;
        const double a1 = ya + kSmoothing, a0 = na - ya + kSmoothing, i1 = yi + kSmoothing, i0 = ni - yi + kSmoothing;
        const double delta = std::log(a1 / a0) - std::log(i1 / i0);
        if (!(delta > 0)) continue;
        NgramFeature f = featureFromKey(key);
        f.logOdds = delta;
        f.z = delta / std::sqrt(1 / a1 + 1 / a0 + 1 / i1 + 1 / i0);
        f.activeCount = ya;
        f.inactiveCount = yi;
        candidates.push_back(std::move(f));
    }
    std::sort(candidates.begin(), candidates.end(), [](const NgramFeature& a, const NgramFeature& b) {
        if (a.z != b.z) return a.z > b.z;
        const int la = static_cast<int>(a.words.size()) + (a.gapped ? 1 : 0);
        const int lb = static_cast<int>(b.words.size()) + (b.gapped ? 1 : 0);
        if (la != lb) return la > lb;
        return a.text() < b.text();
    });
    BaselineExplanation out;
    std::vector<std::vector<bool>> coverages;
    for (NgramFeature& f : candidates) {
        if (static_cast<int>(out.features.size()) >= maxFeatures) break;
        const std::string key = f.text();
        std::vector<bool> coverage(keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) coverage[i] = keys[i].count(key) > 0;
        if (std::find(coverages.begin(), coverages.end(), coverage) != coverages.end()) continue;
        coverages.push_back(std::move(coverage));
        out.features.push_back(std::move(f));
    }
    if (out.features.empty()) return out;
    std::vector<int> activeCounts(na), inactiveCounts(ni);
    for (int i = 0; i < na + ni; ++i) {
        int n = 0;
        for (const auto& c : coverages) n += c[i] ? 1 : 0;
        (i < na ? activeCounts[i] : inactiveCounts[i - na]) = n;
    }
    out.threshold = 1;
    out.trainingAccuracy = balancedAccuracyOf(activeCounts, inactiveCounts, 1);
    for (int t = 2; t <= static_cast<int>(out.features.size()); ++t) {
        const double ba = balancedAccuracyOf(activeCounts, inactiveCounts, t);
        if (ba > out.trainingAccuracy) {
            out.trainingAccuracy = ba;
            out.threshold = t;
        }
    }
    return out;
}

HeadExplanation baselineExplanation(const NeuronResult& neuron, int head) {
    std::vector<std::string> active, inactive;
    for (const NeuronContext* c : keptContexts(neuron)) {
        const bool on = head >= 0 && head < static_cast<int>(c->active.size()) && c->active[head] != 0;
        (on ? active : inactive).push_back(c->text);
    }
    const BaselineExplanation b = fitBaseline(active, inactive);
    HeadExplanation e;
    e.neuron = neuron.neuron.ref;
    e.baseline = neuron.neuron.baseline;
    e.head = head;
    e.source = "baseline";
    e.model = kMethod;
    e.parameters = b.toJson().dump();
    e.explanation = b.text();
    return e;
}

std::vector<HeadExplanation> explainWithBaseline(const Study& study, const Progress& progress) {
    const std::vector<ExplainTarget> targets = relevantTargets(study);
    std::vector<HeadExplanation> out;
    out.reserve(targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        progress.throwIfCancelled();
        out.push_back(baselineExplanation(study.neurons.at(targets[i].neuronIndex), targets[i].head));
        if (i % 64 == 63 || i + 1 == targets.size())
            progress.report(static_cast<int64_t>(i + 1), static_cast<int64_t>(targets.size()), "baseline");
    }
    return out;
}

void classifyWithBaseline(HeadExplanation& e) {
    const json parameters = json::parse(e.parameters, nullptr, false);
    if (parameters.is_discarded())
        throw Error("baseline explanation of " + neuronName(e.neuron) + " head " + std::to_string(e.head) +
                    ": parameters are not JSON");
    const BaselineExplanation b = BaselineExplanation::fromJson(parameters);
    e.classifierModel = kMethod;
    e.classifierEndpoint.clear();
    e.classifierParameters = ordered_json{{"threshold", b.threshold}}.dump();
    for (ExplanationTest& t : e.tests) {
        const int n = b.matchCount(t.text);
        t.predicted = !b.features.empty() && n >= b.threshold;
        t.reply = std::to_string(n) + " of " + std::to_string(b.features.size()) + " n-grams";
    }
    tally(e);
}

}  // namespace headlight::explain
