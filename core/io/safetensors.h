// Safetensors: the file format of Hugging Face checkpoints and of Headlight's bundles.
// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the raw tensor bytes.
// The reader memory-maps the file and validates everything before handing out a view; the writer
// produces the canonical layout (names sorted, data contiguous, header padded to 8 bytes) atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <QString>

namespace headlight::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtypeSize(DType dtype);               // bytes per element
const char* dtypeName(DType dtype);               // "F32", ...
std::optional<DType> parseDType(std::string_view name);

// One tensor inside a mapped file. `data` stays valid while the SafetensorsFile (or a copy) lives.
struct TensorView {
    std::string name;             // tensor name as stored
    DType dtype = DType::F32;     // element type
    std::vector<int64_t> shape;   // dimensions, outermost first
    const std::byte* data = nullptr;  // first byte (little-endian, C-contiguous); may be unaligned
    std::size_t nbytes = 0;       // = numel * dtypeSize
    int64_t numel() const;
    std::string shapeString() const;  // "[3, 64]"
};

// A validated, memory-mapped safetensors file. Cheap to copy (shares the mapping).
class SafetensorsFile {
public:
    static constexpr uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;  // as the reference library

    // Maps and validates `path`; throws headlight::Error naming the file (and tensor) at fault.
    static SafetensorsFile open(const QString& path);

    const QString& path() const;
    const std::vector<TensorView>& tensors() const;  // sorted by name
    const TensorView* find(std::string_view name) const;  // nullptr if absent
    const TensorView& at(std::string_view name) const;    // throws if absent
    const std::map<std::string, std::string>& metadata() const;  // the __metadata__ map
    uint64_t fileSize() const;

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
};

// Builds a safetensors file. Tensors are either copied in (owned) or referenced (borrowed: the caller
// keeps the bytes alive until write() returns). write() is atomic: a temp file renamed into place.
class SafetensorsWriter {
public:
    void addCopy(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                 std::size_t nbytes);
    void addBorrowed(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                     std::size_t nbytes);
    template <typename T>
    void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
        addCopy(name, dtype, std::move(shape), values.data(), values.size() * sizeof(T));
    }
    void setMetadata(const std::string& key, const std::string& value);
    bool contains(const std::string& name) const;

    // Serialises to bytes (header + data); used by write() and by tests.
    std::vector<std::byte> toBytes() const;
    // Atomically writes the file; throws headlight::Error on any I/O failure (full disk, ...).
    void write(const QString& path) const;

private:
    struct Entry {
        DType dtype;
        std::vector<int64_t> shape;
        const std::byte* data;
        std::size_t nbytes;
        std::shared_ptr<std::vector<std::byte>> owned;
    };
    std::string headerJson() const;
    std::map<std::string, Entry> entries_;  // sorted by name
    std::map<std::string, std::string> metadata_;
};

}  // namespace headlight::io
