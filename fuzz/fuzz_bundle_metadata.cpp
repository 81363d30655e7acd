// libFuzzer target, structure-aware for the bundle's metadata document: the input is the JSON text of
// __metadata__["headlight"], stored beside the tensors of a small valid study. Bundle::open must accept
// or reject it with a headlight::Error (naming the field), never crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <QTemporaryDir>

#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "core/study/bundle.h"

namespace {

// The tensors of a one-neuron, one-context study (saved once, kept mapped).
const headlight::io::SafetensorsFile& baseBundle(const QString& dir) {
    static const headlight::io::SafetensorsFile file = [&] {
        headlight::Study s;
        s.nLayers = 1;
        s.nHeads = 2;
        s.dMlp = 2;
        headlight::NeuronResult r;
        r.neuron = {{0, 1}, 7, " dog", 1.5f, false};
        r.candidateHeads = {0, 1};
        r.relevantHeads = {1};
        r.activeFraction = {0.f, 1.f};
        headlight::NeuronContext c;
        c.docSource = "a.jsonl";
        c.position = 2;
        c.start = 1;
        c.activation = 2.f;
        c.truncatedActivation = 1.8f;
        c.tokens = {5, 6};
        c.tokenActivations = {0.5f, 2.f};
        c.text = "a dog";
        c.headScores = {0.1f, 0.2f};
        c.active = {0, 1};
        r.contexts.push_back(c);
        s.neurons.push_back(r);
        s.congruence.push_back({0, {0.5f, 1.5f}, {3, 7}});
        const QString path = dir + QStringLiteral("/base.headlight");
        headlight::saveBundle(s, path);
        return headlight::io::SafetensorsFile::open(path);
    }();
    return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static QTemporaryDir* dir = new QTemporaryDir;
    const headlight::io::SafetensorsFile& base = baseBundle(dir->path());
    headlight::io::SafetensorsWriter w;
    for (const auto& t : base.tensors()) w.addBorrowed(t.name, t.dtype, t.shape, t.data, t.nbytes);
    w.setMetadata("headlight", std::string(reinterpret_cast<const char*>(data), size));
    const QString path = dir->path() + QStringLiteral("/fuzz.headlight");
    try {
        w.write(path);
    } catch (const headlight::Error&) {
        return 0;  // not UTF-8: the writer refuses it
    }
    try {
        const headlight::Study s = headlight::Bundle::open(path).toStudy();
        (void)s;
    } catch (const headlight::Error&) {
    }
    return 0;
}
