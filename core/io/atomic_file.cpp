#include "core/io/atomic_file.h"

#include <filesystem>

#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include "core/base/error.h"

namespace headlight::io {

void writeAll(QIODevice& device, const char* bytes, qint64 size, const QString& path) {
    qint64 done = 0;
    while (done < size) {
        const qint64 n = device.write(bytes + done, size - done);
        if (n <= 0)
            throw Error("cannot write " + path.toStdString() + ": " + device.errorString().toStdString());
        done += n;
    }
}

void writeFileAtomically(const QString& path, const std::function<void(QIODevice&)>& writer) {
    QSaveFile file(path);
    file.setDirectWriteFallback(false);
    if (!file.open(QIODevice::WriteOnly))
        throw Error("cannot open " + path.toStdString() + " for writing: " + file.errorString().toStdString());
    try {
        writer(file);
    } catch (...) {
        file.cancelWriting();
        throw;
    }
    if (file.error() != QFileDevice::NoError) {
        const std::string reason = file.errorString().toStdString();
        file.cancelWriting();
        throw Error("cannot write " + path.toStdString() + ": " + reason);
    }
    if (!file.commit())
        throw Error("cannot write " + path.toStdString() + ": " + file.errorString().toStdString());
}

void writeFileAtomically(const QString& path, const QByteArray& content) {
    writeFileAtomically(path, [&](QIODevice& device) { writeAll(device, content.constData(), content.size(), path); });
}

QByteArray readFile(const QString& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(QFile::encodeName(path).toStdString(), ec);
    if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
        throw Error("cannot read " + path.toStdString() + ": not a regular file (a folder, FIFO, socket or device?)");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error("cannot read " + path.toStdString() + ": " + file.errorString().toStdString());
    QByteArray data = file.readAll();
    if (file.error() != QFileDevice::NoError)
        throw Error("cannot read " + path.toStdString() + ": " + file.errorString().toStdString());
    return data;
}

}  // namespace headlight::io
