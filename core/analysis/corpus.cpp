#include "core/analysis/corpus.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/utf8.h"

namespace headlight::analysis {

// ---- Position (de)serialisation ---------------------------------------------------------------------

nlohmann::json toJson(const CorpusPosition& p) {
    const CorpusStats& s = p.stats;
    return nlohmann::json{
        {"file_index", p.fileIndex},
        {"file", p.file.toStdString()},
        {"byte_offset", p.byteOffset},
        {"line", p.line},
        {"next_index", p.nextIndex},
        {"stats",
         {{"files", s.files},
          {"total_bytes", s.totalBytes},
          {"bytes_read", s.bytesRead},
          {"documents", s.documents},
          {"documents_seen", s.documentsSeen},
          {"lines_read", s.linesRead},
          {"empty_lines", s.emptyLines},
          {"malformed_lines", s.malformedLines},
          {"first_malformed_source", s.firstMalformedSource.toStdString()},
          {"first_malformed_line", s.firstMalformedLine},
          {"first_malformed_reason", s.firstMalformedReason},
          {"oversized_skipped", s.oversizedSkipped},
          {"invalid_utf8_replacements", s.invalidUtf8Replacements},
          {"documents_with_invalid_utf8", s.documentsWithInvalidUtf8}}},
    };
}

CorpusPosition corpusPositionFromJson(const nlohmann::json& json) {
    auto field = [](const nlohmann::json& object, const char* key, const char* where) -> const nlohmann::json& {
        if (!object.is_object() || !object.contains(key))
            throw Error(std::string("corpus position: missing field '") + where + key + "'");
        return object.at(key);
    };
    auto integer = [&](const nlohmann::json& object, const char* key, const char* where) -> int64_t {
        const nlohmann::json& v = field(object, key, where);
        if (!v.is_number_integer())
            throw Error(std::string("corpus position: field '") + where + key + "' is not an integer");
        return v.get<int64_t>();
    };
    auto text = [&](const nlohmann::json& object, const char* key, const char* where) -> std::string {
        const nlohmann::json& v = field(object, key, where);
        if (!v.is_string()) throw Error(std::string("corpus position: field '") + where + key + "' is not a string");
        return v.get<std::string>();
    };
    CorpusPosition p;
    p.fileIndex = static_cast<int>(integer(json, "file_index", ""));
    p.file = QString::fromStdString(text(json, "file", ""));
    p.byteOffset = integer(json, "byte_offset", "");
    p.line = integer(json, "line", "");
    p.nextIndex = integer(json, "next_index", "");
    const nlohmann::json& s = field(json, "stats", "");
    const char* w = "stats.";
    p.stats.files = integer(s, "files", w);
    p.stats.totalBytes = integer(s, "total_bytes", w);
    p.stats.bytesRead = integer(s, "bytes_read", w);
    p.stats.documents = integer(s, "documents", w);
    p.stats.documentsSeen = integer(s, "documents_seen", w);
    p.stats.linesRead = integer(s, "lines_read", w);
    p.stats.emptyLines = integer(s, "empty_lines", w);
    p.stats.malformedLines = integer(s, "malformed_lines", w);
    p.stats.firstMalformedSource = QString::fromStdString(text(s, "first_malformed_source", w));
    p.stats.firstMalformedLine = integer(s, "first_malformed_line", w);
    p.stats.firstMalformedReason = text(s, "first_malformed_reason", w);
    p.stats.oversizedSkipped = integer(s, "oversized_skipped", w);
    p.stats.invalidUtf8Replacements = integer(s, "invalid_utf8_replacements", w);
    p.stats.documentsWithInvalidUtf8 = integer(s, "documents_with_invalid_utf8", w);
    if (p.fileIndex < 0 || p.byteOffset < 0 || p.line < 0 || p.nextIndex < 0)
        throw Error("corpus position: negative file_index, byte_offset, line or next_index");
    return p;
}

// ---- Files ------------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

enum class FileKind { JsonLines, Text };

struct CorpusFile {
    QString relative;  // '/'-separated path below the root (the file name for a single file)
    QString absolute;  // path to open
    FileKind kind;     // how it is read
    int64_t size;      // bytes
};

bool hasSuffix(const QString& name, const char* suffix) {
    return name.endsWith(QLatin1String(suffix), Qt::CaseInsensitive);
}

// The kind of `name` under `format`, or false if Auto does not know the extension.
bool kindOf(const QString& name, CorpusFormat format, FileKind* kind) {
    if (format == CorpusFormat::JsonLines) return *kind = FileKind::JsonLines, true;
    if (format == CorpusFormat::Text) return *kind = FileKind::Text, true;
    if (hasSuffix(name, ".jsonl") || hasSuffix(name, ".json")) return *kind = FileKind::JsonLines, true;
    if (hasSuffix(name, ".txt")) return *kind = FileKind::Text, true;
    return false;
}

std::vector<CorpusFile> listCorpusFiles(const QString& path, CorpusFormat format) {
    const QFileInfo info(path);
    if (!info.exists()) throw Error("corpus " + path.toStdString() + ": no such file or folder");
    std::vector<CorpusFile> files;
    if (info.isDir()) {
        const QDir root(path);
        QDirIterator it(path, QDir::Files | QDir::Readable | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString absolute = it.next();
            const QString relative = root.relativeFilePath(absolute);
            FileKind kind;
            if (relative.split(QLatin1Char('/')).last().startsWith(QLatin1Char('.'))) continue;
            // In a folder, Auto takes only known extensions; an explicit format still needs one of them.
            if (!kindOf(relative, CorpusFormat::Auto, &kind)) continue;
            if (!std::filesystem::is_regular_file(QFile::encodeName(absolute).toStdString())) continue;  // FIFOs, sockets
            kindOf(relative, format, &kind);
            files.push_back({relative, absolute, kind, QFileInfo(absolute).size()});
        }
        std::sort(files.begin(), files.end(), [](const CorpusFile& a, const CorpusFile& b) {
            return a.relative.toUtf8() < b.relative.toUtf8();
        });
        if (files.empty())
            throw Error("corpus " + path.toStdString() + ": folder holds no .jsonl, .json or .txt file");
    } else {
        FileKind kind;
        // A FIFO, socket or device would block the reader (and its fingerprint) forever.
        if (!std::filesystem::is_regular_file(QFile::encodeName(path).toStdString()))
            throw Error("corpus " + path.toStdString() + ": not a regular file (a FIFO, socket or device?); give a file or a folder");
        if (!kindOf(info.fileName(), format, &kind))
            throw Error("corpus " + path.toStdString() +
                        ": unknown corpus format (expected .jsonl, .json or .txt, or set the format)");
        files.push_back({info.fileName(), path, kind, info.size()});
    }
    return files;
}

// A buffered line reader over a file: memory is one buffer plus the current line.
class LineReader {
public:
    void open(const QString& path, int64_t offset) {
        file_.close();
        file_.setFileName(path);
        if (!file_.open(QIODevice::ReadOnly | QIODevice::Unbuffered))
            throw Error("corpus file " + path.toStdString() + ": cannot open: " + file_.errorString().toStdString());
        if (offset > 0 && !file_.seek(offset))
            throw Error("corpus file " + path.toStdString() + ": cannot seek to byte " + std::to_string(offset));
        buffer_.resize(kBufferBytes);
        begin_ = end_ = 0;
        offset_ = offset;
        eof_ = false;
    }
    void close() { file_.close(); }
    int64_t offset() const { return offset_; }  // file offset of the next unread byte

