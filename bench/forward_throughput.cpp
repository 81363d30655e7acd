// bench/forward_throughput: tokens/s of the hooked forward pass on a GPT-2-small-shaped model with
// random weights (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257, TL weight processing),
// capturing blocks.{9,10,11}.mlp.hook_post as the activation scan does.
// Usage: bench_forward_throughput [FILTER] [SECONDS]
//   FILTER: substring of the configuration names to run (default: all); SECONDS: time per configuration.
// Prints per configuration: "forward_tokens_per_s <dtype>_T<T>_B<B>_<stop|full> <tokens/s> gflops=<G>
// peak_fraction=<f>", where the FLOPs are the model's (QKV, O, MLP, the causal half of attention's two
// T x T products, the unembedding when it runs) and the peak is this process's own GEMM ceiling
// (a 1024^3 matmul in the same dtype, as bench_gemm_peak), the best of measurements taken before and
// between the configurations (the lines are printed at the end). On a shared machine run it with
// OMP_WAIT_POLICY=passive: OpenMP's spinning threads otherwise lose most of their time to other processes.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "bench/gpt2_small.h"
#include "core/base/versions.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"

using namespace headlight;
using Clock = std::chrono::steady_clock;

namespace {

ModelConfig gpt2Small() { return gpt2SmallConfig(); }

double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double gemmPeak(at::ScalarType type) {
    c10::InferenceMode guard;
    const int64_t n = 1024;
    const at::Tensor a = at::randn({n, n}).to(type), b = at::randn({n, n}).to(type);
    at::Tensor c = at::matmul(a, b);
    double best = 0;
    for (int round = 0; round < 3; ++round) {
        int iters = 0;
        const auto start = Clock::now();
        do {
            c = at::matmul(a, b);
            ++iters;
        } while (seconds(start) < 0.4);
        best = std::max(best, 2.0 * n * n * n * iters / seconds(start) / 1e9);
    }
    return best;
}

// FLOPs of the matmuls one forward pass runs.
double forwardFlops(const ModelConfig& c, int64_t B, int64_t T, bool earlyStop) {
    const double d = c.dModel, m = c.dMlp, tokens = double(B) * T;
    // Causal attention: each of the T(T+1)/2 visible (query, key) pairs costs 2d for q.k and 2d for p.v.
    const double perLayer = tokens * 2 * (4 * d * d + 2 * d * m) + B * 2.0 * T * (T + 1) * d;
    double flops = c.nLayers * perLayer;
    if (earlyStop) flops -= tokens * 2 * m * d;       // the last layer stops at hook_post: no W_out
    else flops += tokens * 2 * d * c.dVocab;          // the unembedding
    return flops;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string filter = argc > 1 ? argv[1] : "";
    const double budget = argc > 2 ? std::stod(argv[2]) : 3.0;
    configureTorchThreads();
    const ModelConfig config = gpt2Small();
    std::cerr << "threads " << at::get_num_threads() << ", " << blasInfo() << "\n";
    double peak32 = gemmPeak(at::kFloat), peak16 = gemmPeak(at::kBFloat16);
    struct Row {
        std::string name;
        double tokensPerS, gflops;
        bool fp32;
        int runs;
    };
    std::vector<Row> rows;

    for (const ComputeDType dtype : {ComputeDType::Float32, ComputeDType::BFloat16}) {
        const std::string dtypeName = dtype == ComputeDType::Float32 ? "fp32" : "bf16";
        const std::string otherName = dtype == ComputeDType::Float32 ? "bf16" : "fp32";
        if (filter.find(otherName) != std::string::npos) continue;  // the filter names the other dtype
        LoadOptions options;
        options.dtype = dtype;
        const Transformer model = Transformer::fromWeights(config, randomWeights(config, 1234), options, "gpt2-small-random");
        for (const int64_t T : {128, 1024}) {
            for (const int64_t B : {1, 8}) {
                for (const bool earlyStop : {true, false}) {
                    const std::string name = dtypeName + "_T" + std::to_string(T) + "_B" + std::to_string(B) +
                                             (earlyStop ? "_stop" : "_full");
                    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
                    const at::Tensor ids = at::randint(0, config.dVocab, {B, T}, at::kLong);
                    const TokenBatch batch{ids, std::vector<int64_t>(B, T), {}};
                    HookSet hooks;
                    hooks.capture({"blocks.9.mlp.hook_post", "blocks.10.mlp.hook_post", "blocks.11.mlp.hook_post"});
                    if (!earlyStop) hooks.runToEnd();
                    model.run(batch, hooks);  // warm-up
                    int runs = 0;
                    double best = 1e30;
                    const auto start = Clock::now();
                    do {
                        const auto t0 = Clock::now();
                        const ActivationCache cache = model.run(batch, hooks);
                        best = std::min(best, seconds(t0));
                        ++runs;
                    } while (seconds(start) < budget);
                    const double tokensPerS = double(B) * T / best;
                    const double gflops = forwardFlops(config, B, T, earlyStop) / best / 1e9;
                    rows.push_back({name, tokensPerS, gflops, dtype == ComputeDType::Float32, runs});
                    std::cerr << name << " " << tokensPerS << " tokens/s\n";
                    double& peak = dtype == ComputeDType::Float32 ? peak32 : peak16;
                    peak = std::max(peak, gemmPeak(dtype == ComputeDType::Float32 ? at::kFloat : at::kBFloat16));
                }
            }
        }
    }
    std::cerr << "gemm peak fp32 " << peak32 << " GFLOP/s, bf16 " << peak16 << " GFLOP/s\n";
    for (const Row& r : rows)
        std::printf("forward_tokens_per_s %s %.1f gflops=%.1f peak_fraction=%.2f runs=%d\n", r.name.c_str(), r.tokensPerS,
                    r.gflops, r.gflops / (r.fp32 ? peak32 : peak16), r.runs);
    return 0;
}
