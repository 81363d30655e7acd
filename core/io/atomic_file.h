// Atomic file writes: the content goes to a temporary file beside the target, which is renamed over
// the target only when everything was written and flushed. A failure leaves the old file untouched.
#pragma once

#include <functional>
#include <string>

#include <QByteArray>
#include <QString>

class QIODevice;

namespace headlight::io {

// Calls `writer` with an open device; commits on success. Throws headlight::Error naming the path
// and the reason (for example "No space left on device") if anything fails.
void writeFileAtomically(const QString& path, const std::function<void(QIODevice&)>& writer);
void writeFileAtomically(const QString& path, const QByteArray& content);

// Reads a whole file; throws headlight::Error naming the file if it cannot be read.
QByteArray readFile(const QString& path);

// Writes `bytes` to `device`, throwing headlight::Error with the device's error string on failure.
void writeAll(QIODevice& device, const char* bytes, qint64 size, const QString& path);

}  // namespace headlight::io
