#include "core/base/versions.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <torch/torch.h>
#include <torch/version.h>

#include <QtGlobal>

namespace headlight {

std::string headlightVersion() { return HEADLIGHT_VERSION; }
std::string qtVersion() { return qVersion(); }
std::string libtorchVersion() { return TORCH_VERSION; }

std::string blasInfo() {
    // libtorch calls sgemm through libblas.so.3, which Debian points at the reference BLAS or at
    // OpenBLAS with update-alternatives; the mapped path tells which one the loader picked.
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        const auto slash = line.find('/');
        if (slash == std::string::npos || line.find("libblas.so") == std::string::npos) continue;
        const std::string path = line.substr(slash);
        return (path.find("openblas") != std::string::npos ? "OpenBLAS (" : "reference BLAS (") + path + ")";
    }
    return "unknown";
}

int configureTorchThreads(int threads, int fallback) {
    static std::once_flag once;
    std::call_once(once, [threads, fallback] {
        // An explicit request wins, then HEADLIGHT_THREADS, then OMP_NUM_THREADS, then the caller's
        // fallback, then every core.
        int n = threads;
        for (const char* var : {"HEADLIGHT_THREADS", "OMP_NUM_THREADS"}) {
            if (n > 0) break;
            if (const char* value = std::getenv(var)) n = std::atoi(value);
        }
        if (n <= 0) n = fallback;
        if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
        if (n <= 0) n = 1;
        torch::set_num_threads(n);
    });
    return torch::get_num_threads();
}

void ensurePassiveOpenMpWait(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || !argv || !argv[0]) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // only returns on failure: then go on with spinning threads
}

}  // namespace headlight
