// bench/gemm_peak: the machine's matmul ceiling through libtorch, in GFLOP/s.
// Usage: bench_gemm_peak [fp32|bf16] [N]   prints "gemm_peak_<dtype>_gflops <value>".
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "core/base/versions.h"

int main(int argc, char** argv) {
    const std::string kind = argc > 1 ? argv[1] : "fp32";
    const int64_t n = argc > 2 ? std::stoll(argv[2]) : 1024;
    const auto dtype = kind == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    headlight::configureTorchThreads();
    torch::NoGradGuard noGrad;
    torch::manual_seed(0);
    const auto a = torch::randn({n, n}).to(dtype);
    const auto b = torch::randn({n, n}).to(dtype);
    auto c = torch::matmul(a, b);  // warm-up
    double best = 0;
    for (int round = 0; round < 5; ++round) {
        int iters = 0;
        const auto start = std::chrono::steady_clock::now();
        double seconds = 0;
        do {
            c = torch::matmul(a, b);
            ++iters;
            seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        } while (seconds < 0.5);
        best = std::max(best, 2.0 * n * n * n * iters / seconds / 1e9);
    }
    std::cerr << "threads " << torch::get_num_threads() << ", " << headlight::blasInfo() << "\n";
    std::printf("gemm_peak_%s_gflops %.1f\n", kind.c_str(), best);
    return 0;
}
