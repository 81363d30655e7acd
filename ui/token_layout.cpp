#include "ui/token_layout.h"

#include <algorithm>
#include <cmath>

#include <QObject>

#include <QFontMetricsF>
#include <QPainter>

#include "core/analysis/activation_histogram.h"
#include "core/study/study.h"
#include "ui/color_scale.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {
constexpr qreal kPadX = 2.5, kPadY = 1.0, kWordGap = 4, kLineGap = 3, kLineSpacing = 1.5;
}

namespace {
constexpr float kDeadActivation = 1e-3f;

float largestActivation(const NeuronResult& neuron) {
    float range = 0.f;
    for (const NeuronContext& c : neuron.contexts) {
        for (float v : c.tokenActivations)
            if (!std::isnan(v)) range = std::max(range, std::abs(v));
        if (!std::isnan(c.activation)) range = std::max(range, std::abs(c.activation));
    }
    return range;
}
}  // namespace

bool isDeadNeuron(const NeuronResult& neuron) { return analysis::isNearDead(analysis::topActivation(neuron)); }

float activationRange(const NeuronResult& neuron) {
    if (isDeadNeuron(neuron)) return 1.f;
    return std::max(largestActivation(neuron), kDeadActivation);
}

void mergeSplitCharacters(std::vector<TokenPiece>& pieces, const std::function<QString(const std::vector<int>&)>& decode) {
    constexpr QChar kReplacement(0xFFFD);
    std::vector<TokenPiece> out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        TokenPiece p = pieces[i];
        if (p.text.contains(kReplacement) && (p.kind == TokenPiece::Prompt || p.kind == TokenPiece::Before)) {
            std::vector<int> ids = {p.tokenId};
            for (std::size_t j = i + 1; j < pieces.size() && j < i + 4 && pieces[j].text.contains(kReplacement) &&
                                        pieces[j].kind == p.kind;
                 ++j) {
                ids.push_back(pieces[j].tokenId);
                const QString text = decode(ids);
                if (text.isEmpty() || text.contains(kReplacement)) continue;
                p.text = text;
                for (std::size_t k = i + 1; k <= j; ++k) {
                    p.mergedIds.push_back(pieces[k].tokenId);
                    p.mergedValues.push_back(pieces[k].value);
                    if (std::isnan(p.value) || pieces[k].value > p.value) p.value = pieces[k].value;
                }
                i = j;
                break;
            }
        }
        out.push_back(std::move(p));
    }
    pieces = std::move(out);
}

HighlightedContext makeHighlightedContext(const NeuronResult& neuron, int contextIndex, const StudyDocument& document,
                                          float range, int maxBefore) {
    const NeuronContext& c = neuron.contexts.at(contextIndex);
    HighlightedContext h;
    h.range = range;
    h.kept = c.kept;
    int rank = 0;
    for (int k = 0; k <= contextIndex; ++k) rank += neuron.contexts[k].kept ? 1 : 0;
    const QString source = QString::fromStdString(c.docSource);
    h.header = (c.kept ? QObject::tr("#%1").arg(rank) : QObject::tr("dropped")) +
               QObject::tr("  ·  max %1 (prompt alone %2)  ·  doc %3%4")
                   .arg(c.activation, 0, 'f', 3)
                   .arg(c.truncatedActivation, 0, 'f', 3)
                   .arg(c.doc)
                   .arg(source.isEmpty() ? QString() : QStringLiteral(" (%1:%2)").arg(source).arg(c.docLine + 1));
    const int promptBegin = std::clamp(c.start - 1, 0, static_cast<int>(c.tokens.size()));  // index into tokens
    const int firstShown = std::max(0, promptBegin - maxBefore);
    if (firstShown > 0) {
        TokenPiece e;
        e.kind = TokenPiece::Elided;
        e.value = std::nanf("");
        e.text = QObject::tr("… %1 earlier tokens").arg(firstShown);
        h.pieces.push_back(e);
    }
    for (int j = firstShown; j < static_cast<int>(c.tokens.size()); ++j) {
        TokenPiece p;
        p.tokenId = c.tokens[j];
        p.text = document.vocabText(p.tokenId);
        p.value = j < static_cast<int>(c.tokenActivations.size()) ? c.tokenActivations[j] : std::nanf("");
        p.kind = j < promptBegin ? TokenPiece::Before : TokenPiece::Prompt;
        h.pieces.push_back(p);
    }
    mergeSplitCharacters(h.pieces, [&document](const std::vector<int>& ids) { return document.decodeTokens(ids); });
    TokenPiece predicted;
    predicted.kind = TokenPiece::Predicted;
    predicted.tokenId = neuron.neuron.tokenId;
    predicted.text = QString::fromStdString(neuron.neuron.token);
    predicted.value = std::nanf("");
    h.pieces.push_back(predicted);
    return h;
}

QString signedNumber(double value, char format, int precision, bool plus) {
    QString t = QString::number(value, format, precision);
    if (t.toDouble() == 0) return t.remove(QLatin1Char('-'));
    if (plus && value > 0) t.prepend(QLatin1Char('+'));
    return t.replace(QLatin1Char('-'), QChar(0x2212));
}

