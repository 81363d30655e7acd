#include "core/analysis/ablation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <torch/torch.h>

#include "core/analysis/context_batches.h"
#include "core/analysis/statistics.h"
#include "core/base/error.h"
#include "core/model/tokenizer.h"
#include "core/model/transformer.h"

namespace headlight::analysis {

namespace {

using Prompts = std::vector<std::vector<int>>;
using HookBuilder = std::function<void(HookSet& hooks, std::size_t first, std::size_t count)>;
using CacheReader = std::function<void(const ActivationCache& cache, std::size_t first)>;

std::string zHook(int layer) { return "blocks." + std::to_string(layer) + ".attn.hook_z"; }

// Calls fn(first, count) for consecutive batches of about batchTokens padded tokens, in the given order.
void forEachBatch(const Prompts& prompts, int64_t batchTokens, const std::function<void(std::size_t, std::size_t)>& fn) {
    std::size_t i = 0;
    while (i < prompts.size()) {
        std::size_t j = i;
        std::size_t longest = 0;
        while (j < prompts.size() &&
               (j == i || (j - i + 1) * std::max(longest, prompts[j].size()) <= static_cast<std::size_t>(batchTokens))) {
            longest = std::max(longest, prompts[j].size());
            ++j;
        }
        fn(i, j - i);
        i = j;
    }
}

TokenBatch batchOf(const Prompts& prompts, std::size_t first, std::size_t count) {
    return TokenBatch::padded(Prompts(prompts.begin() + long(first), prompts.begin() + long(first + count)), 0);
}

// What one pass over a neuron's prompts gives at each last position: p(token) and the neuron's activation.
struct Readout {
    std::vector<double> prob, activation;
};

Readout lastPosition(const Transformer& model, const Prompts& prompts, int token, const NeuronRef& neuron,
                     int64_t batchTokens, const HookBuilder& build = {}, const CacheReader& read = {}) {
    Readout out;
    forEachBatch(prompts, batchTokens, [&](std::size_t first, std::size_t count) {
        HookSet hooks;
        hooks.capture("logits").capture(postHook(neuron.layer)).atLastTokens();
        if (build) build(hooks, first, count);
        const ActivationCache cache = model.run(batchOf(prompts, first, count), hooks);
        const at::Tensor logits = cache.at("logits").to(torch::kDouble);  // [B, V]
        const at::Tensor probs = torch::softmax(logits, -1).select(1, token).contiguous();
        const at::Tensor act = cache.at(postHook(neuron.layer)).select(1, neuron.neuron).to(torch::kDouble).contiguous();
        for (int64_t b = 0; b < probs.size(0); ++b) {
            out.prob.push_back(probs.data_ptr<double>()[b]);
            out.activation.push_back(act.data_ptr<double>()[b]);
        }
        if (read) read(cache, first);
    });
    return out;
}

// One neuron's kept prompts (BOS first) and the token whose probability is measured.
struct NeuronPrompts {
    const NeuronResult* result = nullptr;
    int token = 0;
    Prompts prompts;
    std::vector<const NeuronContext*> contexts;
};

NeuronPrompts promptsOf(const NeuronResult& n, const Tokenizer& tokenizer, std::optional<int> bos) {
    NeuronPrompts p;
    p.result = &n;
    // The neuron's token as the paper measures it: the first BPE id of the token string.
    const Encoding enc = tokenizer.encodeUtf8(n.neuron.token);
    p.token = enc.ids.empty() ? n.neuron.tokenId : enc.ids.front();
    for (const NeuronContext& c : n.contexts) {
        if (!c.kept) continue;
        std::vector<int> prompt;
        if (bos) prompt.push_back(*bos);
        prompt.insert(prompt.end(), c.tokens.begin() + (c.start - 1), c.tokens.end());
        p.prompts.push_back(std::move(prompt));
        p.contexts.push_back(&c);
    }
    return p;
}

// One experiment: heads switched off together on one neuron.
struct Experiment {
    std::size_t neuron = 0;          // index into the neurons
    std::vector<int> heads;          // flat, ascending
    std::vector<NeuronRef> group;    // the neuron group, if any
};

std::vector<int> sharedRelevantHeads(const std::vector<NeuronRef>& group, const std::vector<std::size_t>& chosen,
                                     const std::vector<NeuronResult>& neurons) {
    std::vector<int> shared = neurons[chosen.front()].relevantHeads;
    for (std::size_t i : chosen) {
        std::vector<int> next;
        std::set_intersection(shared.begin(), shared.end(), neurons[i].relevantHeads.begin(),
                              neurons[i].relevantHeads.end(), std::back_inserter(next));
        shared = std::move(next);
    }
    if (shared.empty() && group.size() > 1) {
        std::string names;
        for (const NeuronRef& r : group) names += (names.empty() ? "" : ", ") + neuronName(r);
        throw Error("ablation: the neuron group " + names + " shares no relevant head (name the heads to ablate)");
    }
    return shared;
}

// The experiments `options` asks for: single heads first, then the sets, neuron by neuron.
std::vector<Experiment> planExperiments(const std::vector<NeuronResult>& neurons, const AblationOptions& options) {
    std::vector<std::size_t> chosen;
    for (const NeuronRef& ref : options.neurons) {
        const auto it = std::find_if(neurons.begin(), neurons.end(), [&](const NeuronResult& n) { return n.neuron.ref == ref; });
        if (it == neurons.end()) throw Error("ablation: neuron " + neuronName(ref) + " is not a neuron of this study");
        chosen.push_back(std::size_t(it - neurons.begin()));
    }
    if (chosen.empty())
        for (std::size_t i = 0; i < neurons.size(); ++i) chosen.push_back(i);
    std::vector<NeuronRef> group = options.neurons.size() > 1 ? options.neurons : std::vector<NeuronRef>{};
    std::vector<int> together = options.heads;
    if (together.empty() && !options.neurons.empty()) together = sharedRelevantHeads(group, chosen, neurons);
    std::sort(together.begin(), together.end());
    together.erase(std::unique(together.begin(), together.end()), together.end());
    std::vector<Experiment> out;
    for (std::size_t i : chosen) {
        const std::vector<int>& singles = options.heads.empty() ? neurons[i].relevantHeads : together;
        for (int h : singles) {
            const bool groupSingle = together.size() == 1 && together.front() == h;
            out.push_back({i, {h}, groupSingle ? group : std::vector<NeuronRef>{}});
        }
        if (together.size() > 1) out.push_back({i, together, group});
    }
    return out;
}

void validate(const std::vector<Experiment>& plan, const std::vector<NeuronResult>& neurons, const ModelConfig& c,
              const AblationOptions& options) {
    for (const Experiment& e : plan)
        for (int h : e.heads) {
            if (h < 0 || h >= c.nLayers * c.nHeads)
                throw Error("ablation: head " + std::to_string(h) + " is outside the model (" + std::to_string(c.nLayers) +
                            " layers of " + std::to_string(c.nHeads) + " heads)");
            const NeuronRef& n = neurons[e.neuron].neuron.ref;
            const int layer = h / c.nHeads;
            const bool reaches = layer < n.layer || (layer == n.layer && options.sameLayerHeads && !c.parallelResidual);
            if (options.mode == AblationMode::Path && !reaches)
                throw Error("ablation: path patching head " + headName(layer, h % c.nHeads) + " -> " + neuronName(n) +
                            ": the head does not write to the neuron's MLP input (it is not in an earlier layer)");
        }
}

// The heads' layers, ascending, with the heads of each.
std::map<int, std::vector<int>> byLayer(const std::vector<int>& heads, int nHeads) {
    std::map<int, std::vector<int>> out;
    for (int h : heads) out[h / nHeads].push_back(h % nHeads);
    return out;
}

// ---- mean: z of every head of `layers`, averaged over every position of the prompts ([H, dh] per layer):
// at most `cap` of them (0: all), evenly spaced, run shortest first (little padding; the order does not
// change a mean).
std::map<int, at::Tensor> meanValues(const Transformer& model, const Prompts& all, const std::set<int>& layers,
                                     int64_t batchTokens, int cap) {
    Prompts pool;
    const std::size_t n = cap > 0 ? std::min(all.size(), std::size_t(cap)) : all.size();
    for (std::size_t i = 0; i < n; ++i) pool.push_back(all[i * all.size() / n]);
    std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
    std::map<int, at::Tensor> sum;
    int64_t positions = 0;
    forEachBatch(pool, batchTokens, [&](std::size_t first, std::size_t count) {
        const TokenBatch batch = batchOf(pool, first, count);
        HookSet hooks;
        for (int l : layers)
            hooks.edit(zHook(l), [&, l](const at::Tensor& z, const HookId&) {
                at::Tensor s = torch::zeros({z.size(2), z.size(3)}, torch::kDouble);
                for (int64_t b = 0; b < z.size(0); ++b) s += z[b].narrow(0, 0, batch.lengths[b]).to(torch::kDouble).sum(0);
                sum[l] = sum.count(l) ? sum[l] + s : s;
                return z;
            });
        model.run(batch, hooks);
        for (int64_t n : batch.lengths) positions += n;
    });
    for (auto& [l, s] : sum) s = (s / double(std::max<int64_t>(positions, 1))).to(torch::kFloat);
    return sum;
}

// ---- resample: for each prompt of a neuron, a donor from the pool (see the header)
std::vector<std::size_t> drawDonors(const Prompts& prompts, const Prompts& pool, uint64_t seed, const NeuronRef& neuron) {
    std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(neuron.layer), uint32_t(neuron.neuron)};
    std::mt19937_64 rng(seq);
    std::vector<std::size_t> donors;
    for (const std::vector<int>& p : prompts) {
        std::vector<std::size_t> longer, other;
        for (std::size_t j = 0; j < pool.size(); ++j) {
            if (pool[j] == p) continue;
            other.push_back(j);
            if (pool[j].size() >= p.size()) longer.push_back(j);
        }
        const std::vector<std::size_t>& from = longer.empty() ? other : longer;
        if (from.empty()) throw Error("resample ablation: the study has no other kept prompt to take values from");
        donors.push_back(from[std::size_t(rng() % from.size())]);
    }
    return donors;
}

// z of `layers` on each donor prompt, at every position: per prompt, layer -> [T_donor, H, dh].
std::vector<std::map<int, at::Tensor>> donorValues(const Transformer& model, const Prompts& donors,
                                                   const std::set<int>& layers, int64_t batchTokens) {
    std::vector<std::map<int, at::Tensor>> out(donors.size());
    forEachBatch(donors, batchTokens, [&](std::size_t first, std::size_t count) {
        const TokenBatch batch = batchOf(donors, first, count);
        HookSet hooks;
        for (int l : layers)
            hooks.edit(zHook(l), [&, l, first](const at::Tensor& z, const HookId&) {
                for (int64_t b = 0; b < z.size(0); ++b)
                    out[first + std::size_t(b)][l] = z[b].narrow(0, 0, batch.lengths[b]).to(torch::kFloat).clone();
                return z;
            });
        model.run(batch, hooks);
    });
    return out;
}

// ---- path: per prompt, each head's contribution to the neuron's up (and gate) input, already / s
struct PathInputs {
    std::map<int, std::vector<double>> up, gate;  // flat head -> per prompt
};

// Adds to a clean pass what path patching reads, and returns the reader that fills `inputs`.
CacheReader pathCapture(HookSet& hooks, const Transformer& model, const NeuronRef& n, const std::vector<int>& heads,
                        PathInputs& inputs) {
    const ModelConfig& c = model.config();
    const std::string block = "blocks." + std::to_string(n.layer) + ".";
    for (const auto& [l, hs] : byLayer(heads, c.nHeads)) model.captureHeadContributions(hooks, l);
    if (c.hasPreNorms()) hooks.capture(block + "ln2.hook_scale");
    const bool gated = c.mlp == MlpKind::Gated;
    const at::Tensor wIn = model.weight(block + "mlp.W_in").select(1, n.neuron).to(torch::kDouble);
    const at::Tensor wGate = gated ? model.weight(block + "mlp.W_gate").select(1, n.neuron).to(torch::kDouble) : at::Tensor();
    return [&model, &inputs, heads, block, wIn, wGate, nHeads = c.nHeads, pre = c.hasPreNorms()](const ActivationCache& cache,
                                                                                                 std::size_t) {
        const at::Tensor scale = pre ? cache.at(block + "ln2.hook_scale").select(1, 0).to(torch::kDouble) : at::Tensor();
        for (int h : heads) {
            const at::Tensor r = model.headContributions(cache, h / nHeads).select(1, h % nHeads).to(torch::kDouble);  // [B, d]
            const at::Tensor s = pre ? scale : torch::ones({r.size(0)}, torch::kDouble);
            const at::Tensor up = (at::mv(r, wIn) / s).contiguous();
            for (int64_t b = 0; b < up.size(0); ++b) inputs.up[h].push_back(up.data_ptr<double>()[b]);
            if (!wGate.defined()) continue;
            const at::Tensor g = (at::mv(r, wGate) / s).contiguous();
            for (int64_t b = 0; b < g.size(0); ++b) inputs.gate[h].push_back(g.data_ptr<double>()[b]);
        }
    };
}

// The hooks that switch `heads` off in `mode` for rows first..first+count of a neuron's prompts.
struct AblationState {
    std::map<int, at::Tensor> means;                    // mean
    std::vector<std::map<int, at::Tensor>> donorZ;      // resample, per prompt
    PathInputs path;                                    // path
    std::vector<int64_t> lengths;                       // per prompt
};

HookBuilder ablationHooks(AblationMode mode, const std::vector<int>& heads, const ModelConfig& c, const NeuronRef& n,
                          const AblationState& st) {
    const std::map<int, std::vector<int>> layers = byLayer(heads, c.nHeads);
    switch (mode) {
    case AblationMode::Zero:
        return [layers](HookSet& hooks, std::size_t, std::size_t) {
            for (const auto& [l, hs] : layers)
                for (int h : hs) hooks.zeroHeadValues(l, h);
        };
    case AblationMode::Mean:
        return [layers, &st](HookSet& hooks, std::size_t, std::size_t) {
            for (const auto& [l, hs] : layers)
                hooks.edit(zHook(l), [hs, mean = st.means.at(l)](const at::Tensor& z, const HookId&) {
                    for (int h : hs) z.select(2, h).copy_(mean[h].view({1, 1, -1}).expand_as(z.select(2, h)));
                    return z;
                });
        };
    case AblationMode::Resample:
        return [layers, &st](HookSet& hooks, std::size_t first, std::size_t) {
            for (const auto& [l, hs] : layers)
                hooks.edit(zHook(l), [hs, l, first, &st](const at::Tensor& z, const HookId&) {
                    for (int64_t b = 0; b < z.size(0); ++b) {
                        const at::Tensor& donor = st.donorZ[first + std::size_t(b)].at(l);  // [Td, H, dh]
                        const int64_t T = st.lengths[first + std::size_t(b)];
                        const at::Tensor idx = torch::arange(T).clamp_max(donor.size(0) - 1);
                        for (int h : hs) z[b].narrow(0, 0, T).select(1, h).copy_(donor.select(1, h).index_select(0, idx));
                    }
                    return z;
                });
        };
    case AblationMode::Path:
        return [heads, &st, c, n](HookSet& hooks, std::size_t first, std::size_t) {
            const std::string block = "blocks." + std::to_string(n.layer) + ".mlp.";
            const bool gated = c.mlp == MlpKind::Gated;
            auto patch = [&](const char* hook, const std::map<int, std::vector<double>>& by) {
                hooks.edit(block + hook, [heads, &st, &by, first, n](const at::Tensor& pre, const HookId&) {
                    for (int64_t b = 0; b < pre.size(0); ++b) {
                        double delta = 0;
                        for (int h : heads) delta += by.at(h)[first + std::size_t(b)];
                        pre[b][st.lengths[first + std::size_t(b)] - 1][n.neuron] -= delta;
                    }
                    return pre;
                });
            };
            patch(gated ? "hook_pre_linear" : "hook_pre", st.path.up);
            if (gated) patch("hook_pre", st.path.gate);
        };
    }
    return {};
}

// Splits per-prompt effects by activity and fills the KS tests.
void fillEffects(AblationResult& r, const std::vector<double>& drop, const std::vector<double>& act,
                 const std::vector<bool>& active) {
    std::vector<double> pa, pi, aa, ai;
    for (std::size_t k = 0; k < drop.size(); ++k) {
        (active[k] ? pa : pi).push_back(drop[k]);
        (active[k] ? aa : ai).push_back(act[k]);
    }
    auto floats = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
    r.dropActive = floats(pa);
    r.dropInactive = floats(pi);
    r.activationActive = floats(aa);
    r.activationInactive = floats(ai);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool both = !pa.empty() && !pi.empty();
    const KsResult ks = both ? ksTwoSample(pa, pi) : KsResult{nan, nan};
    const KsResult ksAct = both ? ksTwoSample(aa, ai) : KsResult{nan, nan};
    r.ksStatistic = ks.statistic;
    r.ksPValue = ks.pValue;
    r.activationKsStatistic = ksAct.statistic;
    r.activationKsPValue = ksAct.pValue;
}

AblationEffects splitEffects(const std::vector<double>& drop, const std::vector<double>& act, const std::vector<bool>& active) {
    AblationResult r;
    fillEffects(r, drop, act, active);
    return {r.dropActive, r.dropInactive, r.activationActive, r.activationInactive};
}

struct Effects {
    std::vector<double> drop, activation;
};

Effects difference(const Readout& clean, const Readout& ablated) {
    Effects e;
    for (std::size_t k = 0; k < clean.prob.size(); ++k) {
        e.drop.push_back(clean.prob[k] - ablated.prob[k]);
        e.activation.push_back(clean.activation[k] - ablated.activation[k]);
    }
    return e;
}

std::vector<bool> activeIn(const NeuronPrompts& np, const std::vector<int>& heads) {
    std::vector<bool> out;
    for (const NeuronContext* c : np.contexts) {
        bool any = false;
        for (int h : heads) any = any || (c->active.size() > std::size_t(h) && c->active[std::size_t(h)]);
        out.push_back(any);
    }
    return out;
}

// Every prompt of the study, for the mean and the resample donors.
Prompts studyPrompts(const std::vector<NeuronResult>& neurons, const Tokenizer& tokenizer, std::optional<int> bos) {
    Prompts pool;
    for (const NeuronResult& n : neurons) {
        NeuronPrompts p = promptsOf(n, tokenizer, bos);
        for (auto& prompt : p.prompts) pool.push_back(std::move(prompt));
    }
    return pool;
}

// Runs the experiments of one neuron (all in `plan` with this neuron), appending records to `out`.
void ablateNeuron(const Transformer& model, const NeuronPrompts& np, const std::vector<const Experiment*>& plan,
                  const AblationOptions& options, AblationState& st, const Progress& progress, int64_t& done,
                  int64_t total, std::vector<AblationResult>& out) {
    const ModelConfig& c = model.config();
    const NeuronRef& ref = np.result->neuron.ref;
    std::set<int> heads;
    for (const Experiment* e : plan) heads.insert(e->heads.begin(), e->heads.end());
    st.lengths.clear();
    for (const auto& p : np.prompts) st.lengths.push_back(int64_t(p.size()));
    st.path = {};
    CacheReader read;
    HookBuilder cleanHooks;
    if (options.mode == AblationMode::Path)
        cleanHooks = [&](HookSet& hooks, std::size_t, std::size_t) {
            read = pathCapture(hooks, model, ref, std::vector<int>(heads.begin(), heads.end()), st.path);
        };
    const Readout clean = lastPosition(model, np.prompts, np.token, ref, options.batchTokens, cleanHooks,
                                       [&](const ActivationCache& cache, std::size_t first) { if (read) read(cache, first); });
    std::map<int, Effects> singles;
    for (const Experiment* e : plan) {
        progress.throwIfCancelled();
        std::string label;
        for (int h : e->heads) label += (label.empty() ? "" : "+") + headName(h / c.nHeads, h % c.nHeads);
        progress.report(done++, total, "ablate " + neuronName(ref) + " " + label + " (" + ablationModeName(options.mode) + ")");
        const Readout ablated = lastPosition(model, np.prompts, np.token, ref, options.batchTokens,
                                             ablationHooks(options.mode, e->heads, c, ref, st));
        const Effects effects = difference(clean, ablated);
        const std::vector<bool> active = activeIn(np, e->heads);
        AblationResult r;
        r.neuron = ref;
        r.head = e->heads.front();
        r.heads = e->heads;
        r.mode = options.mode;
        r.group = e->group;
        fillEffects(r, effects.drop, effects.activation, active);
        if (options.mode == AblationMode::Path) {
            progress.report(done++, total, "ablate " + neuronName(ref) + " " + label + " (total effect)");
            const Readout zeroed = lastPosition(model, np.prompts, np.token, ref, options.batchTokens,
                                                ablationHooks(AblationMode::Zero, e->heads, c, ref, st));
            const Effects totalEffects = difference(clean, zeroed);
            r.total = splitEffects(totalEffects.drop, totalEffects.activation, active);
        }
        if (e->heads.size() == 1) {
            singles[e->heads.front()] = effects;
        } else if (std::all_of(e->heads.begin(), e->heads.end(), [&](int h) { return singles.count(h) != 0; })) {
            Effects sum{std::vector<double>(effects.drop.size(), 0.0), std::vector<double>(effects.drop.size(), 0.0)};
            for (int h : e->heads)
                for (std::size_t k = 0; k < sum.drop.size(); ++k) {
                    sum.drop[k] += singles[h].drop[k];
                    sum.activation[k] += singles[h].activation[k];
                }
            r.sumOfSingles = splitEffects(sum.drop, sum.activation, active);
        }
        out.push_back(std::move(r));
    }
}

}  // namespace

