// Load time and resident memory of a checkpoint.
//   bench_load_memory write-gpt2-bf16 DIR    writes a random GPT-2-small-shaped bfloat16 checkpoint to DIR
//   bench_load_memory DIR [--bf16] [--raw]   loads DIR (float32 or bfloat16 compute) and prints one line:
//     load seconds, resident memory (VmRSS) before and after, peak (VmHWM), weight bytes on disk
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <QCoreApplication>
#include <QDir>

#include "bench/gpt2_small.h"
#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"

using namespace headlight;

namespace {

long statusKb(const char* key) {  // a /proc/self/status field in kB
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
    return -1;
}

void add(io::SafetensorsWriter& w, const std::string& name, std::vector<int64_t> shape, double std, double mean = 0) {
    const at::Tensor t = (at::randn(shape) * std + mean).to(at::kBFloat16).contiguous();
    w.addCopy(name, io::DType::BF16, shape, t.data_ptr(), t.numel() * 2);
}

void writeGpt2Bf16(const QString& dir) {
    const ModelConfig c = gpt2SmallConfig();
    const int64_t d = c.dModel, m = c.dMlp;
    QDir().mkpath(dir);
    io::SafetensorsWriter w;
    add(w, "wte.weight", {c.dVocab, d}, 0.02);
    add(w, "wpe.weight", {c.nCtx, d}, 0.01);
    for (int l = 0; l < c.nLayers; ++l) {
        const std::string h = "h." + std::to_string(l) + ".";
        add(w, h + "ln_1.weight", {d}, 0.05, 1), add(w, h + "ln_1.bias", {d}, 0.02);
        add(w, h + "attn.c_attn.weight", {d, 3 * d}, 0.02), add(w, h + "attn.c_attn.bias", {3 * d}, 0.02);
        add(w, h + "attn.c_proj.weight", {d, d}, 0.02), add(w, h + "attn.c_proj.bias", {d}, 0.02);
        add(w, h + "ln_2.weight", {d}, 0.05, 1), add(w, h + "ln_2.bias", {d}, 0.02);
        add(w, h + "mlp.c_fc.weight", {d, m}, 0.02), add(w, h + "mlp.c_fc.bias", {m}, 0.02);
        add(w, h + "mlp.c_proj.weight", {m, d}, 0.02), add(w, h + "mlp.c_proj.bias", {d}, 0.02);
    }
    add(w, "ln_f.weight", {d}, 0.05, 1), add(w, "ln_f.bias", {d}, 0.02);
    w.write(dir + "/model.safetensors");
    const std::string config = R"({"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024,
 "vocab_size": 50257, "bos_token_id": 50256, "eos_token_id": 50256, "torch_dtype": "bfloat16"})";
    io::writeFileAtomically(dir + "/config.json", QByteArray::fromStdString(config));
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() >= 3 && args[1] == QLatin1String("write-gpt2-bf16")) {
        writeGpt2Bf16(args[2]);
        std::printf("wrote %s\n", qPrintable(args[2]));
        return 0;
    }
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: bench_load_memory DIR [--bf16] [--raw] | write-gpt2-bf16 DIR\n");
        return 2;
    }
    LoadOptions o;
    if (args.contains(QStringLiteral("--bf16"))) o.dtype = ComputeDType::BFloat16;
    if (args.contains(QStringLiteral("--raw"))) o.processing = WeightProcessing::none();
    at::Tensor warm = at::ones({4}) + 1;  // libtorch's own start-up memory is not the model's
    if (args.contains(QStringLiteral("--phases"))) {  // where the load time goes
        auto t = std::chrono::steady_clock::now();
        auto lap = [&t](const char* what) {
            const auto now = std::chrono::steady_clock::now();
            std::printf("  %s %.2f s\n", what, std::chrono::duration<double>(now - t).count());
            t = now;
        };
        const Checkpoint ck = Checkpoint::open(args[1]);
        lap("open + validate");
        (void)checkpointWeightHash(ck);
        lap("weight hash");
        StateDict w = loadWeights(ck);
        lap("read + convert to float32");
        processWeights(w, ck.config(), o.processing);
        lap("process");
    }
    const long before = statusKb("VmRSS:");
    const auto t0 = std::chrono::steady_clock::now();
    const Transformer model = Transformer::load(args[1], o);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long after = statusKb("VmRSS:");
    std::printf("%s %s%s: load %.2f s, RSS %.1f MB -> %.1f MB (model %.1f MB), peak %.1f MB\n", qPrintable(args[1]),
                o.dtype == ComputeDType::BFloat16 ? "bf16" : "fp32", o.processing.any() ? "" : " raw", seconds,
                before / 1024.0, after / 1024.0, (after - before) / 1024.0, statusKb("VmHWM:") / 1024.0);
    return model.config().nLayers > 0 ? 0 : 1;
}