QString visibleText(const QString& text) {
    QString out;
    out.reserve(text.size());
    for (QChar ch : text) {
        if (ch == QLatin1Char('\n')) out += QChar(0x21B5);
        else if (ch == QLatin1Char('\r')) out += QChar(0x240D);
        else if (ch == QLatin1Char('\t')) out += QChar(0x21E5);
        else if (ch.category() == QChar::Other_Control) out += QChar(0xFFFD);
        else out += ch;
    }
    return out;
}

QString pieceToolTip(const TokenPiece& p) {
    QString kind;
    switch (p.kind) {
    case TokenPiece::Before: kind = QObject::tr("before the kept prompt"); break;
    case TokenPiece::Prompt: kind = QObject::tr("prompt"); break;
    case TokenPiece::Predicted: kind = QObject::tr("the neuron's token (predicted next)"); break;
    case TokenPiece::Elided: return p.text.toHtmlEscaped();
    }
    QString s = QStringLiteral("<p style='white-space:pre'><b>%1</b><br>").arg(QStringLiteral("\"") + visibleText(p.text).toHtmlEscaped() + QStringLiteral("\""));
    s += QObject::tr("id %1").arg(p.tokenId);
    for (int id : p.mergedIds) s += QStringLiteral(" + %1").arg(id);
    if (!p.mergedIds.empty()) s += QObject::tr(" (byte tokens of one character)");
    if (!std::isnan(p.value)) s += QObject::tr(" · activation %1").arg(p.value, 0, 'f', 4);
    s += QStringLiteral("<br><i>%1</i></p>").arg(kind.toHtmlEscaped());
    return s;
}

QColor pieceColor(const TokenPiece& p, float range) {
    if (p.kind == TokenPiece::Predicted || p.kind == TokenPiece::Elided) return QColor(Qt::transparent);
    if (std::isnan(p.value)) return divergingColor(0.0);
    return divergingColor(normalizedValue(p.value, range));
}

namespace {

// The drawable text of one line of a token: tabs as four spaces, other controls made visible.
QString lineText(const QString& text) {
    QString out;
    for (QChar ch : text) {
        if (ch == QLatin1Char('\t')) out += QStringLiteral("    ");
        else if (ch == QLatin1Char('\r')) continue;
        else out += visibleText(QString(ch));
    }
    return out;
}

bool startsWord(const TokenPiece& p, const TokenPiece* previous) {
    if (!previous || p.kind != previous->kind) return true;
    if (!p.text.isEmpty() && p.text.front().isSpace()) return true;
    return !previous->text.isEmpty() && previous->text.back().isSpace();
}

// Width of the word that starts at piece `i`: it and the pieces that continue it, up to a newline.
qreal wordWidth(const std::vector<TokenPiece>& pieces, int i, const QFontMetricsF& fm) {
    qreal word = 0;
    for (int j = i; j < static_cast<int>(pieces.size()); ++j) {
        const bool text = pieces[j].kind == TokenPiece::Prompt || pieces[j].kind == TokenPiece::Before;
        if (j > i && (!text || startsWord(pieces[j], &pieces[j - 1]))) break;
        const qsizetype nl = pieces[j].text.indexOf(QLatin1Char('\n'));
        word += fm.horizontalAdvance(lineText(nl < 0 ? pieces[j].text : pieces[j].text.left(nl)));
        if (nl >= 0) break;
    }
    return word;
}

QFont headerFontOf(const QFont& font) {
    QFont f = font;
    if (font.pointSizeF() > 0) f.setPointSizeF(font.pointSizeF() * 0.85);
    return f;
}

}  // namespace

ContextLayout layoutContext(const HighlightedContext& context, const QFont& font, qreal width) {
    ContextLayout layout;
    const QFontMetricsF hm(headerFontOf(font)), fm(font);
    width = std::max<qreal>(width, 40);
    layout.headerRect = QRectF(0, 0, width, hm.height());
    const qreal lineHeight = fm.height() + 2 * kPadY;
    qreal x = 0, y = layout.headerRect.bottom() + kLineGap;
    auto newLine = [&] {
        x = 0;
        y += lineHeight + kLineSpacing;
    };
    const auto& pieces = context.pieces;
    for (int i = 0; i < static_cast<int>(pieces.size()); ++i) {
        const TokenPiece& p = pieces[i];
        if (p.kind == TokenPiece::Elided || p.kind == TokenPiece::Predicted) {
            QFont f = font;
            f.setItalic(p.kind == TokenPiece::Elided);
            f.setBold(p.kind == TokenPiece::Predicted);
            const QString text = p.kind == TokenPiece::Predicted ? QStringLiteral("→ ") + lineText(p.text) : lineText(p.text);
            const qreal w = std::min(QFontMetricsF(f).horizontalAdvance(text) + 2 * kPadX, width);
            if (x > 0) x += kWordGap;
            if (x > 0 && x + w > width) newLine();
            layout.boxes.push_back({QRectF(x, y, w, lineHeight), i, text, true});
            x += w + kWordGap;
            continue;
        }
        if (startsWord(p, i > 0 ? &pieces[i - 1] : nullptr) && x > 0 && x + std::min(wordWidth(pieces, i, fm), width) > width)
            newLine();   // the whole word moves to the next line
        const QStringList lines = p.text.split(QLatin1Char('\n'));
        bool first = true;
        for (int k = 0; k < lines.size(); ++k) {
            const QString text = lineText(lines[k]);
            const bool last = k + 1 == lines.size();
            if (!text.isEmpty() || (lines.size() == 1)) {
                qreal w = std::max<qreal>(fm.horizontalAdvance(text), text.isEmpty() ? fm.averageCharWidth() : 0);
                if (x > 0 && x + w > width) newLine();
                w = std::min(w, width - x);
                layout.boxes.push_back({QRectF(x, y, w, lineHeight), i, text, first});
                first = false;
                x += w;
            }
            if (!last) {   // the newline: a small mark in the token's colour, then a new line
                const qreal w = fm.horizontalAdvance(QChar(0x21B5));
                layout.boxes.push_back({QRectF(x, y, w, lineHeight), i, QString(QChar(0x21B5)), first});
                first = false;
                newLine();
            }
        }
    }
    layout.height = y + lineHeight + kLineGap;
    return layout;
}

