// Corpus readers for the activation scan (METHOD.md section 2) and the held-out split (section 5).
//
// Formats (chosen by file extension unless CorpusOptions::format says otherwise):
//   .jsonl, .json  JSON Lines: one JSON object per line; the document text is the string in the field
//                  CorpusOptions::textField (default "text"). A line that is empty or only white space
//                  is not a document (counted in CorpusStats::emptyLines). A .json file holding one JSON
//                  array is rejected with a clear error (convert it to JSON Lines).
//   .txt           plain text: the WHOLE file is ONE document (line = 0), also inside a folder; an
//                  empty file is not a document. A leading UTF-8 byte-order mark is dropped.
//   folder         every .jsonl/.json/.txt file below it (recursive, hidden files skipped), read in
//                  byte-wise order of their relative paths ('/'-separated); other files are ignored.
//
// Reading is streamed: lines are read through a fixed buffer, so memory does not grow with the file
// size (only with the longest accepted line, bounded by CorpusOptions::maxDocumentBytes). Only regular
// files are read: a FIFO, socket or device given as the corpus is an error (it could block forever).
// Invalid UTF-8 is never fatal: each maximal invalid subsequence becomes U+FFFD (the Unicode
// "substitution of maximal subparts" practice, which is also what Python's bytes.decode('utf-8',
// 'replace') does) and is counted. JSON lone-surrogate escapes ("\ud800") are replaced the same way.
//
// Identity of a document: `source` (relative path of its file) + `line` (0-based line in that file;
// METHOD.md's `doc` for a single JSONL corpus), and `index`: the 0-based position of the document among
// all documents of the corpus in reading order. Skipped lines (empty, malformed, oversized) take no
// index. `index` does not depend on sharding: shard i of N yields exactly the documents whose
// (index / shardBlock) % N == i (blocks of shardBlock consecutive indices, dealt round-robin; 1: index % N),
// so merging the shards' results by index restores the single-pass order exactly.
// maxDocuments applies to `index` before sharding (the corpus is cut to its first maxDocuments
// documents, then sharded), so the shards of a prefix together cover that same prefix.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <QString>
#include <QStringList>
#include <nlohmann/json_fwd.hpp>

