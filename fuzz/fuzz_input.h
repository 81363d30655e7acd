// Shared by the fuzz targets: the readers under test take file paths, so each input goes to one
// reused temporary file.
#pragma once

#include <cstdint>
#include <cstdlib>

#include <QFile>
#include <QTemporaryFile>

inline QString writeFuzzInput(const uint8_t* data, size_t size) {
    static QTemporaryFile* file = [] {
        auto* f = new QTemporaryFile;
        if (!f->open()) std::abort();
        return f;
    }();
    QFile out(file->fileName());
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate)) std::abort();
    out.write(reinterpret_cast<const char*>(data), static_cast<qint64>(size));
    out.close();
    return file->fileName();
}
