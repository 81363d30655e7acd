// headlight-cli tokenize --model DIR|HUB_ID < in.jsonl > out.jsonl
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/base/error.h"
#include "core/model/checkpoint.h"
#include "core/model/tokenizer.h"

namespace headlight::cli {

int runTokenize(const QStringList& args) {
    QCommandLineParser parser;
    const QCommandLineOption modelOpt(QStringLiteral("model"),
                                      QStringLiteral("Checkpoint or tokenizer folder, or hub id."),
                                      QStringLiteral("DIR|HUB_ID"));
    const QCommandLineOption fieldOpt(QStringLiteral("field"), QStringLiteral("JSON field holding the text."),
                                      QStringLiteral("NAME"), QStringLiteral("text"));
    parser.addOption(modelOpt);
    parser.addOption(fieldOpt);
    parseOrThrow(parser, args,
                 QStringLiteral("Read JSON Lines {\"text\": ...} on stdin; write one "
                                "{\"ids\": [...], \"tokens\": [...], \"spans\": [[start, end], ...]} per line "
                                "on stdout (no BOS; spans in Unicode code points of the input)."));
    if (!parser.isSet(modelOpt)) throw Error("tokenize: --model is required");
    const std::string field = parser.value(fieldOpt).toStdString();
    const Tokenizer tokenizer = Tokenizer::fromFolder(resolveModelDir(parser.value(modelOpt)));

    std::ios::sync_with_stdio(false);
    std::string line, out;
    long lineNo = 0;
    while (std::getline(std::cin, line)) {
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        nlohmann::json record;
        try {
            record = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            const bool badUtf8 = std::string(e.what()).find("UTF-8") != std::string::npos;
            throw Error("stdin line " + std::to_string(lineNo) + ": " +
                        (badUtf8 ? "invalid UTF-8" : std::string("not valid JSON (") + e.what() + ")"));
        }
        if (!record.is_object() || !record.contains(field) || !record[field].is_string())
            throw Error("stdin line " + std::to_string(lineNo) + ": expected an object with a string field '" + field + "'");
        const std::string text = record[field].get<std::string>();
        const Encoding enc = tokenizer.encodeUtf8(text);
        nlohmann::json outRecord;
        outRecord["ids"] = enc.ids;
        nlohmann::json tokens = nlohmann::json::array();
        nlohmann::json spans = nlohmann::json::array();
        for (std::size_t i = 0; i < enc.ids.size(); ++i) {
            tokens.push_back(tokenizer.tokenString(enc.ids[i]).toStdString());
            spans.push_back({enc.spans[i].start, enc.spans[i].end});
        }
        outRecord["tokens"] = std::move(tokens);
        outRecord["spans"] = std::move(spans);
        out = outRecord.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out.push_back('\n');
        std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    }
    std::cout.flush();
    if (!std::cout) throw Error("cannot write to stdout");
    return 0;
}

}  // namespace headlight::cli
