#include "core/study/bundle_lookups.h"

#include <cmath>
#include <cstring>

#include "core/base/error.h"

namespace headlight {

using io::DType;

namespace {

template <typename T>
T at(const io::TensorView* t, int64_t i) {
    T v;
    std::memcpy(&v, t->data + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
}

constexpr const char* kContextOffset = "lookups.context_offset";
constexpr const char* kValueOffset = "lookups.value_offset";
constexpr const char* kHead = "lookups.head";
constexpr const char* kScore = "lookups.score";
constexpr const char* kAttention = "lookups.attention";
constexpr const char* kContributions = "lookups.contributions";

}  // namespace

void LookupColumns::addContext(const NeuronContext& context) {
    for (const HeadLookup& l : context.lookups) {
        if (l.attention.size() != l.contributions.size())
            throw Error("cannot save study: the look-up of head " + std::to_string(l.head) + " has " +
                        std::to_string(l.attention.size()) + " attention values and " +
                        std::to_string(l.contributions.size()) + " contributions");
        head_.push_back(l.head);
        score_.push_back(l.score);
        attention_.insert(attention_.end(), l.attention.begin(), l.attention.end());
        contributions_.insert(contributions_.end(), l.contributions.begin(), l.contributions.end());
        valueOffset_.push_back(static_cast<int64_t>(attention_.size()));
    }
    contextOffset_.push_back(static_cast<int64_t>(head_.size()));
}

void LookupColumns::addTo(io::SafetensorsWriter& w) const {
    if (head_.empty()) return;  // no look-ups: the columns are optional
    const int64_t n = count(), values = static_cast<int64_t>(attention_.size());
    w.addBorrowed(kContextOffset, DType::I64, {int64_t(contextOffset_.size())}, contextOffset_.data(),
                  contextOffset_.size() * sizeof(int64_t));
    w.addBorrowed(kHead, DType::I32, {n}, head_.data(), head_.size() * sizeof(int32_t));
    w.addBorrowed(kScore, DType::F32, {n}, score_.data(), score_.size() * sizeof(float));
    w.addBorrowed(kValueOffset, DType::I64, {n + 1}, valueOffset_.data(), valueOffset_.size() * sizeof(int64_t));
    w.addBorrowed(kAttention, DType::F32, {values}, attention_.data(), attention_.size() * sizeof(float));
    w.addBorrowed(kContributions, DType::F32, {values}, contributions_.data(), contributions_.size() * sizeof(float));
}

LookupReader LookupReader::open(const io::SafetensorsFile& file, int64_t contexts, int64_t heads, const Fail& fail) {
    LookupReader r;
    r.contextOffset_ = file.find(kContextOffset);
    if (!r.contextOffset_) return r;
    auto column = [&](const char* name, DType dtype) {
        const io::TensorView* t = file.find(name);
        if (!t) fail(std::string("missing tensor '") + name + "' (look-up columns are incomplete)");
        if (t->dtype != dtype || t->shape.size() != 1)
            fail(std::string("tensor '") + name + "' has dtype " + io::dtypeName(t->dtype) + " and shape " +
                 t->shapeString() + ", expected a vector of " + io::dtypeName(dtype));
        return t;
    };
    r.contextOffset_ = column(kContextOffset, DType::I64);
    r.head_ = column(kHead, DType::I32);
    r.score_ = column(kScore, DType::F32);
    r.valueOffset_ = column(kValueOffset, DType::I64);
    r.attention_ = column(kAttention, DType::F32);
    r.contributions_ = column(kContributions, DType::F32);
    const int64_t n = r.head_->numel(), values = r.attention_->numel();
    if (r.contextOffset_->numel() != contexts + 1) fail(std::string("tensor '") + kContextOffset + "' does not have one entry per context + 1");
    if (r.score_->numel() != n || r.valueOffset_->numel() != n + 1 || r.contributions_->numel() != values)
        fail("look-up columns disagree in length");
    auto checkOffsets = [&](const io::TensorView* off, int64_t end, const char* name) {
        int64_t previous = 0;
        for (int64_t i = 0; i < off->numel(); ++i) {
            const int64_t v = at<int64_t>(off, i);
            if ((i == 0 && v != 0) || v < previous || v > end) fail(std::string("tensor '") + name + "' is not a valid offset array");
            previous = v;
        }
        if (previous != end) fail(std::string("tensor '") + name + "' does not end at its column's length");
    };
    checkOffsets(r.contextOffset_, n, kContextOffset);
    checkOffsets(r.valueOffset_, values, kValueOffset);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t h = at<int32_t>(r.head_, i);
        if (h < 0 || h >= heads) fail("look-up " + std::to_string(i) + " names head " + std::to_string(h) + " outside the model");
        if (!std::isfinite(at<float>(r.score_, i))) fail("tensor 'lookups.score' holds a non-finite value at " + std::to_string(i));
    }
    for (int64_t i = 0; i < values; ++i) {
        const float a = at<float>(r.attention_, i), c = at<float>(r.contributions_, i);
        if (!(a >= 0.f && a <= 1.f)) fail("tensor 'lookups.attention' holds " + std::to_string(a) + " at " + std::to_string(i) + ", outside [0, 1]");
        if (!std::isfinite(c)) fail("tensor 'lookups.contributions' holds a non-finite value at " + std::to_string(i));
    }
    r.present_ = true;
    return r;
}

std::vector<HeadLookup> LookupReader::of(int64_t context) const {
    std::vector<HeadLookup> out;
    if (!present_) return out;
    for (int64_t i = at<int64_t>(contextOffset_, context); i < at<int64_t>(contextOffset_, context + 1); ++i) {
        HeadLookup l;
        l.head = at<int32_t>(head_, i);
        l.score = at<float>(score_, i);
        for (int64_t v = at<int64_t>(valueOffset_, i); v < at<int64_t>(valueOffset_, i + 1); ++v) {
            l.attention.push_back(at<float>(attention_, v));
            l.contributions.push_back(at<float>(contributions_, v));
        }
        out.push_back(std::move(l));
    }
    return out;
}

}  // namespace headlight
