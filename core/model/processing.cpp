#include "core/model/processing.h"

#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/model/checkpoint.h"

namespace headlight {

std::string WeightProcessing::describe() const {
    std::string s;
    auto add = [&s](bool on, const char* name) {
        if (on) s += (s.empty() ? "" : ", ") + std::string(name);
    };
    add(foldLn, "fold_ln");
    add(centerWritingWeights, "center_writing_weights");
    add(centerUnembed, "center_unembed");
    add(foldValueBiases, "fold_value_biases");
    return s.empty() ? "none (raw weights)" : s;
}

nlohmann::json WeightProcessing::toJson() const {
    return {{"fold_ln", foldLn},
            {"center_writing_weights", centerWritingWeights},
            {"center_unembed", centerUnembed},
            {"fold_value_biases", foldValueBiases}};
}

WeightProcessing WeightProcessing::fromJson(const nlohmann::json& j) {
    auto flag = [&j](const char* key) {
        if (!j.is_object() || !j.contains(key) || !j.at(key).is_boolean())
            throw Error(std::string("weight processing: field '") + key + "' must be true or false");
        return j.at(key).get<bool>();
    };
    WeightProcessing p;
    p.foldLn = flag("fold_ln");
    p.centerWritingWeights = flag("center_writing_weights");
    p.centerUnembed = flag("center_unembed");
    p.foldValueBiases = flag("fold_value_biases");
    return p;
}

// ---- XXH64 ----------------------------------------------------------------------------------------

namespace {

constexpr uint64_t P1 = 11400714785074694791ULL;
constexpr uint64_t P2 = 14029467366897019727ULL;
constexpr uint64_t P3 = 1609587929392839161ULL;
constexpr uint64_t P4 = 9650029242287828579ULL;
constexpr uint64_t P5 = 2870177450012600261ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, aarch64)
    return v;
}
inline uint32_t read32(const unsigned char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint64_t round64(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }
inline uint64_t merge64(uint64_t acc, uint64_t val) { return (acc ^ round64(0, val)) * P1 + P4; }

}  // namespace

uint64_t xxh64(const void* data, std::size_t size, uint64_t seed) {
    const auto* p = static_cast<const unsigned char*>(data);
    const unsigned char* const end = p + size;
    uint64_t h;
    if (size >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const unsigned char* const limit = end - 32;
        do {
            v1 = round64(v1, read64(p));
            v2 = round64(v2, read64(p + 8));
            v3 = round64(v3, read64(p + 16));
            v4 = round64(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(h, v1);
        h = merge64(h, v2);
        h = merge64(h, v3);
        h = merge64(h, v4);
    } else {
        h = seed + P5;
    }
    h += static_cast<uint64_t>(size);
    for (; p + 8 <= end; p += 8) h = rotl(h ^ round64(0, read64(p)), 27) * P1 + P4;
    if (p + 4 <= end) {
        h = rotl(h ^ (static_cast<uint64_t>(read32(p)) * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; ++p) h = rotl(h ^ (static_cast<uint64_t>(*p) * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

void WeightHasher::add(const std::string& name, const std::string& dtype, const int64_t* shape, std::size_t rank,
                       const void* data, std::size_t nbytes) {
    records_ += name;
    records_ += '\0';
    records_ += dtype;
    records_ += '\0';
    for (std::size_t i = 0; i < rank; ++i) records_ += std::to_string(shape[i]) + ",";
    records_ += '\0';
    const uint64_t h = xxh64(data, nbytes);
    records_.append(reinterpret_cast<const char*>(&h), sizeof h);
}

std::string WeightHasher::hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(xxh64(records_.data(), records_.size())));
    return std::string("xxh64:") + buf;
}

std::string checkpointWeightHash(const Checkpoint& checkpoint) {
    WeightHasher hasher;
    for (const std::string& name : checkpoint.tensorNames()) {
        const io::TensorView& t = checkpoint.at(name);
        hasher.add(name, io::dtypeName(t.dtype), t.shape.data(), t.shape.size(), t.data, t.nbytes);
    }
    return hasher.hex();
}

}  // namespace headlight