    // Reads one line (without '\n' and a trailing '\r') into `line`. A line longer than maxBytes is
    // consumed but not kept: `line` is left empty and *oversized set. False at the end of the file.
    bool readLine(std::string& line, std::size_t maxBytes, bool* oversized) {
        line.clear();
        *oversized = false;
        bool any = false;
        for (;;) {
            if (begin_ == end_) {
                if (eof_ || !refill()) {
                    if (!any) return false;
                    break;
                }
            }
            const char* start = buffer_.data() + begin_;
            const void* nl = std::memchr(start, '\n', end_ - begin_);
            const std::size_t take = nl ? static_cast<const char*>(nl) - start : end_ - begin_;
            any = true;
            if (!*oversized) {
                if (line.size() + take > maxBytes) {
                    *oversized = true;
                    line.clear();
                    line.shrink_to_fit();
                } else {
                    line.append(start, take);
                }
            }
            const std::size_t consumed = take + (nl ? 1 : 0);
            begin_ += consumed;
            offset_ += static_cast<int64_t>(consumed);
            if (nl) break;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
    }

private:
    bool refill() {
        const qint64 got = file_.read(buffer_.data(), static_cast<qint64>(buffer_.size()));
        if (got < 0)
            throw Error("corpus file " + file_.fileName().toStdString() + ": read error: " +
                        file_.errorString().toStdString());
        begin_ = 0;
        end_ = static_cast<std::size_t>(got);
        if (got == 0) eof_ = true;
        return got > 0;
    }

    QFile file_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0, end_ = 0;
    int64_t offset_ = 0;
    bool eof_ = false;
};

bool isBlank(const std::string& s) {
    for (const char c : s)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
    return true;
}

// Replaces JSON escapes of lone UTF-16 surrogates ("\ud800" without its pair) by "\ufffd", which
// nlohmann::json rejects but Python's json module accepts. Returns the number replaced.
std::size_t repairSurrogateEscapes(std::string& s) {
    auto hex4 = [&](std::size_t at, unsigned* value) {
        if (at + 4 > s.size()) return false;
        unsigned v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const char c = s[at + k];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= c - '0';
            else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
            else return false;
        }
        *value = v;
        return true;
    };
    std::size_t replaced = 0;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != '\\') continue;
        if (s[i + 1] != 'u') {
            ++i;  // skip the escaped character ("\\" included)
            continue;
        }
        unsigned v;
        if (!hex4(i + 2, &v)) continue;
        if (v >= 0xD800 && v <= 0xDBFF) {
            unsigned low;
            if (i + 7 < s.size() && s[i + 6] == '\\' && s[i + 7] == 'u' && hex4(i + 8, &low) && low >= 0xDC00 &&
                low <= 0xDFFF) {
                i += 11;
                continue;
            }
        } else if (!(v >= 0xDC00 && v <= 0xDFFF)) {
            i += 5;
            continue;
        }
        s.replace(i + 2, 4, "fffd");
        ++replaced;
        i += 5;
    }
    return replaced;
}

}  // namespace

