// Versions of Headlight and the libraries it runs on (for About boxes, --version and provenance).
#pragma once

#include <string>

namespace headlight {

std::string headlightVersion();
std::string qtVersion();
std::string libtorchVersion();
std::string blasInfo();    // which BLAS libtorch is linked against at run time (from /proc/self/maps)
// Sets libtorch's intra-op thread count once: `threads` if > 0, else $HEADLIGHT_THREADS, else
// $OMP_NUM_THREADS, else `fallback` if > 0, else the number of cores. Returns the count in use.
int configureTorchThreads(int threads = 0, int fallback = 0);

// OpenMP threads spin between parallel regions by default; on a busy or small machine that steals
// the cores the work needs (up to 18x slower here). libgomp reads OMP_WAIT_POLICY when it loads,
// before main(), so the executables call this first: if the variable is unset it is set to
// "passive" and the program re-executes itself once. Returns only if no re-execution happened.
void ensurePassiveOpenMpWait(char** argv);

}  // namespace headlight