std::vector<AblationResult> runAblations(const Transformer& model, const Tokenizer& tokenizer,
                                         const std::vector<NeuronResult>& neurons, const AblationOptions& options,
                                         const Progress& progress) {
    torch::InferenceMode guard;
    const ModelConfig& c = model.config();
    const std::vector<Experiment> plan = planExperiments(neurons, options);
    validate(plan, neurons, c, options);
    std::set<int> layers;
    int64_t total = 0;
    for (const Experiment& e : plan) {
        for (int h : e.heads) layers.insert(h / c.nHeads);
        total += options.mode == AblationMode::Path ? 2 : 1;
    }
    AblationState st;
    Prompts pool;
    if (options.mode == AblationMode::Mean || options.mode == AblationMode::Resample)
        pool = studyPrompts(neurons, tokenizer, model.bosTokenId());
    if (options.mode == AblationMode::Mean && !layers.empty()) {
        progress.report(0, total, "mean head outputs over the study's prompts");
        st.means = meanValues(model, pool, layers, options.batchTokens, options.meanPrompts);
    }
    std::vector<AblationResult> out;
    int64_t done = 0;
    for (std::size_t i = 0; i < neurons.size(); ++i) {
        std::vector<const Experiment*> mine;
        for (const Experiment& e : plan)
            if (e.neuron == i) mine.push_back(&e);
        if (mine.empty()) continue;
        const NeuronPrompts np = promptsOf(neurons[i], tokenizer, model.bosTokenId());
        if (np.prompts.empty()) {
            done += int64_t(mine.size()) * (options.mode == AblationMode::Path ? 2 : 1);
            continue;
        }
        if (options.mode == AblationMode::Resample) {
            Prompts donors;
            for (std::size_t j : drawDonors(np.prompts, pool, options.seed, np.result->neuron.ref)) donors.push_back(pool[j]);
            st.donorZ = donorValues(model, donors, layers, options.batchTokens);
        }
        ablateNeuron(model, np, mine, options, st, progress, done, total, out);
    }
    progress.report(total, total, "ablation done");
    return out;
}

std::vector<AblationResult> runHeadAblations(const Transformer& model, const Tokenizer& tokenizer,
                                             const std::vector<NeuronResult>& neurons, int64_t batchTokens,
                                             const Progress& progress) {
    AblationOptions o;
    o.batchTokens = batchTokens;
    return runAblations(model, tokenizer, neurons, o, progress);
}

std::vector<std::size_t> mergeAblations(std::vector<AblationResult>& existing, std::vector<AblationResult> fresh) {
    std::vector<std::size_t> at;
    auto same = [](const AblationResult& a, const AblationResult& b) {
        return a.neuron == b.neuron && a.mode == b.mode && a.heads == b.heads && a.group == b.group;
    };
    for (AblationResult& f : fresh) {
        const auto it = std::find_if(existing.begin(), existing.end(), [&](const AblationResult& e) { return same(e, f); });
        at.push_back(std::size_t(it - existing.begin()));
        if (it != existing.end())
            *it = std::move(f);
        else
            existing.push_back(std::move(f));
    }
    return at;
}

}  // namespace headlight::analysis
