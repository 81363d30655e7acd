// The look-up view (issue 13): what one head reads in one context to switch the neuron on. The selected
// context's attribution prompt (BOS first) is drawn as running text with each token coloured by the
// head's contribution from it (diverging scale, symmetric range) or by its attention weight (a switch),
// the top source tokens are listed with their numbers, and hovering a token or the list shows the
// numbers as plain text (the whole row on the title and the list). It follows the shared selection
// (context + head); Left/Right or [ ] move across the neuron's candidate heads, Up/Down across its
// contexts. When the bundle lacks the pair's look-up (a bundle made before look-ups, or a head that was
// not active there) it says so and offers to compute it with the study's model on the worker pool
// (computeLookups, core/study/pipeline.h). The same rows make the figure (PNG/SVG/PDF) and LaTeX.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include <QFutureWatcher>
#include <QWidget>

#include "core/records/neuron.h"
#include "ui/playground_view.h"
#include "ui/token_layout.h"

class QComboBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace headlight::ui {

class StudyDocument;
class StudySelection;

enum class LookupMode { Contribution, Attention };

// One look-up ready to show: per position of the attribution prompt (BOS first), its token and numbers.
struct LookupRow {
    QString neuron;                   // "L3N12"
    QString head;                     // "L1H2"
    QString context;                  // "#1" (rank among kept contexts) or "dropped 7"
    float score = 0.f;                // the head's score
    std::vector<int> tokenIds;        // -1: BOS
    std::vector<QString> tokens;      // token text as it reads ("BOS" for BOS)
    std::vector<float> contributions; // each position's share of the score
    std::vector<float> attention;     // the last position's attention weight on each position
    int predictedId = -1;             // the neuron's token
    QString predicted;
};

// The row of `lookup` in context `context` of bundle neuron `neuron`.
LookupRow makeLookupRow(const StudyDocument& document, int neuron, const NeuronResult& result, int context,
                        const HeadLookup& lookup);
// The values the mode colours by (contributions or attention).
const std::vector<float>& lookupValues(const LookupRow& row, LookupMode mode);
// Positions ranked by |value| of the mode, largest first (ties: earlier first), at most `count`.
std::vector<int> topLookupPositions(const LookupRow& row, LookupMode mode, int count);
// Decodes a run of tokens together (StudyDocument::decodeTokens), to merge byte tokens of one character.
using TokenRunDecoder = std::function<QString(const std::vector<int>&)>;
// The row as pieces to paint (token_layout.h): one per position (with `decode`, byte tokens of one
// character merged, their values summed), then the neuron's token; `positions` (if given) gets each
// piece's first position.
HighlightedContext lookupHighlight(const LookupRow& row, LookupMode mode, std::vector<int>* positions = nullptr,
                                   const TokenRunDecoder& decode = {});
// Plain text: one position ("3: " cat"  contribution 0.2100 (51 % of the score)  attention 0.700"), and the
// whole row (a title line, then every position).
QString lookupPositionText(const LookupRow& row, int position);
QString lookupRowText(const LookupRow& row);

// A token strip (TokenStrip) whose tooltips are one position's numbers, as plain text.
class LookupStrip : public TokenStrip {
    Q_OBJECT
public:
    using TokenStrip::TokenStrip;
    void setRow(const LookupRow& row, LookupMode mode, const TokenRunDecoder& decode = {});
    // The tooltip text at a widget point (empty off the tokens).
    QString toolTipAt(const QPoint& point) const;
    // Widget point at the centre of position `position`'s first box (tests), or (-1, -1).
    QPoint positionCenter(int position) const;

protected:
    bool event(QEvent* event) override;

private:
    std::optional<LookupRow> row_;
    std::vector<int> positions_;   // per piece: its first position
};

class LookupView : public QWidget {
    Q_OBJECT
public:
    explicit LookupView(StudySelection* selection, QWidget* parent = nullptr);
    ~LookupView() override;
    void setDocument(std::shared_ptr<const StudyDocument> document);

    LookupMode mode() const;
    void setMode(LookupMode mode);
    // The shown look-up (empty when none is available for the selection).
    const std::optional<LookupRow>& row() const { return row_; }
    QLabel* titleLabel() const { return title_; }
    QLabel* messageLabel() const { return message_; }
    QPushButton* computeButton() const { return compute_; }
    QComboBox* modeBox() const { return modeBox_; }
    QTableWidget* sourcesTable() const { return sources_; }
    LookupStrip* strip() const { return strip_; }
    // Computes the missing look-up of the selected head (all kept contexts and the selected one) on the
    // worker pool; `computed` is emitted when it is shown (or failed: the message says why).
    void computeMissing();
    bool computing() const;

Q_SIGNALS:
    void computed();

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    void refresh();
    void showRow();
    void showMissing(const QString& why, bool canCompute);
    void moveHead(int step);
    void moveContext(int step);
    const HeadLookup* findLookup(int context, int head) const;
    void onProgress(qint64 done, qint64 total, const QString& message);

    StudySelection* selection_;
    std::shared_ptr<const StudyDocument> document_;
    std::shared_ptr<const NeuronResult> neuron_;
    int neuronIndex_ = -1;
    std::optional<LookupRow> row_;
    std::map<std::tuple<int, int, int>, HeadLookup> computed_;  // (neuron, context, head) -> look-up made here
    QLabel* title_;
    QComboBox* modeBox_;
    LookupStrip* strip_;
    QTableWidget* sources_;
    QLabel* message_;
    QPushButton* compute_;
    struct Job;
    QFutureWatcher<std::shared_ptr<Job>>* watcher_;
    int generation_ = 0;  // bumped per document: look-ups computed for an earlier one are dropped
};

}  // namespace headlight::ui