// ---- Reader -----------------------------------------------------------------------------------------

struct CorpusReader::Impl {
    QString root;
    CorpusOptions options;
    std::vector<CorpusFile> files;
    QStringList fileNames;
    int fileIndex = 0;       // file being read
    bool fileOpen = false;   // `reader` is open on files[fileIndex]
    int64_t line = 0;        // 0-based number of the next line of the current file
    int64_t nextIndex = 0;   // index of the next document
    int64_t bytesBefore = 0; // total size of files before fileIndex
    CorpusStats stats;
    LineReader reader;
    std::string raw, repaired;  // scratch buffers, reused

    std::string where(int64_t lineNumber) const {
        return root.toStdString() + ": " + files[fileIndex].relative.toStdString() + " line " +
               std::to_string(lineNumber + 1);
    }

    void malformed(int64_t lineNumber, const std::string& reason) {
        if (options.malformed == MalformedPolicy::Fail)
            throw Error("corpus " + where(lineNumber) + ": " + reason);
        if (stats.malformedLines == 0) {
            stats.firstMalformedSource = files[fileIndex].relative;
            stats.firstMalformedLine = lineNumber;
            stats.firstMalformedReason = reason;
        }
        ++stats.malformedLines;
    }

    // A line (or .txt file) over maxDocumentBytes: never kept in memory; an error under MalformedPolicy::Fail.
    void oversized(int64_t lineNumber, std::size_t maxBytes) {
        if (options.malformed == MalformedPolicy::Fail)
            throw Error("corpus " + where(lineNumber) + ": longer than the limit of " + std::to_string(maxBytes) +
                        " bytes per document (CorpusOptions::maxDocumentBytes)");
        ++stats.oversizedSkipped;
    }

