#include "ui/token_layout.h"

#include <algorithm>
#include <cmath>

#include <QFontMetricsF>
#include <QPainter>

#include "core/study/study.h"
#include "ui/color_scale.h"
#include "ui/study_document.h"

namespace headlight::ui {

namespace {
constexpr qreal kPadX = 2.5, kPadY = 1.5, kGap = 1.5, kLineGap = 3;
}

float activationRange(const NeuronResult& neuron) {
    float range = 0.f;
    for (const NeuronContext& c : neuron.contexts) {
        for (float v : c.tokenActivations)
            if (!std::isnan(v)) range = std::max(range, std::abs(v));
        if (!std::isnan(c.activation)) range = std::max(range, std::abs(c.activation));
    }
    return std::max(range, 1e-6f);
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
    TokenPiece predicted;
    predicted.kind = TokenPiece::Predicted;
    predicted.tokenId = neuron.neuron.tokenId;
    predicted.text = QString::fromStdString(neuron.neuron.token);
    predicted.value = std::nanf("");
    h.pieces.push_back(predicted);
    return h;
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
    if (!std::isnan(p.value)) s += QObject::tr(" · activation %1").arg(p.value, 0, 'f', 4);
    s += QStringLiteral("<br><i>%1</i></p>").arg(kind.toHtmlEscaped());
    return s;
}

QColor pieceColor(const TokenPiece& p, float range) {
    if (p.kind == TokenPiece::Predicted || p.kind == TokenPiece::Elided) return QColor(Qt::transparent);
    if (std::isnan(p.value)) return divergingColor(0.0);
    return divergingColor(normalizedValue(p.value, range));
}

ContextLayout layoutContext(const HighlightedContext& context, const QFont& font, qreal width) {
    ContextLayout layout;
    QFont headerFont = font;
    headerFont.setPointSizeF(font.pointSizeF() > 0 ? font.pointSizeF() * 0.85 : font.pointSizeF());
    const QFontMetricsF hm(headerFont), fm(font);
    layout.headerRect = QRectF(0, 0, width, hm.height());
    const qreal lineHeight = fm.height() + 2 * kPadY;
    qreal x = 0, y = layout.headerRect.bottom() + kLineGap;
    width = std::max<qreal>(width, 40);
    for (int i = 0; i < static_cast<int>(context.pieces.size()); ++i) {
        const TokenPiece& p = context.pieces[i];
        QString text = visibleText(p.text);
        qreal w = std::max<qreal>(fm.horizontalAdvance(text), fm.averageCharWidth()) + 2 * kPadX;
        if (p.kind == TokenPiece::Predicted) w += fm.horizontalAdvance(QStringLiteral("→ "));
        w = std::min(w, width);
        if (x > 0 && x + w > width) {
            x = 0;
            y += lineHeight + kLineGap;
        }
        if (p.kind == TokenPiece::Predicted && x > 0) x += 4;
        layout.boxes.push_back({QRectF(x, y, w, lineHeight), i});
        x += w + kGap;
    }
    layout.height = y + lineHeight + kLineGap;
    return layout;
}

void paintContext(QPainter& painter, const HighlightedContext& context, const ContextLayout& layout, const QPointF& origin,
                  const QFont& font, const QColor& text, const QColor& dim, const QColor& base) {
    const bool darkBase = base.lightness() < 128;
    painter.save();
    painter.translate(origin);
    if (!context.kept) painter.setOpacity(0.45);
    QFont headerFont = font;
    headerFont.setPointSizeF(font.pointSizeF() > 0 ? font.pointSizeF() * 0.85 : font.pointSizeF());
    painter.setFont(headerFont);
    painter.setPen(dim);
    painter.drawText(layout.headerRect, Qt::AlignLeft | Qt::AlignVCenter | Qt::TextSingleLine, context.header);
    painter.setFont(font);
    const QFontMetricsF fm(font);
    bool promptStarted = false;
    for (const TokenBox& box : layout.boxes) {
        const TokenPiece& p = context.pieces[box.piece];
        const qreal baseOpacity = context.kept ? 1.0 : 0.45;
        painter.setOpacity(p.kind == TokenPiece::Before ? baseOpacity * 0.4 : baseOpacity);
        QString label = visibleText(p.text);
        if (p.kind == TokenPiece::Elided) {
            QFont italic = font;
            italic.setItalic(true);
            painter.setFont(italic);
            painter.setPen(dim);
            painter.drawText(box.rect, Qt::AlignCenter | Qt::TextSingleLine, label);
            painter.setFont(font);
            continue;
        }
        if (p.kind == TokenPiece::Predicted) {
            QPen pen(text, 1.2, Qt::DashLine);
            painter.setPen(pen);
            painter.setBrush(Qt::NoBrush);
            painter.drawRoundedRect(box.rect.adjusted(0.5, 0.5, -0.5, -0.5), 2, 2);
            QFont bold = font;
            bold.setBold(true);
            painter.setFont(bold);
            painter.setPen(text);
            painter.drawText(box.rect, Qt::AlignCenter | Qt::TextSingleLine,
                             fm.elidedText(QStringLiteral("→ ") + label, Qt::ElideRight, box.rect.width()));
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
        if (p.kind == TokenPiece::Prompt && !promptStarted) {
            promptStarted = true;
            painter.setPen(QPen(text, 2));
            painter.drawLine(QPointF(box.rect.left() - 0.5, box.rect.top() - 1), QPointF(box.rect.left() - 0.5, box.rect.bottom() + 1));
        }
        painter.setPen(textColorOn(bg));
        painter.drawText(box.rect, Qt::AlignCenter | Qt::TextSingleLine, fm.elidedText(label, Qt::ElideRight, box.rect.width()));
    }
    painter.restore();
}

}  // namespace headlight::ui
