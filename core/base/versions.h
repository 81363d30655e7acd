// Versions of Headlight and the libraries it runs on (for About boxes, --version and provenance).
#pragma once

#include <string>

namespace headlight {

std::string headlightVersion();
std::string qtVersion();
std::string libtorchVersion();
std::string blasInfo();    // which BLAS libtorch is linked against at run time (from /proc/self/maps)
// Sets libtorch's intra-op thread count once: `threads` if > 0, else $HEADLIGHT_THREADS, else
// $OMP_NUM_THREADS, else the number of cores. Returns the count in use.
int configureTorchThreads(int threads = 0);

}  // namespace headlight