    // Repairs `bytes` into `out` if needed; returns the number of replacements.
    std::size_t repairInto(const std::string& bytes, std::string& out) {
        out.clear();
        if (isValidUtf8(bytes)) return 0;
        return repairUtf8(bytes, out);
    }

    void advanceFile() {
        reader.close();
        fileOpen = false;
        bytesBefore += files[fileIndex].size;
        ++fileIndex;
        line = 0;
        stats.bytesRead = bytesBefore;
    }

    void openCurrent(int64_t offset) {
        reader.open(files[fileIndex].absolute, offset);
        fileOpen = true;
        if (offset == 0 && hasSuffix(files[fileIndex].relative, ".json")) checkNotJsonArray();
    }

    void checkNotJsonArray() {
        QFile f(files[fileIndex].absolute);
        if (!f.open(QIODevice::ReadOnly)) return;
        const QByteArray head = f.read(4096);
        int i = head.startsWith("\xEF\xBB\xBF") ? 3 : 0;
        while (i < head.size() && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) ++i;
        if (i < head.size() && head[i] == '[')
            throw Error("corpus file " + files[fileIndex].absolute.toStdString() +
                        ": holds a JSON array; expected JSON Lines (one object per line)");
    }

    // Produces the next document of the whole corpus (any shard) into `out`; false at the end.
    bool nextAny(Document& out, bool wantText) {
        const std::size_t maxBytes = static_cast<std::size_t>(std::max<int64_t>(options.maxDocumentBytes, 0));
        while (fileIndex < static_cast<int>(files.size())) {
            const CorpusFile& file = files[fileIndex];
            if (file.kind == FileKind::Text) {
                if (line > 0) {  // already read
                    advanceFile();
                    continue;
                }
                const bool ok = readTextFile(file, maxBytes, out, wantText);
                line = 1;
                stats.bytesRead = bytesBefore + file.size;
                if (ok) return true;
                continue;
            }
            if (!fileOpen) openCurrent(0);
            bool oversized = false;
            if (!reader.readLine(raw, maxBytes, &oversized)) {
                advanceFile();
                continue;
            }
            const int64_t lineNumber = line++;
            ++stats.linesRead;
            stats.bytesRead = bytesBefore + reader.offset();
            if (lineNumber == 0 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
            if (oversized) {
                this->oversized(lineNumber, maxBytes);
                continue;
            }
            if (isBlank(raw)) {
                ++stats.emptyLines;
                continue;
            }
            std::size_t replacements = repairInto(raw, repaired);
            std::string& bytes = replacements ? repaired : raw;
            nlohmann::json value = nlohmann::json::parse(bytes, nullptr, false);
            if (value.is_discarded() && bytes.find("\\u") != std::string::npos) {
                const std::size_t fixed = repairSurrogateEscapes(bytes);
                if (fixed) {
                    value = nlohmann::json::parse(bytes, nullptr, false);
                    if (!value.is_discarded()) replacements += fixed;
                }
            }
            if (value.is_discarded()) {
                std::string reason = "invalid JSON";
                if (options.malformed == MalformedPolicy::Fail || stats.malformedLines == 0) {
                    try {
                        const nlohmann::json ignored = nlohmann::json::parse(bytes);
                        (void)ignored;
                    } catch (const std::exception& e) {
                        reason = std::string("invalid JSON: ") + e.what();
                    }
                }
                malformed(lineNumber, reason);
                continue;
            }
            if (!value.is_object()) {
                malformed(lineNumber, "not a JSON object");
                continue;
            }
            const auto field = value.find(options.textField);
            if (field == value.end()) {
                malformed(lineNumber, "no field '" + options.textField + "'");
                continue;
            }
            if (!field->is_string()) {
                malformed(lineNumber, "field '" + options.textField + "' is not a string");
                continue;
            }
            if (replacements) {
                stats.invalidUtf8Replacements += static_cast<int64_t>(replacements);
                ++stats.documentsWithInvalidUtf8;
            }
            out.source = file.relative;
            out.line = lineNumber;
            if (wantText) out.text = std::move(field->get_ref<std::string&>());
            return true;
        }
        return false;
    }

    bool readTextFile(const CorpusFile& file, std::size_t maxBytes, Document& out, bool wantText) {
        if (file.size > static_cast<int64_t>(maxBytes)) {
            oversized(0, maxBytes);
            return false;
        }
        QFile f(file.absolute);
        if (!f.open(QIODevice::ReadOnly))
            throw Error("corpus file " + file.absolute.toStdString() + ": cannot open: " + f.errorString().toStdString());
        raw.resize(static_cast<std::size_t>(file.size));
        const qint64 got = file.size ? f.read(raw.data(), file.size) : 0;
        if (got != file.size)
            throw Error("corpus file " + file.absolute.toStdString() + ": read error: " + f.errorString().toStdString());
        if (raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
        if (raw.empty()) {
            ++stats.emptyLines;
            return false;
        }
        const std::size_t replacements = repairInto(raw, repaired);
        if (replacements) {
            stats.invalidUtf8Replacements += static_cast<int64_t>(replacements);
            ++stats.documentsWithInvalidUtf8;
        }
        out.source = file.relative;
        out.line = 0;
        if (wantText) out.text = replacements ? std::move(repaired) : std::move(raw);
        return true;
    }
};

CorpusReader::CorpusReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CorpusReader::CorpusReader(CorpusReader&&) noexcept = default;
CorpusReader& CorpusReader::operator=(CorpusReader&&) noexcept = default;
CorpusReader::~CorpusReader() = default;

CorpusReader CorpusReader::open(const QString& path, const CorpusOptions& options) {
    return open(path, options, CorpusPosition{});
}

CorpusReader CorpusReader::open(const QString& path, const CorpusOptions& options, const CorpusPosition& position) {
    if (options.shardCount < 1)
        throw Error("corpus option shard count: must be at least 1, got " + std::to_string(options.shardCount));
    if (options.shardIndex < 0 || options.shardIndex >= options.shardCount)
        throw Error("corpus option shard index: must be in [0, " + std::to_string(options.shardCount) + "), got " +
                    std::to_string(options.shardIndex));
    if (options.shardBlock < 1)
        throw Error("corpus option shard block: must be at least 1, got " + std::to_string(options.shardBlock));
    if (options.maxDocuments < 0)
        throw Error("corpus option max documents: must be >= 0 (0 = all), got " + std::to_string(options.maxDocuments));
    if (options.textField.empty()) throw Error("corpus option text field: must not be empty");

    auto impl = std::make_unique<Impl>();
    impl->root = path;
    impl->options = options;
    impl->files = listCorpusFiles(path, options.format);
    for (const CorpusFile& f : impl->files) {
        impl->fileNames << f.relative;
        impl->stats.totalBytes += f.size;
    }
    impl->stats.files = static_cast<int64_t>(impl->files.size());

    const bool resume = position.fileIndex != 0 || position.byteOffset != 0 || position.line != 0 ||
                        position.nextIndex != 0;
    if (resume) {
        const int count = static_cast<int>(impl->files.size());
        const std::string at = "corpus " + path.toStdString() + ": cannot resume: ";
        if (position.fileIndex < 0 || position.byteOffset < 0 || position.line < 0 || position.nextIndex < 0)
            throw Error(at + "the position has a negative file index, byte offset, line or document index");
        if (position.fileIndex > count || (position.fileIndex < count && impl->files[position.fileIndex].relative != position.file) ||
            (position.fileIndex == count && !position.file.isEmpty()))
            throw Error(at + "file '" + position.file.toStdString() + "' is not file " +
                        std::to_string(position.fileIndex) + " of this corpus");
        if (position.fileIndex < count && position.byteOffset > impl->files[position.fileIndex].size)
            throw Error(at + "byte offset " + std::to_string(position.byteOffset) + " is past the end of " +
                        position.file.toStdString());
        const int64_t totalBytes = impl->stats.totalBytes, files = impl->stats.files;
        impl->stats = position.stats;
        impl->stats.totalBytes = totalBytes;
        impl->stats.files = files;
        impl->fileIndex = position.fileIndex;
        impl->line = position.line;
        impl->nextIndex = position.nextIndex;
        for (int i = 0; i < position.fileIndex; ++i) impl->bytesBefore += impl->files[i].size;
        if (position.fileIndex < count && impl->files[position.fileIndex].kind == FileKind::JsonLines &&
            (position.byteOffset > 0 || position.line > 0))
            impl->openCurrent(position.byteOffset);
    }
    return CorpusReader(std::move(impl));
}

bool CorpusReader::next(Document& out) {
    Impl& d = *impl_;
    const int64_t shards = d.options.shardCount, shard = d.options.shardIndex;
    for (;;) {
        if (d.options.maxDocuments > 0 && d.nextIndex >= d.options.maxDocuments) return false;
        const bool mine = (d.nextIndex / d.options.shardBlock) % shards == shard;
        if (!d.nextAny(out, mine)) return false;
        const int64_t index = d.nextIndex++;
        d.stats.documentsSeen = d.nextIndex;
        if (!mine) continue;
        out.index = index;
        ++d.stats.documents;
        return true;
    }
}

CorpusPosition CorpusReader::position() const {
    const Impl& d = *impl_;
    CorpusPosition p;
    p.fileIndex = d.fileIndex;
    p.file = d.fileIndex < static_cast<int>(d.files.size()) ? d.files[d.fileIndex].relative : QString();
    p.line = d.line;
    if (d.fileIndex < static_cast<int>(d.files.size()) && d.files[d.fileIndex].kind == FileKind::Text)
        p.byteOffset = d.line > 0 ? d.files[d.fileIndex].size : 0;
    else
        p.byteOffset = d.fileOpen ? d.reader.offset() : 0;
    p.nextIndex = d.nextIndex;
    p.stats = d.stats;
    return p;
}

CorpusStats CorpusReader::stats() const { return impl_->stats; }
const QStringList& CorpusReader::files() const { return impl_->fileNames; }
const QString& CorpusReader::root() const { return impl_->root; }

int64_t countDocuments(const QString& path, const CorpusOptions& options) {
    CorpusReader reader = CorpusReader::open(path, options);
    Document doc;
    int64_t count = 0;
    while (reader.next(doc)) ++count;
    return count;
}

namespace {

QByteArray sha256OfFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error("corpus file " + path.toStdString() + ": cannot open: " + f.errorString().toStdString());
    QCryptographicHash hash(QCryptographicHash::Sha256);
    std::vector<char> buffer(kBufferBytes);
    for (;;) {
        const qint64 got = f.read(buffer.data(), static_cast<qint64>(buffer.size()));
        if (got < 0) throw Error("corpus file " + path.toStdString() + ": read error: " + f.errorString().toStdString());
        if (got == 0) break;
        hash.addData(QByteArrayView(buffer.data(), got));
    }
    return hash.result().toHex();
}

}  // namespace

std::string corpusFingerprint(const QString& path, CorpusFormat format) {
    const std::vector<CorpusFile> files = listCorpusFiles(path, format);
    if (!QFileInfo(path).isDir()) return sha256OfFile(files.front().absolute).toStdString();
    QCryptographicHash listing(QCryptographicHash::Sha256);
    for (const CorpusFile& f : files) {
        listing.addData(sha256OfFile(f.absolute));
        listing.addData(QByteArrayView("  "));
        listing.addData(f.relative.toUtf8());
        listing.addData(QByteArrayView("\n"));
    }
    return listing.result().toHex().toStdString();
}

}  // namespace headlight::analysis