namespace headlight::analysis {

// ---- Records ----------------------------------------------------------------------------------------

enum class CorpusFormat {
    Auto,       // by extension: .jsonl/.json -> JsonLines, .txt -> Text; folders: per file
    JsonLines,  // every file is JSON Lines, whatever its extension
    Text,       // every file is one plain-text document, whatever its extension
};

enum class MalformedPolicy {
    Skip,  // skip the line, count it, remember the first one (default)
    Fail,  // throw headlight::Error naming file and line
};

// How to read a corpus.
struct CorpusOptions {
    std::string textField = "text";           // JSON Lines: top-level field holding the text (a string)
    CorpusFormat format = CorpusFormat::Auto;  // how files are interpreted
    MalformedPolicy malformed = MalformedPolicy::Skip;  // bad JSON / missing or non-string text field
    int64_t maxDocuments = 0;                  // keep only documents with index < maxDocuments; 0 = all
    int shardIndex = 0;                        // this reader yields the blocks of index / shardBlock % shardCount == shardIndex
    int shardCount = 1;                        // number of shards (1 = no sharding)
    int64_t shardBlock = 1;                    // consecutive indices dealt to a shard together (the scan: its groups)
    int64_t maxDocumentBytes = 16ll << 20;     // longer lines / .txt files are skipped and counted (an
                                               // error under MalformedPolicy::Fail); never held in memory
};

// One document of a corpus.
struct Document {
    int64_t index = -1;  // 0-based position among all documents of the corpus (reading order, unsharded)
    QString source;      // file it came from, relative to the corpus folder ('/'-separated); file name for a single file
    int64_t line = 0;    // 0-based line in that file (0 for a .txt document)
    std::string text;    // the text, well-formed UTF-8 (invalid bytes replaced by U+FFFD)
};

// What a reader has seen so far (cumulative across a resume: a CorpusPosition carries it).
struct CorpusStats {
    int64_t files = 0;                     // corpus files (all of them, not only those read yet)
    int64_t totalBytes = 0;                // sum of their sizes
    int64_t bytesRead = 0;                 // bytes consumed so far (for progress: bytesRead / totalBytes)
    int64_t documents = 0;                 // documents yielded by this reader (its shard only)
    int64_t documentsSeen = 0;             // documents of the corpus passed so far, all shards (= next index)
    int64_t linesRead = 0;                 // JSONL lines read (including skipped ones)
    int64_t emptyLines = 0;                // blank JSONL lines and empty .txt files (not documents)
    int64_t malformedLines = 0;            // lines skipped as bad JSON, non-object, missing/non-string field
    QString firstMalformedSource;          // file of the first malformed line ("" if none)
    int64_t firstMalformedLine = -1;       // its 0-based line (-1 if none)
    std::string firstMalformedReason;      // why it was rejected
    int64_t oversizedSkipped = 0;          // lines / .txt files over maxDocumentBytes, skipped
    int64_t invalidUtf8Replacements = 0;   // U+FFFD substitutions made (invalid UTF-8, lone surrogates)
    int64_t documentsWithInvalidUtf8 = 0;  // documents (any shard) that needed at least one
};

// Where a reader stands: enough to re-open it at the same document without reading what came before.
struct CorpusPosition {
    int fileIndex = 0;         // index into the sorted file list
    QString file;              // that file's relative path (checked on resume)
    int64_t byteOffset = 0;    // byte offset of the next line to read in that file
    int64_t line = 0;          // its 0-based line number
    int64_t nextIndex = 0;     // global index the next document will get
    CorpusStats stats;         // statistics up to here (continued after a resume)
};

nlohmann::json toJson(const CorpusPosition& position);
// Throws headlight::Error naming the field if `json` is not a CorpusPosition.
CorpusPosition corpusPositionFromJson(const nlohmann::json& json);

// ---- Reader -----------------------------------------------------------------------------------------

class CorpusReader {
public:
    // Opens a file or folder. Throws headlight::Error naming the path (missing, unreadable, no corpus
    // files in a folder, unknown extension, JSON array in a .json file, bad shard options).
    static CorpusReader open(const QString& path, const CorpusOptions& options = {});
    // Re-opens at `position` (from position() of a reader of the same corpus and options): seeks
    // straight to the byte offset. Throws headlight::Error if the position does not fit the corpus.
    static CorpusReader open(const QString& path, const CorpusOptions& options, const CorpusPosition& position);

    CorpusReader(CorpusReader&&) noexcept;
    CorpusReader& operator=(CorpusReader&&) noexcept;
    ~CorpusReader();

    // Reads the next document of this shard into `out`; false at the end (or past maxDocuments).
    bool next(Document& out);
    // Position after the last document returned by next(): open(path, options, position()) goes on
    // with the document that next() would return now.
    CorpusPosition position() const;
    CorpusStats stats() const;
    const QStringList& files() const;  // the corpus files, relative paths in reading order
    const QString& root() const;       // the path as opened

private:
    struct Impl;
    explicit CorpusReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Number of documents the reader opened with `options` would yield (reads the whole corpus).
int64_t countDocuments(const QString& path, const CorpusOptions& options = {});

// SHA-256 (lowercase hex) of the corpus, streamed. A single file: SHA-256 of its bytes (equal to
// `sha256sum FILE`). A folder: SHA-256 of the text "HEX  RELATIVE/PATH\n" for every corpus file in
// reading order (what `sha256sum` prints for those files, run from the folder), so renaming,
// adding, removing or editing a file changes it. Options other than format do not enter.
std::string corpusFingerprint(const QString& path, CorpusFormat format = CorpusFormat::Auto);

}  // namespace headlight::analysis
