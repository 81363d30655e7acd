// Token-level highlighting of one context, as plain data and plain painting: the pieces (tokens before
// the kept prompt, the prompt, the predicted token), their layout as running text (tokens side by side
// as in the source, spaces and newlines as in the text, lines wrapped between words), the activation as
// each token's background, token boundaries only on hover or when asked for, and a painter that draws
// them. Byte tokens that split one character are merged into one piece for display (coloured by their
// largest value). Text is always drawn as plain text (QPainter::drawText), never as rich
// text, so corpus text such as "<b>" or "<img src=...>" is shown literally. Used by the context list's
// delegate and by the exports (SVG / PDF / HTML / LaTeX), so what is exported is what is shown.
#pragma once

#include <functional>
#include <vector>

#include <QColor>
#include <QFont>
#include <QRectF>
#include <QString>

class QPainter;
class QFontMetricsF;
class QPalette;

namespace headlight {
struct NeuronResult;
}

namespace headlight::ui {

class StudyDocument;

struct TokenPiece {
    enum Kind { Before, Prompt, Predicted, Elided };
    QString text;        // the token's text as it reads (UTF-8 decoded; whitespace not yet made visible)
    int tokenId = -1;    // vocabulary id (-1 for Elided)
    float value = 0.f;   // the neuron's activation at this token (NaN: unknown; Predicted: none)
    Kind kind = Prompt;
    std::vector<int> mergedIds;  // further tokens merged into this piece (byte tokens of one character)
    std::vector<float> mergedValues;
};

// Merges runs of pieces whose texts are parts of one character (U+FFFD on their own) into one piece
// whose text is `decode` of the run's ids, when that decodes cleanly; its value is the run's largest.
void mergeSplitCharacters(std::vector<TokenPiece>& pieces, const std::function<QString(const std::vector<int>&)>& decode);

struct HighlightedContext {
    QString header;                 // one line above the tokens: rank, activation, document
    std::vector<TokenPiece> pieces; // in reading order
    float range = 1.f;              // |activation| that maps to the end of the colour scale
    bool kept = true;               // false: dropped by the method (shown greyed)
};

// Builds the pieces of context `contextIndex` of `neuron`: at most `maxBefore` tokens of the document
// before the prompt (an Elided piece says how many more), the prompt, then the neuron's token.
HighlightedContext makeHighlightedContext(const NeuronResult& neuron, int contextIndex, const StudyDocument& document,
                                          float range, int maxBefore = 48);
// The largest |token activation| over a neuron's contexts (the shared colour range); 1 for a dead
// neuron, so that its near-zero values stay near white instead of filling the scale.
float activationRange(const NeuronResult& neuron);
// True when the neuron is near-dead (analysis::isNearDead: top activation over the scan <= 0.01): its
// contexts carry no signal.
bool isDeadNeuron(const NeuronResult& neuron);

// A number as a figure prints it: a real minus sign (U+2212), no sign on a value that rounds to zero
// ("0.000", never "-0.000"), and "+" before a positive value when `plus` is set.
QString signedNumber(double value, char format, int precision, bool plus = false);
// Token text made visible for display: newline as ↵, tab as ⇥, other controls as U+FFFD; nothing else changes.
QString visibleText(const QString& text);
// Tooltip-ready (escaped) description of a piece: token text, id, value.
QString pieceToolTip(const TokenPiece& piece);
// Background colour of a piece on the diverging scale.
QColor pieceColor(const TokenPiece& piece, float range);

struct TokenBox {
    QRectF rect;   // where this part of the piece lies (its background)
    int piece;     // index into HighlightedContext::pieces
    QString text;  // what is drawn here (one line of the piece's text; "↵" for a newline)
    bool first = true;  // the piece's first box (a token boundary lies on its left)
};

struct ContextLayout {
    QRectF headerRect;           // the header line
    std::vector<TokenBox> boxes; // one per piece
    qreal height = 0;            // total height used
};

// Lays out `context` within `width` starting at (0, 0) as running text: tokens side by side, a newline
// in a token starts a new line, lines wrap before a word that does not fit.
ContextLayout layoutContext(const HighlightedContext& context, const QFont& font, qreal width);
// The piece at `point` (layout coordinates), or -1.
int pieceAt(const ContextLayout& layout, const QPointF& point);

struct ContextPaintOptions {
    bool boundaries = false;  // a hairline between every two tokens
    int hoveredPiece = -1;    // outlined
};
// Paints `context` laid out at `origin`. `text`, `dim` and `base` (the background) come from the
// palette; backgrounds from the scale. On a dark base a background fades from the base at 0 to the
// scale's colour at +-range, so that inactive tokens do not glare white.
void paintContext(QPainter& painter, const HighlightedContext& context, const ContextLayout& layout, const QPointF& origin,
                  const QFont& font, const QColor& text, const QColor& dim, const QColor& base = QColor(Qt::white),
                  const ContextPaintOptions& options = {});

}  // namespace headlight::ui
