// Tables to CSV (RFC 4180: fields with comma, quote, CR or LF are quoted, quotes doubled, CRLF line
// ends, UTF-8, no byte-order mark) and back. Plain functions.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

class QAbstractItemModel;

namespace headlight::ui {

QString csvField(const QString& field);
QByteArray toCsv(const QList<QStringList>& rows);
// Header + every row of `model` (display text, or `role` if given), in the model's current order.
QByteArray modelToCsv(const QAbstractItemModel& model, int role = Qt::DisplayRole);
// Parses RFC 4180 text (CRLF or LF line ends); throws headlight::Error on an unterminated quote.
QList<QStringList> parseCsv(const QByteArray& csv);
void exportModelCsv(const QAbstractItemModel& model, const QString& path);

}  // namespace headlight::ui
