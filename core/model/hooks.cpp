#include "core/model/hooks.h"

#include <cctype>

#include "core/base/error.h"

namespace headlight {

namespace {

struct PointName {
    HookPoint point;
    const char* name;  // after "blocks.L." for per-layer points
    bool perLayer;
};

constexpr PointName kPointNames[] = {
    {HookPoint::Embed, "hook_embed", false},
    {HookPoint::PosEmbed, "hook_pos_embed", false},
    {HookPoint::ResidPre, "hook_resid_pre", true},
    {HookPoint::Ln1Scale, "ln1.hook_scale", true},
    {HookPoint::Q, "attn.hook_q", true},
    {HookPoint::K, "attn.hook_k", true},
    {HookPoint::V, "attn.hook_v", true},
    {HookPoint::RotQ, "attn.hook_rot_q", true},
    {HookPoint::RotK, "attn.hook_rot_k", true},
    {HookPoint::AttnScores, "attn.hook_attn_scores", true},
    {HookPoint::Pattern, "attn.hook_pattern", true},
    {HookPoint::Z, "attn.hook_z", true},
    {HookPoint::Result, "attn.hook_result", true},
    {HookPoint::AttnOut, "hook_attn_out", true},
    {HookPoint::ResidMid, "hook_resid_mid", true},
    {HookPoint::Ln2Scale, "ln2.hook_scale", true},
    {HookPoint::MlpPre, "mlp.hook_pre", true},
    {HookPoint::MlpPreLinear, "mlp.hook_pre_linear", true},
    {HookPoint::MlpPost, "mlp.hook_post", true},
    {HookPoint::MlpOut, "hook_mlp_out", true},
    {HookPoint::ResidPost, "hook_resid_post", true},
    {HookPoint::LnFinalScale, "ln_final.hook_scale", false},
    {HookPoint::Logits, "logits", false},
    {HookPoint::Ln1PostScale, "ln1_post.hook_scale", true},
    {HookPoint::Ln2PostScale, "ln2_post.hook_scale", true},
};

const PointName& entry(HookPoint p) {
    for (const PointName& e : kPointNames)
        if (e.point == p) return e;
    throw Error("internal: unknown hook point");
}

}  // namespace

HookId HookId::parse(const std::string& name) {
    for (const PointName& e : kPointNames)
        if (!e.perLayer && name == e.name) return {e.point, -1};
    const std::string prefix = "blocks.";
    if (name.compare(0, prefix.size(), prefix) == 0) {
        std::size_t i = prefix.size();
        std::size_t digits = 0;
        while (i + digits < name.size() && std::isdigit(static_cast<unsigned char>(name[i + digits]))) ++digits;
        if (digits > 0 && digits < 7 && i + digits < name.size() && name[i + digits] == '.') {
            const int layer = std::stoi(name.substr(i, digits));
            const std::string rest = name.substr(i + digits + 1);
            for (const PointName& e : kPointNames)
                if (e.perLayer && rest == e.name) return {e.point, layer};
        }
    }
    throw Error("unknown hook '" + name +
                "' (expected a TransformerLens hook name such as blocks.0.mlp.hook_post, blocks.0.attn.hook_z, logits)");
}

std::string HookId::name() const {
    const PointName& e = entry(point);
    return e.perLayer ? "blocks." + std::to_string(layer) + "." + e.name : std::string(e.name);
}

bool HookId::perLayer() const { return entry(point).perLayer; }

HookSet& HookSet::capture(const std::string& name) { return capture(HookId::parse(name)); }

HookSet& HookSet::capture(const std::vector<std::string>& names) {
    for (const std::string& n : names) capture(n);
    return *this;
}

HookSet& HookSet::capture(HookId id) {
    for (const HookId& c : captures_)
        if (c == id) return *this;
    captures_.push_back(id);
    return *this;
}

HookSet& HookSet::atPositions(std::vector<int64_t> positionPerRow) {
    positions_ = std::move(positionPerRow);
    lastTokens_ = false;
    return *this;
}

HookSet& HookSet::atLastTokens() {
    positions_.reset();
    lastTokens_ = true;
    return *this;
}

HookSet& HookSet::zeroHeadValues(int layer, int head) {
    zeroValues_.emplace_back(layer, head);
    return *this;
}

HookSet& HookSet::zeroHeadOutput(int layer, int head) {
    zeroOutputs_.emplace_back(layer, head);
    return *this;
}

HookSet& HookSet::replace(const std::string& name, at::Tensor value) {
    if (!value.defined()) throw Error("hook " + name + ": replacement tensor is undefined");
    edits_.push_back({HookId::parse(name), std::move(value), {}});
    return *this;
}

HookSet& HookSet::edit(const std::string& name, HookFn fn) {
    if (!fn) throw Error("hook " + name + ": empty callback");
    edits_.push_back({HookId::parse(name), {}, std::move(fn)});
    return *this;
}

HookSet& HookSet::runToEnd(bool on) {
    runToEnd_ = on;
    return *this;
}

const at::Tensor& ActivationCache::at(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw Error("activation '" + name + "' was not captured");
    return it->second;
}

}  // namespace headlight
