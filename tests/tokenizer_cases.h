// Shared by the tokenizer tests: the reference cases are JSON Lines with UTF-8 strings.
#pragma once

#include <vector>

#include <QByteArray>
#include <QFile>
#include <QString>
#include <QStringDecoder>
#include <nlohmann/json.hpp>

namespace headlight::test {

// Every non-empty line of a JSON Lines file, parsed (empty if the file cannot be read).
inline std::vector<nlohmann::json> readJsonLines(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return {};
    std::vector<nlohmann::json> rows;
    for (const QByteArray& line : file.readAll().split('\n'))
        if (!line.trimmed().isEmpty()) rows.push_back(nlohmann::json::parse(line.toStdString()));
    return rows;
}

// A JSON string as QString. QString::fromStdString would drop a leading U+FEFF (case ws-041): keep
// it, it is text.
inline QString qs(const nlohmann::json& j) {
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless | QStringDecoder::Flag::ConvertInitialBom);
    return utf8(QByteArray::fromStdString(j.get<std::string>()));
}

}  // namespace headlight::test
