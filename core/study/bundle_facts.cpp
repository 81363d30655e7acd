#include "core/study/bundle_facts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/analysis/activation_histogram.h"
#include "core/analysis/corpus.h"
#include "core/base/error.h"

namespace headlight {

using io::DType;
using analysis::histogram_bins::kBins;

namespace {

template <typename T>
T at(const io::TensorView* t, int64_t i) {
    T v;
    std::memcpy(&v, t->data + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
}

template <typename T>
void borrow(io::SafetensorsWriter& w, const char* name, DType dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
    w.addBorrowed(name, dtype, std::move(shape), v.data(), v.size() * sizeof(T));
}

// The facts' token lists per neuron: promoted then suppressed, K slots each.
constexpr const char* kTokens = "facts.tokens";             // I32 [N, 2K], -1 where empty
constexpr const char* kValues = "facts.values";             // F32 [N, 2K], NaN where empty
constexpr const char* kText = "facts.token_text";           // U8 [*]
constexpr const char* kTextOffset = "facts.token_text_offset";  // I64 [N * 2K + 1]
constexpr const char* kHistOffset = "facts.histogram_offset";   // I64 [N + 1]
constexpr const char* kHistBin = "facts.histogram_bin";         // I16 [B] non-zero bins, ascending per neuron
constexpr const char* kHistCount = "facts.histogram_count";     // I64 [B]
constexpr const char* kHistNan = "facts.histogram_nan";         // I64 [N]
constexpr const char* kHistMin = "facts.histogram_min";         // F32 [N]
constexpr const char* kHistMax = "facts.histogram_max";         // F32 [N]
constexpr const char* kHistRecorded = "facts.histogram_recorded";  // U8 [N]

}  // namespace

void FactColumns::addNeuron(const NeuronResult& neuron) { neurons_.push_back(&neuron); }

void FactColumns::addTo(io::SafetensorsWriter& w) const {
    const int64_t n = static_cast<int64_t>(neurons_.size());
    std::size_t k = 0;
    bool anyHistogram = false;
    for (const NeuronResult* r : neurons_) {
        k = std::max({k, r->promoted.size(), r->suppressed.size()});
        anyHistogram = anyHistogram || r->histogram.recorded();
    }
    if (k > 0) {
        textOffset_.assign(1, 0);
        for (const NeuronResult* r : neurons_)
            for (const auto* list : {&r->promoted, &r->suppressed})
                for (std::size_t j = 0; j < k; ++j) {
                    const bool has = j < list->size();
                    tokens_.push_back(has ? (*list)[j].token : -1);
                    values_.push_back(has ? (*list)[j].value : std::numeric_limits<float>::quiet_NaN());
                    if (has) text_ += (*list)[j].text;
                    textOffset_.push_back(static_cast<int64_t>(text_.size()));
                }
        const int64_t width = 2 * static_cast<int64_t>(k);
        borrow(w, kTokens, DType::I32, {n, width}, tokens_);
        borrow(w, kValues, DType::F32, {n, width}, values_);
        w.addBorrowed(kText, DType::U8, {int64_t(text_.size())}, text_.data(), text_.size());
        borrow(w, kTextOffset, DType::I64, {n * width + 1}, textOffset_);
    }
    if (!anyHistogram) return;
    histogramOffset_.assign(1, 0);
    for (const NeuronResult* r : neurons_) {
        const ActivationHistogram& h = r->histogram;
        if (h.recorded() && h.counts.size() != std::size_t(kBins))
            throw Error("cannot save study: " + neuronName(r->neuron.ref) + " has a histogram of " +
                        std::to_string(h.counts.size()) + " bins, expected " + std::to_string(kBins));
        for (std::size_t b = 0; b < h.counts.size(); ++b)
            if (h.counts[b] != 0) {
                histogramBin_.push_back(static_cast<int16_t>(b));
                histogramCount_.push_back(h.counts[b]);
            }
        histogramOffset_.push_back(static_cast<int64_t>(histogramBin_.size()));
        histogramNan_.push_back(h.nan);
        histogramMin_.push_back(h.min);
        histogramMax_.push_back(h.max);
        histogramRecorded_.push_back(h.recorded() ? 1 : 0);
    }
    const int64_t b = static_cast<int64_t>(histogramBin_.size());
    borrow(w, kHistOffset, DType::I64, {n + 1}, histogramOffset_);
    borrow(w, kHistBin, DType::I16, {b}, histogramBin_);
    borrow(w, kHistCount, DType::I64, {b}, histogramCount_);
    borrow(w, kHistNan, DType::I64, {n}, histogramNan_);
    borrow(w, kHistMin, DType::F32, {n}, histogramMin_);
    borrow(w, kHistMax, DType::F32, {n}, histogramMax_);
    borrow(w, kHistRecorded, DType::U8, {n}, histogramRecorded_);
}

FactReader FactReader::open(const io::SafetensorsFile& file, int64_t neurons, const Fail& fail) {
    FactReader r;
    auto column = [&](const char* name, DType dtype, std::vector<int64_t> shape) {
        const io::TensorView* t = file.find(name);
        if (!t) fail(std::string("missing tensor '") + name + "' (neuron-fact columns are incomplete)");
        for (std::size_t i = 0; i < shape.size(); ++i)
            if (shape[i] < 0 && i < t->shape.size()) shape[i] = t->shape[i];
        if (t->dtype != dtype || t->shape != shape) {
            io::TensorView expected;
            expected.shape = shape;
            fail(std::string("tensor '") + name + "' is " + io::dtypeName(t->dtype) + " " + t->shapeString() +
                 ", expected " + io::dtypeName(dtype) + " " + expected.shapeString());
        }
        return t;
    };
    auto checkOffsets = [&](const io::TensorView* off, int64_t end, const char* name) {
        int64_t previous = 0;
        for (int64_t i = 0; i < off->numel(); ++i) {
            const int64_t v = at<int64_t>(off, i);
            if ((i == 0 && v != 0) || v < previous || v > end) fail(std::string("tensor '") + name + "' is not a valid offset array");
            previous = v;
        }
        if (previous != end) fail(std::string("tensor '") + name + "' does not end at its column's length");
    };
    if (file.find(kTokens)) {
        r.tokens_ = column(kTokens, DType::I32, {neurons, -1});
        r.k_ = r.tokens_->shape[1] / 2;
        if (r.tokens_->shape[1] % 2) fail(std::string("tensor '") + kTokens + "' has an odd number of columns");
        r.values_ = column(kValues, DType::F32, {neurons, 2 * r.k_});
        r.text_ = column(kText, DType::U8, {-1});
        r.textOffset_ = column(kTextOffset, DType::I64, {neurons * 2 * r.k_ + 1});
        checkOffsets(r.textOffset_, r.text_->numel(), kTextOffset);
        for (int64_t i = 0; i < r.tokens_->numel(); ++i) {
            const int32_t token = at<int32_t>(r.tokens_, i);
            const float value = at<float>(r.values_, i);
            if (token < -1 || (token >= 0 && !(std::isfinite(value) && std::fabs(value) <= 1e9f)))
                fail(std::string("tensor '") + kTokens + "' or '" + kValues + "' entry " + std::to_string(i) + " is not valid");
        }
    }
    if (file.find(kHistOffset)) {
        r.histogramOffset_ = column(kHistOffset, DType::I64, {neurons + 1});
        r.histogramBin_ = column(kHistBin, DType::I16, {-1});
        const int64_t b = r.histogramBin_->numel();
        r.histogramCount_ = column(kHistCount, DType::I64, {b});
        r.histogramNan_ = column(kHistNan, DType::I64, {neurons});
        r.histogramMin_ = column(kHistMin, DType::F32, {neurons});
        r.histogramMax_ = column(kHistMax, DType::F32, {neurons});
        r.histogramRecorded_ = column(kHistRecorded, DType::U8, {neurons});
        checkOffsets(r.histogramOffset_, b, kHistOffset);
        for (int64_t i = 0; i < b; ++i) {
            const int16_t bin = at<int16_t>(r.histogramBin_, i);
            if (bin < 0 || bin >= kBins || at<int64_t>(r.histogramCount_, i) < 0)
                fail(std::string("tensor '") + kHistBin + "' or '" + kHistCount + "' entry " + std::to_string(i) +
                     " is outside the " + std::to_string(kBins) + " bins or negative");
        }
        for (int64_t i = 0; i < neurons; ++i)
            if (at<uint8_t>(r.histogramRecorded_, i) > 1 || at<int64_t>(r.histogramNan_, i) < 0)
                fail(std::string("tensor '") + kHistRecorded + "' or '" + kHistNan + "' entry " + std::to_string(i) + " is not valid");
    }
    return r;
}

void FactReader::fill(int64_t i, NeuronResult& neuron) const {
    if (tokens_) {
        for (int64_t j = 0; j < 2 * k_; ++j) {
            const int64_t slot = i * 2 * k_ + j;
            const int32_t token = at<int32_t>(tokens_, slot);
            if (token < 0) continue;
            const int64_t b = at<int64_t>(textOffset_, slot), e = at<int64_t>(textOffset_, slot + 1);
            TokenValue t{token, at<float>(values_, slot), std::string(reinterpret_cast<const char*>(text_->data) + b, std::size_t(e - b))};
            (j < k_ ? neuron.promoted : neuron.suppressed).push_back(std::move(t));
        }
    }
    if (histogramOffset_ && at<uint8_t>(histogramRecorded_, i)) {
        ActivationHistogram& h = neuron.histogram;
        h.counts.assign(kBins, 0);
        for (int64_t k = at<int64_t>(histogramOffset_, i); k < at<int64_t>(histogramOffset_, i + 1); ++k)
            h.counts[std::size_t(at<int16_t>(histogramBin_, k))] += at<int64_t>(histogramCount_, k);
        h.nan = at<int64_t>(histogramNan_, i);
        h.min = at<float>(histogramMin_, i);
        h.max = at<float>(histogramMax_, i);
    }
}

}  // namespace headlight