int pieceAt(const ContextLayout& layout, const QPointF& point) {
    for (const TokenBox& b : layout.boxes)
        if (b.rect.contains(point)) return b.piece;
    return -1;
}

void paintContext(QPainter& painter, const HighlightedContext& context, const ContextLayout& layout, const QPointF& origin,
                  const QFont& font, const QColor& text, const QColor& dim, const QColor& base, const ContextPaintOptions& options) {
    const bool darkBase = base.lightness() < 128;
    painter.save();
    painter.translate(origin);
    const qreal baseOpacity = context.kept ? 1.0 : 0.45;
    painter.setOpacity(baseOpacity);
    painter.setFont(headerFontOf(font));
    painter.setPen(dim);
    painter.drawText(layout.headerRect, Qt::AlignLeft | Qt::AlignVCenter | Qt::TextSingleLine,
                     QFontMetricsF(headerFontOf(font)).elidedText(context.header, Qt::ElideRight, layout.headerRect.width()));
    const QFontMetricsF fm(font);
    bool promptStarted = false;
    for (const TokenBox& box : layout.boxes) {
        const TokenPiece& p = context.pieces[box.piece];
        painter.setOpacity(p.kind == TokenPiece::Before ? baseOpacity * 0.4 : baseOpacity);
        const QPointF baseline(box.rect.left(), box.rect.top() + kPadY + fm.ascent());
        if (p.kind == TokenPiece::Elided || p.kind == TokenPiece::Predicted) {
            QFont f = font;
            f.setItalic(p.kind == TokenPiece::Elided);
            f.setBold(p.kind == TokenPiece::Predicted);
            painter.setFont(f);
            if (p.kind == TokenPiece::Predicted) {
                painter.setPen(QPen(text, 1, Qt::DashLine));
                painter.setBrush(Qt::NoBrush);
                painter.drawRoundedRect(box.rect.adjusted(0.5, 0.5, -0.5, -0.5), 2, 2);
            }
            painter.setPen(p.kind == TokenPiece::Elided ? dim : text);
            painter.drawText(baseline + QPointF(kPadX, 0), box.text);
            painter.setFont(font);
            continue;
        }
        QColor bg = pieceColor(p, context.range);
        if (darkBase) {
            const double w = std::isnan(p.value) ? 0.0 : std::min(1.0, std::abs(normalizedValue(p.value, context.range)));
            bg = QColor::fromRgbF(base.redF() + (bg.redF() - base.redF()) * w, base.greenF() + (bg.greenF() - base.greenF()) * w,
                                  base.blueF() + (bg.blueF() - base.blueF()) * w);
        }
        painter.setPen(Qt::NoPen);
        painter.setBrush(bg);
        painter.drawRect(box.rect);
        if (options.boundaries && box.first && box.rect.left() > 0) {
            painter.setPen(QPen(dim, 0.6));
            painter.drawLine(QPointF(box.rect.left(), box.rect.top() + 1), QPointF(box.rect.left(), box.rect.bottom() - 1));
        }
        if (box.piece == options.hoveredPiece) {
            painter.setPen(QPen(text, 1));
            painter.setBrush(Qt::NoBrush);
            painter.drawRect(box.rect.adjusted(0.5, 0.5, -0.5, -0.5));
        }
        if (p.kind == TokenPiece::Prompt && !promptStarted) {
            promptStarted = true;
            painter.setPen(QPen(text, 1.5));
            painter.drawLine(QPointF(box.rect.left() - 0.75, box.rect.top() - 1), QPointF(box.rect.left() - 0.75, box.rect.bottom() + 1));
        }
        painter.setFont(font);
        painter.setPen(box.text == QString(QChar(0x21B5)) ? dim : textColorOn(bg));
        painter.drawText(baseline, box.text);
    }
    painter.restore();
}

}  // namespace headlight::ui
