#include "core/model/capture.h"

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/model/transformer.h"

namespace headlight {

CaptureReport captureActivations(const Checkpoint& checkpoint, const std::vector<int64_t>& ids,
                                 const std::vector<std::string>& hooks, const CaptureOptions& options,
                                 const QString& outPath) {
    if (ids.empty()) throw Error("activations: no tokens to run");
    if (hooks.empty()) throw Error("activations: no hooks to capture");
    HookSet hookSet;
    for (const std::string& name : hooks) hookSet.capture(name);
    if (options.lastTokenOnly) hookSet.atLastTokens();

    LoadOptions load;
    load.processing = options.rawWeights ? WeightProcessing::none() : WeightProcessing::transformerLensDefaults();
    load.dtype = options.bfloat16 ? ComputeDType::BFloat16 : ComputeDType::Float32;
    load.device = options.device;
    const Transformer model = Transformer::fromCheckpoint(checkpoint, load);
    const ActivationCache cache = model.run(ids, hookSet);

    io::SafetensorsWriter writer;
    for (const std::string& name : hooks) {
        const at::Tensor t = cache.at(name)[0].contiguous();  // drop the batch dimension
        writer.addCopy(name, io::DType::F32, t.sizes().vec(), t.data_ptr(), t.numel() * sizeof(float));
    }
    writer.setMetadata("model", model.identity().toJson().dump());
    writer.setMetadata("tokens", nlohmann::json(ids).dump());
    writer.setMetadata("positions", options.lastTokenOnly ? "last" : "all");
    writer.write(outPath);
    return {hooks.size(), ids.size(), model.identity().describe()};
}

}  // namespace headlight
