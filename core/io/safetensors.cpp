#include "core/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <QFile>
#include <QFileInfo>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/io/atomic_file.h"

namespace headlight::io {

namespace {

struct DTypeInfo {
    DType dtype;
    const char* name;
    std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

[[noreturn]] void fail(const QString& path, const std::string& what) {
    throw Error("safetensors file " + path.toStdString() + ": " + what);
}

[[noreturn]] void failTensor(const QString& path, const std::string& tensor, const std::string& what) {
    throw Error("safetensors file " + path.toStdString() + ", tensor '" + tensor + "': " + what);
}

}  // namespace

std::size_t dtypeSize(DType dtype) {
    for (const auto& info : kDTypes)
        if (info.dtype == dtype) return info.size;
    return 0;
}

const char* dtypeName(DType dtype) {
    for (const auto& info : kDTypes)
        if (info.dtype == dtype) return info.name;
    return "?";
}

std::optional<DType> parseDType(std::string_view name) {
    for (const auto& info : kDTypes)
        if (name == info.name) return info.dtype;
    return std::nullopt;
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string TensorView::shapeString() const {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

struct SafetensorsFile::Impl {
    QString path;
    std::unique_ptr<QFile> file;
    const uchar* map = nullptr;
    uint64_t size = 0;
    std::vector<TensorView> tensors;
    std::map<std::string, std::string> metadata;
    ~Impl() {
        if (file && map) file->unmap(const_cast<uchar*>(map));
    }
};

namespace {

// Where a tensor's bytes are, for the layout check.
struct Span {
    uint64_t begin, end;
    std::size_t index;
};

// The header length and its JSON object, with every bound checked against the mapped file.
nlohmann::json readHeader(const QString& path, const uchar* map, uint64_t size, uint64_t* headerLen) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | map[i];
    if (n > SafetensorsFile::kMaxHeaderBytes)
        fail(path, "header length " + std::to_string(n) + " exceeds the limit of " +
                       std::to_string(SafetensorsFile::kMaxHeaderBytes) + " bytes");
    if (n > size - 8)
        fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
                       " bytes): truncated file?");
    const char* begin = reinterpret_cast<const char*>(map + 8);
    if (n == 0 || begin[0] != '{') fail(path, "header is not a JSON object");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(begin, begin + n);
    } catch (const nlohmann::json::parse_error& e) {
        fail(path, "header is not valid JSON (error at byte " + std::to_string(8 + e.byte) + ")");
    } catch (const nlohmann::json::exception&) {
        fail(path, "header is not valid JSON");
    }
    if (!header.is_object()) fail(path, "header is not a JSON object");
    *headerLen = n;
    return header;
}

// The shape of a tensor entry and its element count; throws if it overflows.
uint64_t readShape(const QString& path, const std::string& name, const nlohmann::json& shape, DType dtype,
                   TensorView& view) {
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : shape) {
        if (!dim.is_number_unsigned()) failTensor(path, name, "shape entries must be non-negative integers");
        const uint64_t d = dim.get<uint64_t>();
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
        if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d) overflow = true;
        numel *= d;
        view.shape.push_back(static_cast<int64_t>(d));
    }
    if (overflow || numel > std::numeric_limits<uint64_t>::max() / dtypeSize(dtype))
        failTensor(path, name, "shape " + view.shapeString() + " is too large");
    return numel;
}

