// Activation capture to a file (`headlight-cli activations`): one sequence through the hooked forward
// pass, each requested TransformerLens hook written as a float32 tensor named by the hook, batch
// dimension dropped; the file's metadata records the model identity, the token ids and the positions.
// Torch-free header: callers above core never see a tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <QString>

namespace headlight {

class Checkpoint;

struct CaptureOptions {
    bool rawWeights = false;      // no fold_ln / centring / value-bias folding
    bool bfloat16 = false;        // compute in bfloat16 (tensors are still written as float32)
    std::string device;           // "cpu", "cuda", "cuda:N", "auto"; empty: $HEADLIGHT_DEVICE or cpu
    bool lastTokenOnly = false;   // capture at the last position only
};

struct CaptureReport {
    std::size_t tensors = 0;      // tensors written
    std::size_t tokens = 0;       // sequence length
    std::string model;            // ModelIdentity::describe() of the model as run
};

// Loads the checkpoint's model, runs `ids` capturing `hooks`, writes `outPath` atomically. Throws
// headlight::Error for an unknown hook, an empty hook list or ids, or a failed write.
CaptureReport captureActivations(const Checkpoint& checkpoint, const std::vector<int64_t>& ids,
                                 const std::vector<std::string>& hooks, const CaptureOptions& options,
                                 const QString& outPath);

}  // namespace headlight
