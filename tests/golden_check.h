// Helpers for tests that compare the engine against golden safetensors files: reading golden
// tensors, and a Checker that compares with |ours - golden| <= atol + rtol * |golden| and keeps the worst case.
#pragma once

#include <ATen/ATen.h>
#include <QtTest>

#include <cstring>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/weights.h"

namespace headlight::test {

inline at::Tensor goldenTensor(const io::TensorView& v) {
    if (v.dtype == io::DType::I64 || v.dtype == io::DType::I32) {
        const auto type = v.dtype == io::DType::I64 ? at::kLong : at::kInt;
        at::Tensor t = at::empty(v.shape, at::TensorOptions().dtype(type));
        std::memcpy(t.data_ptr(), v.data, v.nbytes);
        return t.to(at::kLong);
    }
    return tensorFromView(v);
}

inline std::vector<int64_t> toIds(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kLong).contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

inline bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Compares tensors with |ours - golden| <= atol + rtol * |golden| and keeps the worst case.
struct Checker {
    std::string fixture;
    int checked = 0;
    double worstAbs = 0;
    std::string worstName;
    std::vector<std::string> failures;

    void close(const std::string& name, at::Tensor ours, at::Tensor golden, double atol, double rtol) {
        ++checked;
        ours = ours.to(at::kDouble);
        golden = golden.to(at::kDouble);
        if (ours.sizes() != golden.sizes()) {
            failures.push_back(name + ": shape " + c10::str(ours.sizes()) + " vs golden " + c10::str(golden.sizes()));
            return;
        }
        if (golden.numel() == 0) return;
        const at::Tensor diff = (ours - golden).abs();
        const double maxAbs = diff.max().item<double>();
        const double excess = (diff - (atol + rtol * golden.abs())).max().item<double>();
        if (maxAbs > worstAbs) {
            worstAbs = maxAbs;
            worstName = name;
        }
        if (!(excess <= 0)) failures.push_back(name + ": max abs error " + std::to_string(maxAbs));
    }
    void exact(const std::string& name, const at::Tensor& ours, const at::Tensor& golden) {
        ++checked;
        if (ours.sizes() != golden.sizes() || !at::equal(ours.to(at::kLong), golden.to(at::kLong)))
            failures.push_back(name + ": integers differ");
    }
    void fail(const std::string& name, const std::string& why) { failures.push_back(name + ": " + why); }

    void report() const {
        qInfo("%s: %d golden tensors checked, worst abs error %.3g (%s), %d failures", fixture.c_str(), checked,
              worstAbs, worstName.c_str(), int(failures.size()));
        std::string msg;
        for (std::size_t i = 0; i < failures.size() && i < 15; ++i) msg += "\n  " + failures[i];
        QVERIFY2(failures.empty(), (fixture + ": " + std::to_string(failures.size()) + " golden mismatches" + msg).c_str());
    }
};

}  // namespace headlight::test