// One tensor entry of the header, validated against the data section [data, data + dataSize).
TensorView readTensor(const QString& path, const std::string& name, const nlohmann::json& entry, const std::byte* data,
                      uint64_t dataSize, Span& span) {
    if (!entry.is_object()) failTensor(path, name, "entry is not an object");
    const auto dtypeIt = entry.find("dtype");
    const auto shapeIt = entry.find("shape");
    const auto offsetsIt = entry.find("data_offsets");
    if (dtypeIt == entry.end() || !dtypeIt->is_string()) failTensor(path, name, "missing or non-string dtype");
    if (shapeIt == entry.end() || !shapeIt->is_array()) failTensor(path, name, "missing or non-array shape");
    if (offsetsIt == entry.end() || !offsetsIt->is_array() || offsetsIt->size() != 2)
        failTensor(path, name, "data_offsets must be an array of two integers");
    const std::string dtypeString = dtypeIt->get<std::string>();
    const auto dtype = parseDType(dtypeString);
    if (!dtype) failTensor(path, name, "unknown dtype '" + dtypeString + "'");
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    const uint64_t bytes = readShape(path, name, *shapeIt, *dtype, view) * dtypeSize(*dtype);
    for (const auto& off : *offsetsIt)
        if (!off.is_number_unsigned()) failTensor(path, name, "data_offsets must be non-negative integers");
    const uint64_t begin = (*offsetsIt)[0].get<uint64_t>();
    const uint64_t end = (*offsetsIt)[1].get<uint64_t>();
    if (begin > end) failTensor(path, name, "data_offsets begin after they end");
    if (end > dataSize)
        failTensor(path, name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                   "] run past the end of the data (" + std::to_string(dataSize) + " bytes): truncated file?");
    if (end - begin != bytes)
        failTensor(path, name, "shape " + view.shapeString() + " of " + dtypeString + " needs " + std::to_string(bytes) +
                                   " bytes but data_offsets give " + std::to_string(end - begin));
    view.data = data + begin;
    view.nbytes = static_cast<std::size_t>(end - begin);
    span.begin = begin;
    span.end = end;
    return view;
}

// Data must be contiguous and non-overlapping, covering the data section exactly.
void checkLayout(const QString& path, std::vector<Span> spans, const std::vector<TensorView>& tensors, uint64_t dataSize) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t expected = 0;
    for (const Span& s : spans) {
        const std::string& name = tensors[s.index].name;
        if (s.begin < expected) failTensor(path, name, "data overlaps the previous tensor");
        if (s.begin > expected) failTensor(path, name, "gap in the data before this tensor");
        expected = s.end;
    }
    if (expected != dataSize)
        fail(path, "data section is " + std::to_string(dataSize) + " bytes but tensors cover " + std::to_string(expected));
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const QString& path) {
    auto impl = std::make_shared<Impl>();
    impl->path = path;
    impl->file = std::make_unique<QFile>(path);
    if (!impl->file->open(QIODevice::ReadOnly))
        fail(path, "cannot open: " + impl->file->errorString().toStdString());
    impl->size = static_cast<uint64_t>(impl->file->size());
    if (impl->size < 8) fail(path, "file is too short (" + std::to_string(impl->size) + " bytes) to hold a header");
    impl->map = impl->file->map(0, static_cast<qint64>(impl->size));
    if (!impl->map) fail(path, "cannot memory-map: " + impl->file->errorString().toStdString());

    uint64_t headerLen = 0;
    const nlohmann::json header = readHeader(path, impl->map, impl->size, &headerLen);
    const uint64_t dataStart = 8 + headerLen;
    const uint64_t dataSize = impl->size - dataStart;
    const std::byte* data = reinterpret_cast<const std::byte*>(impl->map + dataStart);
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it.value().is_object()) fail(path, "__metadata__ is not an object of strings");
            for (auto m = it.value().begin(); m != it.value().end(); ++m) {
                if (!m.value().is_string()) fail(path, "__metadata__ entry '" + m.key() + "' is not a string");
                impl->metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        Span span{0, 0, impl->tensors.size()};
        impl->tensors.push_back(readTensor(path, it.key(), it.value(), data, dataSize, span));
        spans.push_back(span);
    }
    checkLayout(path, std::move(spans), impl->tensors, dataSize);
    std::sort(impl->tensors.begin(), impl->tensors.end(),
              [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
    SafetensorsFile result;
    result.impl_ = std::move(impl);
    return result;
}

const QString& SafetensorsFile::path() const { return impl_->path; }
const std::vector<TensorView>& SafetensorsFile::tensors() const { return impl_->tensors; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }
uint64_t SafetensorsFile::fileSize() const { return impl_->size; }

const TensorView* SafetensorsFile::find(std::string_view name) const {
    const auto& t = impl_->tensors;
    auto it = std::lower_bound(t.begin(), t.end(), name,
                               [](const TensorView& v, std::string_view n) { return v.name < n; });
    return (it != t.end() && it->name == name) ? &*it : nullptr;
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
    if (const TensorView* v = find(name)) return *v;
    throw Error("safetensors file " + impl_->path.toStdString() + ": no tensor named '" + std::string(name) + "'");
}

// ---------------------------------------------------------------------------------------------------------
// Writer

void SafetensorsWriter::addCopy(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                                std::size_t nbytes) {
    auto owned = std::make_shared<std::vector<std::byte>>(nbytes);
    if (nbytes) std::memcpy(owned->data(), data, nbytes);
    addBorrowed(name, dtype, std::move(shape), owned->data(), nbytes);
    entries_[name].owned = std::move(owned);
}

void SafetensorsWriter::addBorrowed(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                    const void* data, std::size_t nbytes) {
    if (name.empty() || name == "__metadata__") throw Error("invalid tensor name '" + name + "'");
    int64_t numel = 1;
    for (int64_t d : shape) {
        if (d < 0) throw Error("tensor '" + name + "': negative dimension");
        numel *= d;
    }
    if (static_cast<std::size_t>(numel) * dtypeSize(dtype) != nbytes)
        throw Error("tensor '" + name + "': " + std::to_string(nbytes) + " bytes do not match its shape and dtype");
    entries_[name] = Entry{dtype, std::move(shape), static_cast<const std::byte*>(data), nbytes, nullptr};
}

void SafetensorsWriter::setMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

bool SafetensorsWriter::contains(const std::string& name) const { return entries_.count(name) != 0; }

std::string SafetensorsWriter::headerJson() const {
    // nlohmann's ordered_json keeps insertion order: __metadata__ first, then tensors sorted by name.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) {
        nlohmann::ordered_json meta = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata_) meta[k] = v;
        header["__metadata__"] = std::move(meta);
    }
    uint64_t offset = 0;
    for (const auto& [name, e] : entries_) {
        header[name] = {{"dtype", dtypeName(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.nbytes}}};
        offset += e.nbytes;
    }
    std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    while (text.size() % 8 != 0) text.push_back(' ');
    // Never write what SafetensorsFile::open refuses.
    if (text.size() > SafetensorsFile::kMaxHeaderBytes)
        throw Error("the header (tensor list and metadata) is " + std::to_string(text.size()) +
                    " bytes, over the reader's limit of " + std::to_string(SafetensorsFile::kMaxHeaderBytes) + " bytes");
    return text;
}

std::vector<std::byte> SafetensorsWriter::toBytes() const {
    const std::string header = headerJson();
    std::size_t total = 8 + header.size();
    for (const auto& [name, e] : entries_) total += e.nbytes;
    std::vector<std::byte> out(total);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::size_t pos = 8 + header.size();
    for (const auto& [name, e] : entries_) {
        if (e.nbytes) std::memcpy(out.data() + pos, e.data, e.nbytes);
        pos += e.nbytes;
    }
    return out;
}

void SafetensorsWriter::write(const QString& path) const {
    std::string header;
    try {
        header = headerJson();
    } catch (const nlohmann::json::exception&) {
        throw Error("cannot write " + path.toStdString() + ": metadata is not valid UTF-8");
    } catch (const Error& e) {
        throw Error("cannot write " + path.toStdString() + ": " + e.what());
    }
    writeFileAtomically(path, [&](QIODevice& device) {
        char lengthBytes[8];
        const uint64_t n = header.size();
        for (int i = 0; i < 8; ++i) lengthBytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
        writeAll(device, lengthBytes, 8, path);
        writeAll(device, header.data(), static_cast<qint64>(header.size()), path);
        for (const auto& [name, e] : entries_)
            writeAll(device, reinterpret_cast<const char*>(e.data), static_cast<qint64>(e.nbytes), path);
    });
}

}  // namespace headlight::io
