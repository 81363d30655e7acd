// Exports for papers, as plain functions without a window: plots to PNG (decodes, DPI), SVG (parses),
// PDF (%PDF); highlighted contexts to SVG, PDF, HTML (escaped) and LaTeX (escaped; compiled where
// pdflatex exists); tables to CSV (RFC 4180, round trip). Every export is byte-identical twice.
#include <random>

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QToolTip>
#include <QScreen>
#include <QSettings>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QThread>
#include <QXmlStreamReader>
#include <QtTest>

#include "core/analysis/activation_histogram.h"
#include "core/analysis/playground.h"
#include "core/study/pipeline.h"
#include "core/base/error.h"
#include "core/model/tokenizer.h"
#include "core/study/bundle.h"
#include "test_util.h"
#include "ui/context_list.h"
#include "ui/export/figure.h"
#include "ui/export/lookup_figure.h"
#include "ui/main_window.h"
#include "ui/run_dialog.h"
#include "ui/neuron_view.h"
#include "ui/neuron_facts_view.h"
#include "ui/neuron_table_model.h"
#include "ui/token_search_view.h"
#include "ui/overview_view.h"
#include "ui/playground_view.h"
#include "ui/study_document.h"
#include "ui/appearance.h"
#include "ui/color_scale.h"
#include "ui/export/context_export.h"
#include "ui/export/csv_export.h"
#include "ui/export/plot_export.h"
#include "ui/head_heatmap.h"
#include "ui/qcp.h"

using namespace headlight;
using namespace headlight::ui;

namespace {

std::unique_ptr<HeadHeatMap> makeHeatMap() {
    auto map = std::make_unique<HeadHeatMap>();
    map->resize(600, 400);
    std::vector<float> values;
    std::vector<uint8_t> active;
    for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 16; ++c) {
            values.push_back(std::sin(0.5f * c + r) * 2.f);
            active.push_back((r + c) % 7 == 0);
        }
    QStringList rows, cols;
    for (int r = 0; r < 6; ++r) rows << QStringLiteral("#%1").arg(r + 1);
    for (int c = 0; c < 16; ++c) cols << QStringLiteral("L%1H%2").arg(c / 8).arg(c % 8);
    map->setMatrix(6, 16, values, active, rows, cols, QStringLiteral("context"), QStringLiteral("candidate head"),
                   QStringLiteral("L2N7: head scores"));
    return map;
}

std::vector<HighlightedContext> sampleContexts() {
    HighlightedContext a;
    a.header = QStringLiteral("#1  ·  max 3.000 <doc & \"1\">");
    a.range = 3.f;
    const QStringList texts = {QStringLiteral("Once"), QStringLiteral(" upon"), QStringLiteral(" <img src=x>"),
                               QStringLiteral(" $100 & 50% #1 _x ^y ~z {a} \\b"), QStringLiteral("\n"),
                               QStringLiteral(" caf\u00e9"), QStringLiteral(" \u2603"), QStringLiteral(" the")};
    for (int i = 0; i < texts.size(); ++i) {
        TokenPiece p;
        p.text = texts[i];
        p.tokenId = 100 + i;
        p.value = -1.5f + 0.6f * i;
        p.kind = i < 2 ? TokenPiece::Before : TokenPiece::Prompt;
        a.pieces.push_back(p);
    }
    TokenPiece pred;
    pred.kind = TokenPiece::Predicted;
    pred.text = QStringLiteral(" cat");
    pred.tokenId = 7;
    pred.value = std::nanf("");
    a.pieces.push_back(pred);
    HighlightedContext b = a;
    b.kept = false;
    b.header = QStringLiteral("dropped");
    return {a, b};
}


// A study in the shape of a real one (GPT-2 tokenizer; 4 layers x 12 heads; 20 kept contexts per
// neuron as the method keeps): real and baseline neurons, explanations with scores, an ablation
// record, and a dead neuron (top activation about 0).
Study figureStudy() {
    const QString modelDir = test::fixture(QStringLiteral("tokenizers/gpt2"));
    const Tokenizer tok = Tokenizer::fromFolder(modelDir);
    Study s;
    s.nLayers = 4;
    s.nHeads = 12;
    s.dMlp = 3072;
    s.provenance.modelId = modelDir.toStdString();
    s.parameters.layers = {2, 3};
    const QStringList docs = {
        QStringLiteral("We drove from Regina to Saskatoon and I thought about the river the whole way."),
        QStringLiteral("\u201cIt\u2019s late,\u201d she said \u2014 and the caf\u00e9 closed\u2026 \u00b7 done"),
        QStringLiteral("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 and \u0420\u0443\u0441\u0441\u043a\u0438\u0439 text"),
        QStringLiteral("Line one\nLine two\twith a tab and $math$ & 100% {braces} #tag"),
    };
    struct Spec { int layer, neuron; const char* token; float congruence; bool baseline; float scale; };
    const Spec specs[] = {{3, 367, " the", 2.5f, false, 1.f}, {2, 20, " cat", 3.5f, false, 1.f},
                          {3, 5, " play", 0.7f, true, 1.f}, {2, 7, " dog", 0.4f, false, 0.f}};
    const int heads = s.nLayers * s.nHeads;
    int seed = 1;
    for (const Spec& spec : specs) {
        NeuronResult r;
        r.neuron.ref = {spec.layer, spec.neuron};
        r.neuron.token = spec.token;
        r.neuron.tokenId = tok.encodeIds(QString::fromUtf8(spec.token)).front();
        r.neuron.congruence = spec.congruence;
        r.neuron.baseline = spec.baseline;
        for (int h = 0; h < spec.layer * s.nHeads; ++h) r.candidateHeads.push_back(h);
        r.activeFraction.assign(heads, 0.f);
        for (int d = 0; d < 20; ++d) {
            NeuronContext c;
            c.doc = d;
            c.docSource = "corpus.jsonl";
            c.docLine = d;
            c.tokens = tok.encodeIds(docs[d % docs.size()]);
            c.position = static_cast<int>(c.tokens.size());
            c.start = std::max(1, c.position - 12);
            c.text = tok.decode(std::vector<int>(c.tokens.begin() + (c.start - 1), c.tokens.end())).toStdString();
            for (int t = 0; t < c.position; ++t)
                c.tokenActivations.push_back(spec.scale * std::sin(0.7f * t + seed + d) * (1.0f + t * 0.05f) + (spec.scale == 0 ? -1e-7f : 0.f));
            c.tokenActivations.back() = spec.scale * (3.0f - 0.1f * d);
            c.activation = c.tokenActivations.back();
            c.truncatedActivation = c.activation * 0.9f;
            c.headScores.assign(heads, std::nanf(""));
            c.active.assign(heads, 0);
            for (int h : r.candidateHeads) c.headScores[h] = std::sin(1.3f * h + 0.9f * d + seed) * (h % 3 == 0 ? 2.f : 0.5f);
            const int a = r.candidateHeads[(d * 5 + seed) % r.candidateHeads.size()];
            c.headScores[a] = 4.f;
            c.active[a] = 1;
            c.kept = true;
            if (seed == 1) {   // L3N367: the look-up of its active head, 3.0 from the first prompt token, 1.0 from BOS
                HeadLookup look;
                look.head = a;
                look.score = 4.f;
                look.attention.assign(std::size_t(c.position - c.start + 2), 0.f);
                look.contributions.assign(look.attention.size(), 0.f);
                look.attention[0] = 0.6f;
                look.attention[1] = 0.4f;
                look.contributions[0] = 1.f;
                look.contributions[1] = 3.f;
                c.lookups = {look};
            }
            r.contexts.push_back(std::move(c));
        }
        r.relevantHeads = {r.candidateHeads[seed], r.candidateHeads[seed + 4]};
        for (int h : r.relevantHeads) r.activeFraction[h] = 0.4f;
        // Neuron facts: tokens it promotes and suppresses; an activation histogram of GELU-like values
        // (mostly slightly negative, a tail up to its top context).
        const char* promoted[] = {" the", " a", " its", " their", " this", " that", " an", " our", " his", " her"};
        const char* suppressed[] = {" not", " never", " no", " nothing", " none", " neither", " nor", " without", " lack", " absent"};
        for (int j = 0; j < 10; ++j) {
            r.promoted.push_back({tok.encodeIds(QString::fromUtf8(promoted[j])).front(), spec.congruence - 0.2f * j, promoted[j]});
            r.suppressed.push_back({tok.encodeIds(QString::fromUtf8(suppressed[j])).front(), -1.5f + 0.1f * j, suppressed[j]});
        }
        std::vector<float> values;
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(-1.f, 1.f);
        for (int k = 0; k < 20000; ++k) {
            const float x = normal(rng);
            values.push_back(spec.scale * 0.5f * x * (1 + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x))));
        }
        for (const NeuronContext& c : r.contexts) values.insert(values.end(), c.tokenActivations.begin(), c.tokenActivations.end());
        r.histogram = analysis::histogramOf(values);
        s.neurons.push_back(std::move(r));
        ++seed;
    }
    for (int k = 0; k < 40; ++k) {   // explanation scores for the histogram: real and baseline neurons
        HeadExplanation e;
        e.neuron = s.neurons[k % 3].neuron.ref;
        e.baseline = s.neurons[k % 3].neuron.baseline;
        e.head = k;
        e.source = "baseline";   // the offline baseline's: the longest axis title
        e.model = "ngram";
        e.explanation = "animals";
        e.score = e.baseline ? 0.45 + 0.01 * (k % 9) : 0.5 + 0.012 * k;
        s.explanations.push_back(e);
    }
    AblationResult a;
    a.neuron = s.neurons[0].neuron.ref;
    a.head = 25;
    for (int i = 0; i < 30; ++i) {
        a.dropActive.push_back(0.02f * i + 0.1f * std::sin(i));
        a.dropInactive.push_back(0.004f * i - 0.01f);
    }
    a.ksStatistic = 0.61;
    a.ksPValue = 2e-5;
    s.ablations.push_back(a);
    return s;
}

analysis::PlaygroundResult playgroundResult(int nLayers, int nHeads) {
    analysis::PlaygroundResult r;
    const QStringList texts = {QStringLiteral("Once"), QStringLiteral(" upon"), QStringLiteral(" a"), QStringLiteral(" time")};
    for (int i = 0; i < texts.size(); ++i) {
        r.tokens.push_back(100 + i);
        r.tokenTexts.push_back(texts[i].toStdString());
        r.activations.push_back(0.5f * i);
    }
    r.position = 3;
    r.headScores.assign(std::size_t(nLayers) * nHeads, std::nanf(""));
    for (int h = 0; h < 3 * nHeads; ++h) r.headScores[h] = std::cos(0.8f * h);
    return r;
}

struct TextBox {
    QString text;
    QRectF box;
};

// Word boxes of a PDF page from `pdftotext -bbox` (points, origin top left), and the page size.
std::vector<TextBox> pdfTextBoxes(const QString& pdf, QSizeF* page) {
    QProcess p;
    p.start(QStringLiteral("pdftotext"), {QStringLiteral("-bbox"), pdf, QStringLiteral("-")});
    if (!p.waitForFinished(30000) || p.exitCode() != 0) return {};
    const QString html = QString::fromUtf8(p.readAllStandardOutput());
    std::vector<TextBox> out;
    static const QRegularExpression pageRe(QStringLiteral("<page width=\"([\\d.]+)\" height=\"([\\d.]+)\""));
    const auto pm = pageRe.match(html);
    if (pm.hasMatch() && page) *page = QSizeF(pm.captured(1).toDouble(), pm.captured(2).toDouble());
    static const QRegularExpression wordRe(
        QStringLiteral("<word xMin=\"([\\d.]+)\" yMin=\"([\\d.]+)\" xMax=\"([\\d.]+)\" yMax=\"([\\d.]+)\">([^<]*)</word>"));
    auto it = wordRe.globalMatch(html);
    while (it.hasNext()) {
        const auto m = it.next();
        out.push_back({m.captured(5), QRectF(QPointF(m.captured(1).toDouble(), m.captured(2).toDouble()),
                                             QPointF(m.captured(3).toDouble(), m.captured(4).toDouble()))});
    }
    return out;
}

// Text boxes of an SVG written by QSvgGenerator: each <text> at its x, y with its font, through the
// transforms of its groups (viewBox units).
std::vector<TextBox> svgTextBoxes(const QByteArray& svg) {
    std::vector<TextBox> out;
    QXmlStreamReader xml(svg);
    std::vector<QTransform> stack{QTransform()};
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            QTransform t = stack.back();
            const QString transform = xml.attributes().value(QStringLiteral("transform")).toString();
            if (transform.startsWith(QStringLiteral("matrix("))) {
                const QStringList v = transform.mid(7, transform.size() - 8).split(QRegularExpression(QStringLiteral("[ ,]+")));
                if (v.size() == 6) t = QTransform(v[0].toDouble(), v[1].toDouble(), v[2].toDouble(), v[3].toDouble(), v[4].toDouble(), v[5].toDouble()) * t;
            }
            if (xml.name() == QLatin1String("text")) {
                const auto a = xml.attributes();
                QFont f(a.value(QStringLiteral("font-family")).toString().remove(QLatin1Char('\'')));
                f.setPixelSize(qRound(a.value(QStringLiteral("font-size")).toDouble()));
                f.setBold(a.value(QStringLiteral("font-weight")).toInt() >= 600);
                const double x = a.value(QStringLiteral("x")).toDouble(), y = a.value(QStringLiteral("y")).toDouble();
                const QString text = xml.readElementText();
                const QFontMetricsF fm(f);
                const QRectF local(x, y - fm.ascent(), fm.horizontalAdvance(text), fm.ascent() + fm.descent());
                if (!text.trimmed().isEmpty()) out.push_back({text, t.mapRect(local)});
                continue;   // readElementText consumed the end element
            }
            stack.push_back(t);
        } else if (xml.isEndElement()) {
            stack.pop_back();
        }
    }
    return out;
}

// Fails with a description when a box leaves the page or two boxes overlap (`slack` forgiven).
QString checkBoxes(const std::vector<TextBox>& boxes, const QRectF& page, double slack) {
    for (const TextBox& b : boxes)
        if (!page.adjusted(-slack, -slack, slack, slack).contains(b.box))
            return QStringLiteral("'%1' clipped: %2,%3 %4x%5 outside the page").arg(b.text).arg(b.box.x()).arg(b.box.y()).arg(b.box.width()).arg(b.box.height());
    for (std::size_t i = 0; i < boxes.size(); ++i)
        for (std::size_t j = i + 1; j < boxes.size(); ++j) {
            const QRectF a = boxes[i].box.adjusted(slack, slack, -slack, -slack), b = boxes[j].box.adjusted(slack, slack, -slack, -slack);
            if (a.intersects(b))
                return QStringLiteral("'%1' overlaps '%2'").arg(boxes[i].text, boxes[j].text);
        }
    return {};
}

// Height in pixels of the first band of rows with dark pixels from the top (the title's first line).
int firstInkBand(const QImage& image) {
    int first = -1;
    for (int y = 0; y < image.height(); ++y) {
        bool ink = false;
        for (int x = 0; x < image.width() && !ink; ++x) ink = qGray(image.pixel(x, y)) < 110;
        if (ink && first < 0) first = y;
        if (!ink && first >= 0) return y - first;
    }
    return -1;
}

}  // namespace

class TestGuiExport : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::shared_ptr<const StudyDocument> document_;

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);   // QSettings (located models) in a test location
        QSettings().remove(QStringLiteral("models"));   // nothing located or asked by an earlier run
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("tokenizers/gpt2/tokenizer.json")));
        const QString bundle = dir_.filePath(QStringLiteral("figures.headlight"));
        saveBundle(figureStudy(), bundle);
        document_ = StudyDocument::open(bundle);
        QVERIFY(document_->hasTokenizer());
        qApp->setPalette(figurePalette(true));   // the window is dark: figures must still be light
        QVERIFY(!QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty());  // poppler-utils
        QVERIFY(!QStandardPaths::findExecutable(QStringLiteral("pdftoppm")).isEmpty());
    }

    void figuresFitTheirPage_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("wide");
        for (const FigureKindInfo& k : figureKinds())
            for (bool wide : {false, true})
                if (k.kind != FigureKind::Lookup)   // no plot: its height follows its content (lookupFigureRenders)
                    QTest::addRow("%s %s", k.name, wide ? "double" : "single") << static_cast<int>(k.kind) << wide;
    }

    // Every plot kind at single and double column, in PDF, SVG and PNG: no text clipped or overlapping
    // another, the same text size in PNG and PDF, a light background although the window is dark.
    void figuresFitTheirPage() {
        QFETCH(int, kind);
        QFETCH(bool, wide);
        FigureRequest r;
        r.kind = static_cast<FigureKind>(kind);
        r.neuron = 0;   // L3N367, 20 contexts
        const analysis::PlaygroundResult playground = playgroundResult(document_->nLayers(), document_->nHeads());
        r.playground = &playground;
        const FigureOptions o = wide ? FigureOptions::doubleColumn() : FigureOptions::singleColumn();
        const QString base = dir_.filePath(QStringLiteral("fig-%1-%2").arg(kind).arg(wide));
        exportFigure(document_, r, base + QStringLiteral(".pdf"), o);
        exportFigure(document_, r, base + QStringLiteral(".png"), o);
        const QByteArray svg = renderFigure(document_, r, FigureFormat::Svg, o);

        QSizeF page;
        const std::vector<TextBox> pdfBoxes = pdfTextBoxes(base + QStringLiteral(".pdf"), &page);
        QVERIFY2(pdfBoxes.size() >= 4, "pdftotext found no text in the figure");
        QVERIFY(std::abs(page.width() - o.widthInches * 72) < 1 && std::abs(page.height() - o.heightInches * 72) < 1);
        QString problem = checkBoxes(pdfBoxes, QRectF(QPointF(0, 0), page), 0.6);
        QVERIFY2(problem.isEmpty(), qPrintable(QStringLiteral("PDF: ") + problem));

        const std::vector<TextBox> svgBoxes = svgTextBoxes(svg);
        QVERIFY(svgBoxes.size() >= 4);
        const int dpi = layoutDpi();
        problem = checkBoxes(svgBoxes, QRectF(0, 0, o.widthInches * dpi, o.heightInches * dpi), 0.8);
        QVERIFY2(problem.isEmpty(), qPrintable(QStringLiteral("SVG: ") + problem));

        const QImage png(base + QStringLiteral(".png"));
        QVERIFY(!png.isNull());
        QProcess p;
        p.start(QStringLiteral("pdftoppm"), {QStringLiteral("-r"), QString::number(o.dpi), QStringLiteral("-png"), QStringLiteral("-singlefile"),
                                             base + QStringLiteral(".pdf"), base + QStringLiteral("-pdf")});
        QVERIFY(p.waitForFinished(30000) && p.exitCode() == 0);
        const QImage fromPdf(base + QStringLiteral("-pdf.png"));
        QVERIFY(std::abs(fromPdf.width() - png.width()) <= 1 && std::abs(fromPdf.height() - png.height()) <= 1);  // pdftoppm rounds up
        const int a = firstInkBand(png), b = firstInkBand(fromPdf);
        QVERIFY2(a > 0 && b > 0 && std::abs(a - b) <= 0.05 * b + 1,
                 qPrintable(QStringLiteral("title height: PNG %1 px, PDF %2 px").arg(a).arg(b)));
        for (const QImage& image : {png, fromPdf})
            for (const QPoint& corner : {QPoint(1, 1), QPoint(image.width() - 2, image.height() - 2)})
                QVERIFY2(qGray(image.pixel(corner)) > 240, "the figure's background is not light");
    }

    void lookupFigureRenders_data() {
        QTest::addColumn<bool>("wide");
        QTest::addRow("single") << false;
        QTest::addRow("double") << true;
    }

    // Issue 13: the look-up figure at single and double column. PDF: the page is the column wide, its
    // words stay on it without overlapping, and pdftoppm's raster has ink, the planted top source in the
    // scale's top colour; PNG the same size; LaTeX and the CLI from the same code.
    void lookupFigureRenders() {
        QFETCH(bool, wide);
        FigureRequest r;
        r.kind = FigureKind::Lookup;
        r.neuron = 0;   // L3N367; context 0: head L0H1 active, 3.0 from the first prompt token, 1.0 from BOS
        r.context = 0;
        const FigureOptions o = wide ? FigureOptions::doubleColumn() : FigureOptions::singleColumn();
        const QString base = dir_.filePath(QStringLiteral("lookup-%1").arg(wide ? QStringLiteral("double") : QStringLiteral("single")));
        exportFigure(document_, r, base + QStringLiteral(".pdf"), o);
        exportFigure(document_, r, base + QStringLiteral(".png"), o);
        QSizeF page;
        const std::vector<TextBox> boxes = pdfTextBoxes(base + QStringLiteral(".pdf"), &page);
        QStringList words;
        for (const TextBox& b : boxes) words << b.text;
        QVERIFY2(words.contains(QStringLiteral("L0H1")) && words.contains(QStringLiteral("L3N367")) && words.contains(QStringLiteral("4.0000")),
                 qPrintable(words.join(QLatin1Char(' '))));
        QVERIFY(words.contains(QStringLiteral("3.000")) && words.contains(QStringLiteral("1.000")));   // the top sources' numbers
        QVERIFY(std::abs(page.width() - o.widthInches * 72) < 1);
        QVERIFY2(page.height() > 40 && page.height() < 3 * 72, qPrintable(QString::number(page.height())));
        const QString problem = checkBoxes(boxes, QRectF(QPointF(0, 0), page), 0.6);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QProcess p;
        p.start(QStringLiteral("pdftoppm"), {QStringLiteral("-r"), QStringLiteral("150"), QStringLiteral("-png"), QStringLiteral("-singlefile"),
                                             base + QStringLiteral(".pdf"), base + QStringLiteral("-pdf")});
        QVERIFY(p.waitForFinished(30000) && p.exitCode() == 0);
        const QColor top = divergingColor(1.0);
        for (const QString& file : {base + QStringLiteral("-pdf.png"), base + QStringLiteral(".png")}) {
            const QImage image(file);
            QVERIFY(!image.isNull());
            int ink = 0, topColour = 0;
            for (int y = 0; y < image.height(); ++y)
                for (int x = 0; x < image.width(); ++x) {
                    const QColor c = image.pixelColor(x, y);
                    ink += qGray(c.rgb()) < 200;
                    topColour += std::abs(c.red() - top.red()) + std::abs(c.green() - top.green()) + std::abs(c.blue() - top.blue()) < 12;
                }
            QVERIFY2(ink > image.width() * image.height() / 100, qPrintable(file));   // not blank
            QVERIFY2(topColour > 50, qPrintable(QStringLiteral("%1: %2 pixels of the top colour").arg(file).arg(topColour)));
            QVERIFY(qGray(image.pixel(1, 1)) > 240);
        }
        const QImage png(base + QStringLiteral(".png"));
        QCOMPARE(png.width(), qRound(o.widthInches * o.dpi));
        // Context 2 (Japanese and Russian text): byte tokens of one character are one piece whose value is
        // the sum of theirs, so the pieces still add up to the score and cover every position once.
        const LookupRow mixed = findLookupRow(*document_, 0, 2, -1);
        const HighlightedContext pieces =
            lookupHighlight(mixed, LookupMode::Contribution, nullptr, [this](const std::vector<int>& ids) { return document_->decodeTokens(ids); });
        double sum = 0;
        std::size_t covered = 0;
        for (const TokenPiece& piece : pieces.pieces) {
            if (piece.kind == TokenPiece::Predicted) continue;
            sum += piece.value;
            covered += 1 + piece.mergedIds.size();
        }
        QCOMPARE(covered, mixed.tokens.size());
        QVERIFY(std::abs(sum - 4.0) < 1e-6);
        // LaTeX: the coloured tokens and the table of top sources.
        exportFigure(document_, r, base + QStringLiteral(".tex"), o);
        QFile tex(base + QStringLiteral(".tex"));
        QVERIFY(tex.open(QIODevice::ReadOnly));
        const QString t = QString::fromUtf8(tex.readAll());
        QVERIFY(t.contains(QStringLiteral("\\begin{tabular}")) && t.contains(QStringLiteral(" & 3.0000 & 0.400\\\\")));
        QVERIFY(t.contains(QStringLiteral("\\hlT{103,0,31}")));   // the top source's box in the scale's end colour
        QVERIFY(!t.contains(QStringLiteral("-0.0000")) && !t.contains(QStringLiteral("\\hlU{")));   // no "-0", no code points
        if (wide) {   // pdflatex prints every character of it: the arrow and brackets of the header, the minus signs
            QTemporaryDir work;
            QVERIFY(QFile::copy(base + QStringLiteral(".tex"), work.filePath(QStringLiteral("lookup.tex"))));
            QProcess p;
            p.setWorkingDirectory(work.path());
            p.start(QStringLiteral("pdflatex"), {QStringLiteral("-interaction=nonstopmode"), QStringLiteral("-halt-on-error"), QStringLiteral("lookup.tex")});
            QVERIFY2(p.waitForStarted(), "pdflatex is not installed (scripts/setup.sh installs it)");
            QVERIFY(p.waitForFinished(120000));
            QVERIFY2(p.exitCode() == 0, p.readAllStandardOutput().right(1500).constData());
            QString text;
            for (const TextBox& b : pdfTextBoxes(work.filePath(QStringLiteral("lookup.pdf")), nullptr)) text += b.text + QLatin1Char(' ');
            QVERIFY2(text.contains(QStringLiteral("L0H1 \u2192 L3N367")) && !text.contains(QStringLiteral("U+")), qPrintable(text));
        }
        // A head with no look-up there: the error names the heads that have one.
        r.head = 2;
        HL_EXPECT_ERROR(renderFigure(document_, r, FigureFormat::Png, o), "no look-up of L0H2 in context 0 of L3N367", "L0H1");
        if (!wide) return;
        // The CLI draws the same bytes.
        QProcess cli;
        const QString out = dir_.filePath(QStringLiteral("cli-lookup.png"));
        cli.start(QStringLiteral(HEADLIGHT_CLI_PATH), {QStringLiteral("study"), QStringLiteral("figure"), document_->path(), QStringLiteral("--kind"),
                                                       QStringLiteral("lookup"), QStringLiteral("--neuron"), QStringLiteral("L3N367"),
                                                       QStringLiteral("--context"), QStringLiteral("0"), QStringLiteral("--head"), QStringLiteral("L0H1"),
                                                       QStringLiteral("--width"), QStringLiteral("double"), QStringLiteral("--out"), out});
        QVERIFY(cli.waitForFinished(120000));
        QCOMPARE(cli.exitCode(), 0);
        QFile written(out);
        QVERIFY(written.open(QIODevice::ReadOnly));
        r.head = 1;
        QCOMPARE(QImage::fromData(written.readAll()), QImage::fromData(renderFigure(document_, r, FigureFormat::Png, o)));
    }

    // `headlight-cli study figure` writes what the GUI's export writes, byte for byte.
    void cliFigureIsTheGuisFigure() {
        auto cli = [](const QStringList& args, QByteArray* out = nullptr) {
            QProcess p;
            p.start(QStringLiteral(HEADLIGHT_CLI_PATH), args);
            p.waitForFinished(120000);
            if (out) *out = p.readAllStandardOutput() + p.readAllStandardError();
            return p.exitCode();
        };
        const QString bundle = dir_.filePath(QStringLiteral("figures.headlight"));
        const QString pdf = dir_.filePath(QStringLiteral("cli.pdf"));
        QCOMPARE(cli({QStringLiteral("study"), QStringLiteral("figure"), bundle, QStringLiteral("--neuron"), QStringLiteral("L3N367"),
                      QStringLiteral("--kind"), QStringLiteral("heads-contexts"), QStringLiteral("--width"), QStringLiteral("single"),
                      QStringLiteral("--format"), QStringLiteral("pdf"), QStringLiteral("--out"), pdf}),
                 0);
        FigureRequest r;
        r.kind = FigureKind::HeadsContexts;
        r.neuron = 0;
        QFile f(pdf);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), renderFigure(document_, r, FigureFormat::Pdf, FigureOptions::singleColumn()));
        const QString png = dir_.filePath(QStringLiteral("cli.png"));
        QCOMPARE(cli({QStringLiteral("study"), QStringLiteral("figure"), bundle, QStringLiteral("--kind"), QStringLiteral("scores"),
                      QStringLiteral("--width"), QStringLiteral("double"), QStringLiteral("--out"), png}),
                 0);
        r.kind = FigureKind::Scores;
        QCOMPARE(QImage(png), QImage::fromData(renderFigure(document_, r, FigureFormat::Png, FigureOptions::doubleColumn())));
        const QString tex = dir_.filePath(QStringLiteral("cli.tex"));
        QCOMPARE(cli({QStringLiteral("study"), QStringLiteral("figure"), bundle, QStringLiteral("--neuron"), QStringLiteral("L3N367"),
                      QStringLiteral("--kind"), QStringLiteral("contexts"), QStringLiteral("--out"), tex}),
                 0);
        QFile t(tex);
        QVERIFY(t.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(t.readAll()),
                 contextsToLatexDocument(neuronContexts(*document_, 0, false), QStringLiteral("L3N367: max-activating contexts")));
        QByteArray out;
        QCOMPARE(cli({QStringLiteral("study"), QStringLiteral("figure"), QStringLiteral("--help")}, &out), 0);
        for (const FigureKindInfo& k : figureKinds()) QVERIFY2(out.contains(k.name), k.name);
        QVERIFY(out.contains("contexts"));
        QCOMPARE(cli({QStringLiteral("study"), QStringLiteral("figure"), bundle, QStringLiteral("--kind"), QStringLiteral("pie"),
                      QStringLiteral("--out"), png}, &out),
                 1);
        QVERIFY2(out.contains("unknown figure kind 'pie'"), out.constData());
    }

    // A bundle finds its model by the path stored relative to it when both moved; when nothing
    // resolves, the folder the user located is remembered for the model id.
    void bundleFindsItsModel() {
        QStandardPaths::setTestModeEnabled(true);
        QTemporaryDir root;
        const QString gpt2 = test::fixture(QStringLiteral("tokenizers/gpt2"));
        QDir().mkpath(root.filePath(QStringLiteral("a/models/gpt2")));
        QDir().mkpath(root.filePath(QStringLiteral("a/studies")));
        for (const QString& name : QDir(gpt2).entryList(QDir::Files))
            QVERIFY(QFile::copy(QDir(gpt2).filePath(name), root.filePath(QStringLiteral("a/models/gpt2/")) + name));
        Study study = figureStudy();
        study.provenance.modelId = root.filePath(QStringLiteral("a/models/gpt2")).toStdString();
        saveBundle(study, root.filePath(QStringLiteral("a/studies/s.headlight")));
        const Bundle saved = Bundle::open(root.filePath(QStringLiteral("a/studies/s.headlight")));
        QCOMPARE(QString::fromStdString(saved.provenance().modelPathRelative), QStringLiteral("../models/gpt2"));
        QVERIFY(QDir(root.path()).rename(QStringLiteral("a"), QStringLiteral("b")));   // bundle and model move together
        auto moved = StudyDocument::open(root.filePath(QStringLiteral("b/studies/s.headlight")));
        QVERIFY(moved->hasTokenizer());
        QCOMPARE(moved->modelPath(), root.filePath(QStringLiteral("b/models/gpt2")));
        QVERIFY(QDir(root.path()).rename(QStringLiteral("b/models"), QStringLiteral("elsewhere")));  // now nothing resolves
        auto lost = StudyDocument::open(root.filePath(QStringLiteral("b/studies/s.headlight")));
        QVERIFY(!lost->hasTokenizer());
        QVERIFY(lost->modelPath().isEmpty());
        StudyDocument::setLocatedModel(QString::fromStdString(study.provenance.modelId), root.filePath(QStringLiteral("elsewhere/gpt2")));
        auto found = StudyDocument::open(root.filePath(QStringLiteral("b/studies/s.headlight")));
        QVERIFY(found->hasTokenizer());
        QCOMPARE(found->vocabText(995), QStringLiteral(" world"));
    }

    // The Neuron view: the selected cell's value in the details, the token-boundaries toggle, a dead neuron flagged.
    void neuronViewShowsNumbers() {
        StudySelection selection;
        NeuronView view(&selection);
        view.resize(1200, 800);
        view.setDocument(document_);
        selection.setNeuron(0);
        const int head = view.columnHeads().at(3);
        selection.setContextAndHead(0, head);
        const float score = document_->neuronResult(0)->contexts[0].headScores[head];
        const QString expected = QStringLiteral("Selected cell: context #1 \u00b7 candidate head %1: score %2")
                                     .arg(document_->headLabel(head)).arg(score, 0, 'f', 4);
        QVERIFY2(view.detailsPane()->toPlainText().startsWith(expected), qPrintable(view.detailsPane()->toPlainText().left(200)));
        QVERIFY(!view.contextList()->showBoundaries());
        view.boundariesBox()->setChecked(true);
        QVERIFY(view.contextList()->showBoundaries());
        QVERIFY(!view.titleLabel()->text().contains(QStringLiteral("dead neuron")));
        selection.setNeuron(3);
        QVERIFY(view.titleLabel()->text().contains(QStringLiteral("dead neuron")));
        QVERIFY(view.contextHeadMap()->title().contains(QStringLiteral("L2N7")));
        view.setDocument(nullptr);   // another study (here: none): no stale titles
        QVERIFY(view.contextHeadMap()->title().isEmpty());
        QVERIFY(view.layerHeadMap()->title().isEmpty());
    }

    // Neuron facts in the details pane (issue 13): promoted / suppressed tokens, the activation histogram
    // (its bars carry every counted activation), the near-dead mark; an older bundle says what is missing.
    void neuronFactsInTheDetailsPane() {
        StudySelection selection;
        NeuronView view(&selection);
        view.resize(1280, 800);
        view.setDocument(document_);
        selection.setNeuron(0);
        selection.setContextAndHead(0, view.columnHeads().at(3));
        view.detailTabs()->setCurrentWidget(view.factsView());
        NeuronFactsView* facts = view.factsView();
        QVERIFY2(facts->tokensLabel()->text().startsWith(QStringLiteral("Promotes (W_out · W_U, largest):  \" the\" 2.50,  \" a\" 2.30")),
                 qPrintable(facts->tokensLabel()->text()));
        QVERIFY(facts->tokensLabel()->text().contains(QStringLiteral("Suppresses (smallest):  \" not\" -1.50")));
        const auto neuron = document_->neuronResult(0);
        QCOMPARE(facts->histogramPlot()->plottableCount(), 1);
        auto* bars = qobject_cast<QCPBars*>(facts->histogramPlot()->plottable(0));
        QVERIFY(bars);
        double drawn = 0;
        for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) drawn += it->value;
        QVERIFY2(std::abs(drawn - double(neuron->histogram.total())) < 1e-6 * drawn, qPrintable(QString::number(drawn)));
        int64_t counted = 20000;
        for (const NeuronContext& c : neuron->contexts) counted += int64_t(c.tokenActivations.size());
        QCOMPARE(neuron->histogram.total(), counted);
        QVERIFY(facts->statusLabel()->text().startsWith(QStringLiteral("Top activation over the scanned corpus: 3.")));
        const QString shots = qEnvironmentVariable("HEADLIGHT_SCREENSHOTS", dir_.path());
        for (const ColorScheme scheme : {ColorScheme::Light, ColorScheme::Dark}) {  // as the window shows it
            applyColorScheme(ColorScheme::Light);
            if (scheme == ColorScheme::Dark) QApplication::setPalette(darkPalette());  // (the test platform is "dark")
            StudySelection shotSelection;
            NeuronView shot(&shotSelection);
            shot.resize(1280, 800);
            shot.setDocument(document_);
            shot.show();
            shotSelection.setNeuron(0);
            shotSelection.setContextAndHead(0, shot.columnHeads().at(3));
            shot.detailTabs()->setCurrentWidget(shot.factsView());
            QVERIFY(QTest::qWaitForWindowExposed(&shot));
            const QString name = scheme == ColorScheme::Light ? QStringLiteral("neuron-facts.png") : QStringLiteral("neuron-facts-dark.png");
            QVERIFY(shot.grab().save(QDir(shots).filePath(name)));
        }
        qApp->setPalette(figurePalette(true));
        selection.setNeuron(3);
        QVERIFY2(facts->statusLabel()->text().startsWith(QStringLiteral("Near-dead neuron")), qPrintable(facts->statusLabel()->text()));
        // The table marks it too, instead of a bare tiny maximum.
        NeuronTableModel table;
        table.setDocument(document_);
        QCOMPARE(table.index(3, NeuronTableModel::TopActivation).data().toString(), QStringLiteral("0.000 near-dead"));
        QCOMPARE(table.index(0, NeuronTableModel::TopActivation).data().toString(), QStringLiteral("3.000"));
        // A bundle made before the facts.
        Study old = figureStudy();
        for (NeuronResult& n : old.neurons) {
            n.promoted.clear();
            n.suppressed.clear();
            n.histogram = {};
        }
        const QString oldPath = dir_.filePath(QStringLiteral("old-facts.headlight"));
        saveBundle(old, oldPath);
        view.setDocument(StudyDocument::open(oldPath));
        selection.setNeuron(0);
        QVERIFY(facts->tokensLabel()->text().contains(QStringLiteral("not stored")));
        QVERIFY(facts->histogramPlot()->property("noData").toString().contains(QStringLiteral("not stored")));
    }

    // Token -> neurons (issue 13): the search ranks every neuron of the chosen layers like `neurons
    // --token`; "New study from these neurons" opens the Run dialog prefilled with the selected ones.
    // The playground (same model) shows a neuron outside the study with heads switched off.
    void tokenSearchAndPlayground() {
        const QString model = test::fixture(QStringLiteral("gpt2-tiny"));
        HL_REQUIRE_FIXTURE(model + QStringLiteral("/model.safetensors"));
        Study s;
        s.nLayers = 3;
        s.nHeads = 4;
        s.dMlp = 256;
        s.provenance.modelId = model.toStdString();
        s.provenance.processing = "fold_ln,center_writing_weights,center_unembed,fold_value_biases";
        s.provenance.corpus = "corpus.jsonl";
        s.parameters.layers = {2};
        NeuronResult r;
        r.neuron.ref = {2, 5};
        r.neuron.token = " the";
        r.neuron.tokenId = 262;
        r.activeFraction.assign(12, 0.f);
        s.neurons.push_back(r);
        const QString bundle = dir_.filePath(QStringLiteral("token-search.headlight"));
        saveBundle(s, bundle);
        applyColorScheme(ColorScheme::Light);   // screenshots in the window's light theme
        MainWindow w;
        w.resize(1280, 800);
        w.show();
        QVERIFY(w.openBundle(bundle));
        TokenSearchView* search = w.tokenSearchView();
        w.tabs()->setCurrentWidget(search);
        QSignalSpy ready(search, &TokenSearchView::resultsReady);
        search->tokenEdit()->setText(QStringLiteral(" the"));
        search->layersEdit()->setText(QStringLiteral("1,2"));
        search->rowsBox()->setValue(0);  // all
        QTest::keyClick(search->tokenEdit(), Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(ready.count() == 1, 120000);
        PipelineOptions o;
        o.model = model;
        o.parameters.layers = {1, 2};
        const std::vector<TokenNeuronRow> cli = rankNeuronsForToken(o, " the", -1);
        QCOMPARE(search->results().size(), std::size_t(512));
        QCOMPARE(search->results().size(), cli.size());
        for (std::size_t i = 0; i < cli.size(); ++i) {
            QCOMPARE(search->results()[i].neuron.ref, cli[i].neuron.ref);
            QCOMPARE(search->results()[i].tokenCongruence, cli[i].tokenCongruence);
            QCOMPARE(search->results()[i].neuron.tokenId, cli[i].neuron.tokenId);
        }
        QCOMPARE(search->table()->model()->rowCount(), 512);
        QCOMPARE(search->table()->model()->index(0, 0).data().toString(), QString::fromStdString(neuronName(cli[0].neuron.ref)));
        const QString shots = qEnvironmentVariable("HEADLIGHT_SCREENSHOTS", dir_.path());
        QVERIFY(w.grab().save(QDir(shots).filePath(QStringLiteral("token-search.png"))));
        // Rows 0 and 2 selected: a new study of exactly those two.
        search->table()->selectionModel()->select(search->table()->model()->index(0, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
        search->table()->selectionModel()->select(search->table()->model()->index(2, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
        QTest::mouseClick(search->newStudyButton(), Qt::LeftButton);
        RunDialog* run = w.runDialog();
        QTRY_VERIFY(run->isVisible());
        const QString expected = QString::fromStdString(neuronName(cli[0].neuron.ref) + "," + neuronName(cli[2].neuron.ref));
        QCOMPARE(run->neuronsEdit()->text(), expected);
        const PipelineOptions prefilled = run->options();
        QCOMPARE(prefilled.parameters.neurons, (std::vector<std::string>{neuronName(cli[0].neuron.ref), neuronName(cli[2].neuron.ref)}));
        QCOMPARE(QFileInfo(prefilled.model).canonicalFilePath(), QFileInfo(model).canonicalFilePath());
        QCOMPARE(prefilled.corpus, QStringLiteral("corpus.jsonl"));
        QVERIFY(prefilled.parameters.layers.empty());
        run->hide();

        // The playground: a neuron outside the study, a head's look-up, two heads switched off (mean).
        PlaygroundView* p = w.playgroundView();
        w.tabs()->setCurrentWidget(p);
        QVERIFY(p->modelLoaded());
        QSignalSpy shown(p, &PlaygroundView::resultReady);
        p->showNeuron(2, 17);
        QVERIFY(!p->followBox()->isChecked());
        p->lookupHeadEdit()->setText(QStringLiteral("L1H2"));
        p->offHeadsEdit()->setText(QStringLiteral("L0H1, L1H2"));
        p->modeBox()->setCurrentIndex(1);
        p->editor()->setPlainText(QStringLiteral("The cat sat on the mat because the mat was warm"));
        QTRY_VERIFY_WITH_TIMEOUT(shown.count() >= 1 && p->lastResult().offHeads.size() == 2 &&
                                     p->lastResult().lookup.head == 6, 120000);
        QTest::qWait(400);   // let a debounced recompute land
        QTRY_VERIFY_WITH_TIMEOUT(!p->lastResult().tokens.empty(), 60000);
        analysis::PlaygroundRequest q;
        q.neuron = {2, 17};
        q.lookupHead = 6;
        q.offHeads = {1, 6};
        q.mode = analysis::HeadSwitchOff::Mean;
        const analysis::PlaygroundResult direct = p->model()->run("The cat sat on the mat because the mat was warm", q);
        const analysis::PlaygroundResult& got = p->lastResult();
        QCOMPARE(got.activations, direct.activations);
        QCOMPARE(got.ablatedActivations, direct.ablatedActivations);
        QCOMPARE(got.ablatedProbability, direct.ablatedProbability);
        QCOMPARE(got.lookup.contributions, direct.lookup.contributions);
        const int last = int(got.tokens.size()) - 1;
        QVERIFY2(p->effectLabel()->text().contains(QStringLiteral("activation %1 → %2")
                                                       .arg(direct.activations[std::size_t(last)], 0, 'f', 4)
                                                       .arg(direct.ablatedActivations[std::size_t(last)], 0, 'f', 4)),
                 qPrintable(p->effectLabel()->text()));
        QVERIFY(p->ablatedStrip()->isVisible());
        QVERIFY(p->lookupStrip()->isVisible());
        QVERIFY(p->statusLabel()->text().contains(QStringLiteral("L2N17 is not in the study")));
        QVERIFY(w.grab().save(QDir(shots).filePath(QStringLiteral("playground-heads-off.png"))));
        qApp->setPalette(figurePalette(true));
    }

    // A live light/dark switch restyles the Overview's plots.
    void overviewFollowsTheTheme() {
        OverviewView view;
        view.setDocument(document_);
        view.setPalette(figurePalette(false));
        QVERIFY(view.scorePlot()->axisRect()->backgroundBrush().color().lightness() > 200);
        view.setPalette(figurePalette(true));
        QVERIFY(view.scorePlot()->axisRect()->backgroundBrush().color().lightness() < 80);
        QVERIFY(view.congruencePlot()->xAxis->tickLabelColor().lightness() > 200);
    }

    // Documented shortcuts exist even where the platform theme binds none (plain X11).
    void documentedShortcutsExist() {
        MainWindow w;
        QAction* saveAs = w.findChild<QAction*>(QStringLiteral("actionSaveAs"));
        QVERIFY(saveAs && saveAs->shortcuts().contains(QKeySequence(QStringLiteral("Ctrl+Shift+S"))));
        bool f11 = false;
        for (QAction* a : w.viewMenu()->actions()) f11 |= a->shortcuts().contains(QKeySequence(Qt::Key_F11));
        QVERIFY(f11);
    }

    // The Run dialog opens within the screen (the offscreen screen is smaller than 1280x720).
    void runDialogFitsTheScreen() {
        MainWindow w;
        QWidget* run = w.runDialog();
        const QSize screen = run->screen()->availableGeometry().size();
        QVERIFY2(run->width() <= screen.width() && run->height() <= screen.height(),
                 qPrintable(QStringLiteral("%1x%2 on %3x%4").arg(run->width()).arg(run->height()).arg(screen.width()).arg(screen.height())));
    }

    // A study whose model does not resolve asks once to locate it; the located folder is remembered.
    void mainWindowLocatesTheModel() {
        QTemporaryDir root;
        Study study = figureStudy();
        study.provenance.modelId = "no/such/model-folder";
        const QString bundle = root.filePath(QStringLiteral("s.headlight"));
        saveBundle(study, bundle);
        MainWindow w;
        QVERIFY(w.openBundle(bundle));
        QVERIFY(!w.document()->hasTokenizer());
        QMessageBox* box = w.findChild<QMessageBox*>(QStringLiteral("locateModelBox"));
        QVERIFY(box);
        box->close();
        QTRY_VERIFY(!w.findChild<QMessageBox*>(QStringLiteral("locateModelBox")));
        QVERIFY(w.openBundle(bundle));
        QVERIFY(!w.findChild<QMessageBox*>(QStringLiteral("locateModelBox")));   // asked once
        QAction* locate = w.findChild<QAction*>(QStringLiteral("actionLocateModel"));
        QVERIFY(locate && locate->isEnabled());
        QVERIFY(w.setModelLocation(test::fixture(QStringLiteral("tokenizers/gpt2"))));
        QVERIFY(w.document()->hasTokenizer());
        QVERIFY(!locate->isEnabled());
        auto again = StudyDocument::open(bundle);   // remembered for the model id
        QVERIFY(again->hasTokenizer());
    }

    // The playground merges the byte tokens of one character too, and a click on it picks its last token.
    void playgroundMergesSplitCharacters() {
        const QString model = test::fixture(QStringLiteral("gpt2-tiny"));
        HL_REQUIRE_FIXTURE(model + QStringLiteral("/model.safetensors"));
        Study s;
        s.nLayers = 3;
        s.nHeads = 4;
        s.dMlp = 256;
        s.provenance.modelId = model.toStdString();
        s.provenance.processing = "none";
        NeuronResult r;
        r.neuron.ref = {2, 5};
        r.neuron.token = " the";
        r.neuron.tokenId = 262;
        r.activeFraction.assign(12, 0.f);
        s.neurons.push_back(r);
        const QString bundle = dir_.filePath(QStringLiteral("playground.headlight"));
        saveBundle(s, bundle);
        StudySelection selection;
        PlaygroundView view(&selection);
        view.setDocument(StudyDocument::open(bundle));
        selection.setNeuron(0);
        const QString text = QStringLiteral("Tokyo \u65e5\u672c is big");
        view.editor()->setPlainText(text);
        view.loadModel();
        QTRY_VERIFY_WITH_TIMEOUT(view.modelLoaded() && view.lastResult().tokens.size() > 4 &&
                                     view.tokenStrip()->context().pieces.size() > 0, 120000);
        QString joined;
        int merged = -1;
        const auto& pieces = view.tokenStrip()->context().pieces;
        for (int i = 0; i < static_cast<int>(pieces.size()); ++i) {
            joined += pieces[i].text;
            if (!pieces[i].mergedIds.empty() && merged < 0) merged = i;
        }
        QCOMPARE(joined, text);
        QVERIFY(merged >= 0);
        int last = -1;   // the merged piece's last token
        for (int i = 0; i <= merged; ++i) last += 1 + static_cast<int>(pieces[i].mergedIds.size());
        Q_EMIT view.tokenStrip()->pieceClicked(merged);
        QTRY_COMPARE_WITH_TIMEOUT(view.lastResult().position, last, 60000);
    }

    // What the window has selected (context, head) never shows on paper.
    void figuresCarryNoSelection() {
        FigureRequest r;
        r.kind = FigureKind::LayersHeads;
        r.neuron = 0;
        r.context = 2;
        QCustomPlot* plot = nullptr;
        const auto host = buildFigure(document_, r, &plot);
        for (int i = 0; i < plot->itemCount(); ++i)
            if (qobject_cast<QCPItemRect*>(plot->item(i))) QVERIFY(!plot->item(i)->visible());
        QVERIFY(qobject_cast<HeadHeatMap*>(plot)->title().contains(QStringLiteral("#3")));
    }

    void darkFiguresOnRequest() {
        FigureRequest r;
        r.kind = FigureKind::Congruence;
        r.dark = true;
        const QImage png = QImage::fromData(renderFigure(document_, r, FigureFormat::Png, FigureOptions::singleColumn()));
        QVERIFY(qGray(png.pixel(1, 1)) < 60);
    }

    void figureRequestsAreChecked() {
        FigureRequest r;
        r.kind = FigureKind::HeadsContexts;
        HL_EXPECT_ERROR(renderFigure(document_, r, FigureFormat::Png, {}), "--neuron");
        HL_EXPECT_ERROR(findNeuron(*document_, QStringLiteral("L9N1")), "L9N1", "not in this study");
        QCOMPARE(findNeuron(*document_, QStringLiteral("l3n367")), 0);
        HL_EXPECT_ERROR(figureKindFromName(QStringLiteral("pie")), "pie", "heads-contexts");
        r.kind = FigureKind::LayersHeads;
        r.neuron = 0;
        r.context = 99;
        HL_EXPECT_ERROR(renderFigure(document_, r, FigureFormat::Png, {}), "--context", "99");
        r.kind = FigureKind::Ablation;
        r.ablation = 3;
        HL_EXPECT_ERROR(renderFigure(document_, r, FigureFormat::Png, {}), "--ablation");
        HL_EXPECT_ERROR(FigureOptions::forWidth(QStringLiteral("wide")), "--width", "wide");
        QCOMPARE(FigureOptions::forWidth(QStringLiteral("4.5")).widthInches, 4.5);
    }

    // Heat maps carry numbers: every cell describes itself (the hover tooltip), and the labels are thinned.
    void heatMapCellsDescribeThemselves() {
        auto map = makeHeatMap();
        QCOMPARE(map->cellDescription(1, 9), QStringLiteral("context #2 \u00b7 candidate head L1H1: score %1 (%2)")
                                                 .arg(map->value(1, 9), 0, 'f', 4)
                                                 .arg(map->isActive(1, 9) ? QStringLiteral("active") : QStringLiteral("not active")));
        QVERIFY(map->cellDescription(0, 7).endsWith(QStringLiteral("(active)")));
        QVERIFY(map->cellDescription(6, 0).isEmpty());
        map->show();   // a real hover: the tooltip says the same
        QVERIFY(QTest::qWaitForWindowExposed(map.get()));
        map->replot();
        const QPoint at = map->cellCenter(1, 9);
        QHelpEvent help(QEvent::ToolTip, at, map->mapToGlobal(at));
        QApplication::sendEvent(map.get(), &help);
        QTRY_COMPARE(QToolTip::text(), map->cellDescription(1, 9));
    }

    // A dead neuron (top activation about 0) is flagged and its contexts are not stretched over the scale.
    void deadNeuronsAreFlagged() {
        const auto dead = document_->neuronResult(3);
        QVERIFY(isDeadNeuron(*dead));
        QVERIFY(!isDeadNeuron(*document_->neuronResult(0)));
        QCOMPARE(activationRange(*dead), 1.f);
        for (const HighlightedContext& c : neuronContexts(*document_, 3, false))
            for (const TokenPiece& p : c.pieces)
                if (p.kind == TokenPiece::Prompt) QVERIFY(pieceColor(p, c.range).lightness() > 230);
    }

    // Contexts read as text: tokens side by side without gaps, byte tokens of one character merged.
    void contextsReadAsText() {
        const auto contexts = neuronContexts(*document_, 0, false);
        QString all;
        for (const TokenPiece& p : contexts[2].pieces)   // the Japanese / Russian document
            if (p.kind == TokenPiece::Prompt || p.kind == TokenPiece::Before) all += p.text;
        QVERIFY2(!all.contains(QChar(0xFFFD)), qPrintable(all));
        QVERIFY(all.contains(QStringLiteral("\u8a9e")));
        int merged = 0;
        for (const TokenPiece& p : contexts[2].pieces) merged += p.mergedIds.empty() ? 0 : 1;
        QVERIFY(merged > 0);
        // "Saskatoon" and "thought": their tokens touch (no gap) on one line.
        QFont font(QStringLiteral("DejaVu Sans"));
        font.setPointSizeF(9);
        const ContextLayout layout = layoutContext(contexts[0], font, 2000);
        for (std::size_t i = 1; i < layout.boxes.size(); ++i) {
            const TokenBox& a = layout.boxes[i - 1];
            const TokenBox& b = layout.boxes[i];
            const TokenPiece::Kind k = contexts[0].pieces[b.piece].kind;
            if (k != TokenPiece::Prompt || contexts[0].pieces[a.piece].kind != TokenPiece::Prompt) continue;
            QVERIFY2(std::abs(a.rect.right() - b.rect.left()) < 0.01, qPrintable(a.text + QStringLiteral("|") + b.text));
        }
        // In the PDF, the words read whole: pdftotext finds "Saskatoon" and "thought" as words.
        const QString pdfPath = dir_.filePath(QStringLiteral("contexts-text.pdf"));
        exportContexts({contexts[0]}, pdfPath, QStringLiteral("t"));
        QSizeF page;
        QStringList words;
        for (const TextBox& b : pdfTextBoxes(pdfPath, &page)) words << b.text;
        QVERIFY2(words.contains(QStringLiteral("Saskatoon")) && words.contains(QStringLiteral("thought")), qPrintable(words.join(QLatin1Char('|'))));
        // A newline in the text starts a new line.
        const ContextLayout lines = layoutContext(contexts[3], font, 2000);
        QSet<qreal> tops;
        for (const TokenBox& b : lines.boxes) tops.insert(b.rect.top());
        QVERIFY(tops.size() >= 2);
    }

    // The LaTeX export of the tokenizer fixture's hard strings compiles (pdflatex; lualatex if present).
    void latexOfHardStringsCompiles() {
        const QString casesPath = test::fixture(QStringLiteral("tokenizers/cases.jsonl"));
        HL_REQUIRE_FIXTURE(casesPath);
        const Tokenizer tok = Tokenizer::fromFolder(test::fixture(QStringLiteral("tokenizers/gpt2")));
        QFile cases(casesPath);
        QVERIFY(cases.open(QIODevice::ReadOnly));
        std::vector<HighlightedContext> contexts;
        while (!cases.atEnd()) {
            const QJsonObject o = QJsonDocument::fromJson(cases.readLine()).object();
            HighlightedContext c;
            c.header = o.value(QStringLiteral("id")).toString();
            const std::vector<int> ids = tok.encodeIds(o.value(QStringLiteral("text")).toString());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                TokenPiece p;
                p.tokenId = ids[i];
                p.text = tok.tokenText(ids[i]);
                p.value = std::sin(float(i));
                c.pieces.push_back(p);
            }
            mergeSplitCharacters(c.pieces, [&tok](const std::vector<int>& run) { return tok.decode(run); });
            contexts.push_back(c);
        }
        QVERIFY(contexts.size() > 300);
        const QString tex = contextsToLatexDocument(contexts, QStringLiteral("Hard strings: \u201cquotes\u201d \u00b7 \u2026"));
        QVERIFY(tex.contains(QStringLiteral("\u201cquotes\u201d\\ \u00b7\\ \u2026")));   // UTF-8, not "?"
        for (const QString& engine : {QStringLiteral("pdflatex"), QStringLiteral("lualatex"), QStringLiteral("xelatex")}) {
            const QString exe = QStandardPaths::findExecutable(engine);
            if (exe.isEmpty()) {
                QVERIFY2(engine != QLatin1String("pdflatex"), "pdflatex is not installed (scripts/setup.sh installs it)");
                continue;
            }
            QTemporaryDir work;
            QFile doc(work.filePath(QStringLiteral("doc.tex")));
            QVERIFY(doc.open(QIODevice::WriteOnly));
            doc.write(tex.toUtf8());
            doc.close();
            QProcess p;
            p.setWorkingDirectory(work.path());
            p.start(exe, {QStringLiteral("-interaction=nonstopmode"), QStringLiteral("-halt-on-error"), QStringLiteral("doc.tex")});
            QVERIFY(p.waitForFinished(300000));
            if (p.exitCode() != 0) {   // the first TeX error and its context
                const QString log = QString::fromUtf8(p.readAllStandardOutput());
                const qsizetype at = log.indexOf(QStringLiteral("\n!"));
                QFAIL(qPrintable(engine + QStringLiteral(": ") + log.mid(at < 0 ? log.size() - 2000 : at, 1500)));
            }
            QVERIFY(QFileInfo::exists(work.filePath(QStringLiteral("doc.pdf"))));
        }
    }

    void plotPngDecodesAtTheChosenDpi() {
        auto map = makeHeatMap();
        FigureOptions o = FigureOptions::singleColumn();
        o.dpi = 200;
        const QString path = dir_.filePath(QStringLiteral("map.png"));
        exportPlot(*map, path, o);
        QImage image(path);
        QVERIFY(!image.isNull());
        QCOMPARE(image.width(), qRound(3.25 * 200));
        QCOMPARE(image.dotsPerMeterX(), qRound(200 / 0.0254));
        const QByteArray again = renderPlot(*map, FigureFormat::Png, o);
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), again);
        // Double column is wider.
        QImage wide = QImage::fromData(renderPlot(*map, FigureFormat::Png, FigureOptions::doubleColumn()));
        QCOMPARE(wide.width(), qRound(6.75 * 72 * 300 / 72.0));
    }

    void plotSvgParsesAndIsReproducible() {
        auto map = makeHeatMap();
        const QByteArray svg = renderPlot(*map, FigureFormat::Svg, FigureOptions::doubleColumn());
        QSvgRenderer renderer(svg);
        QVERIFY(renderer.isValid());
        QXmlStreamReader xml(svg);
        while (!xml.atEnd()) xml.readNext();
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY(svg.contains("L1H7"));   // axis labels are text
        QCOMPARE(renderPlot(*map, FigureFormat::Svg, FigureOptions::doubleColumn()), svg);
    }

    void plotPdfIsVectorAndReproducible() {
        auto map = makeHeatMap();
        const QByteArray a = renderPlot(*map, FigureFormat::Pdf, FigureOptions::singleColumn());
        QVERIFY(a.startsWith("%PDF"));
        QThread::msleep(1100);   // a second later: creation dates must not leak in
        const QByteArray b = renderPlot(*map, FigureFormat::Pdf, FigureOptions::singleColumn());
        QCOMPARE(a, b);
        const QString path = dir_.filePath(QStringLiteral("map.pdf"));
        exportPlot(*map, path, FigureOptions::singleColumn());
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), a);
        HL_EXPECT_ERROR(exportPlot(*map, dir_.filePath(QStringLiteral("map.bmp")), {}), "unknown figure format");
    }

    void fontSizeIsRestored() {
        auto map = makeHeatMap();
        const QFont before = map->xAxis->tickLabelFont();
        FigureOptions o;
        o.fontPoints = 14;
        renderPlot(*map, FigureFormat::Svg, o);
        QCOMPARE(map->xAxis->tickLabelFont(), before);
    }

    void contextsSvgAndPdf() {
        const auto contexts = sampleContexts();
        const QByteArray svg = contextsToSvg(contexts);
        QVERIFY(QSvgRenderer(svg).isValid());
        QXmlStreamReader xml(svg);
        while (!xml.atEnd()) xml.readNext();
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QVERIFY(svg.contains("&lt;img src=x&gt;"));   // text, escaped by the SVG writer
        QCOMPARE(contextsToSvg(contexts), svg);
        const QByteArray pdf = contextsToPdf(contexts);
        QVERIFY(pdf.startsWith("%PDF"));
        QThread::msleep(1100);
        QCOMPARE(contextsToPdf(contexts), pdf);
    }

    void contextsHtmlIsEscaped() {
        const auto contexts = sampleContexts();
        const QString html = contextsToHtml(contexts, QStringLiteral("L2N7 <script>"));
        QVERIFY(html.contains(QStringLiteral("&lt;img src=x&gt;")));
        QVERIFY(!html.contains(QStringLiteral("<img")));
        QVERIFY(!html.contains(QStringLiteral("<script>")));
        QVERIFY(html.contains(QStringLiteral("&lt;doc &amp; &quot;1&quot;&gt;")));
        QVERIFY(html.contains(QStringLiteral("class=\"tok before\"")));
        QVERIFY(html.contains(QStringLiteral("class=\"pred\"")));
        QVERIFY(!html.contains(QRegularExpression(QStringLiteral("20\\d\\d-\\d\\d-\\d\\d"))));   // no timestamps
        QXmlStreamReader xml(html.mid(html.indexOf(QStringLiteral("<html"))));
        while (!xml.atEnd()) xml.readNext();
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));   // well-formed
        QCOMPARE(contextsToHtml(contexts, QStringLiteral("L2N7 <script>")), html);
    }

    void latexIsEscapedAndCompiles() {
        QCOMPARE(latexEscape(QStringLiteral("$&%#_{}~^\\<>")),
                 QStringLiteral("\\$\\&\\%\\#\\_\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}\\textless{}\\textgreater{}"));
        QCOMPARE(latexEscape(QStringLiteral(" caf\u00e9 \u2603 \u201cq\u201d")),
                 QStringLiteral("\\ caf\u00e9\\ \\hlU{2603}{\u2603}\\ \u201cq\u201d"));
        // Arrows, brackets and the minus sign of the figures' texts are math that pdflatex prints too.
        QCOMPARE(latexEscape(QStringLiteral("L0H1 \u2192 \u27e8BOS\u27e9 \u22120.5")),
                 QStringLiteral("L0H1\\ \\ensuremath{\\rightarrow}\\ \\ensuremath{\\langle}BOS\\ensuremath{\\rangle}\\ \\ensuremath{-}0.5"));
        QCOMPARE(signedNumber(-0.00001, 'f', 4), QStringLiteral("0.0000"));
        QCOMPARE(signedNumber(-0.25, 'f', 2), QStringLiteral("\u22120.25"));
        QCOMPARE(signedNumber(0.25, 'f', 2, true), QStringLiteral("+0.25"));
        const auto contexts = sampleContexts();
        const QString tex = contextsToLatex(contexts);
        QVERIFY(tex.contains(QStringLiteral("\\colorbox[RGB]")));
        QVERIFY(!tex.contains(QStringLiteral("<img")));
        QCOMPARE(contextsToLatex(contexts), tex);
        const QString pdflatex = QStandardPaths::findExecutable(QStringLiteral("pdflatex"));
        if (pdflatex.isEmpty()) QSKIP("pdflatex is not installed: the LaTeX snippet was checked for escaping but not compiled");
        QTemporaryDir work;
        QFile doc(work.filePath(QStringLiteral("doc.tex")));
        QVERIFY(doc.open(QIODevice::WriteOnly));
        doc.write("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n\\usepackage{xcolor}\n"
                  "\\begin{document}\n");
        doc.write(tex.toUtf8());
        doc.write("\\end{document}\n");
        doc.close();
        QProcess p;
        p.setWorkingDirectory(work.path());
        p.start(pdflatex, {QStringLiteral("-interaction=nonstopmode"), QStringLiteral("-halt-on-error"), QStringLiteral("doc.tex")});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardOutput().right(2000).constData());
        QVERIFY(QFileInfo::exists(work.filePath(QStringLiteral("doc.pdf"))));
    }

    void csvRoundTrips() {
        const QList<QStringList> rows = {{QStringLiteral("layer"), QStringLiteral("token"), QStringLiteral("note")},
                                         {QStringLiteral("3"), QStringLiteral("\" only\""), QStringLiteral("a, b")},
                                         {QStringLiteral("4"), QStringLiteral("line\nbreak"), QStringLiteral("caf\u00e9 \u2603")},
                                         {QStringLiteral("5"), QString(), QStringLiteral("cr\r\nlf")}};
        const QByteArray csv = toCsv(rows);
        QVERIFY(csv.contains("\"\"\" only\"\"\""));
        QVERIFY(csv.contains("\"a, b\""));
        QVERIFY(csv.endsWith("\r\n"));
        QCOMPARE(parseCsv(csv), rows);
        QCOMPARE(toCsv(rows), csv);
        QStandardItemModel model(2, 2);
        model.setHorizontalHeaderLabels({QStringLiteral("a"), QStringLiteral("b,c")});
        model.setItem(0, 0, new QStandardItem(QStringLiteral("x\"y")));
        model.setItem(1, 1, new QStandardItem(QStringLiteral("<b>")));
        const QString path = dir_.filePath(QStringLiteral("t.csv"));
        exportModelCsv(model, path);
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QStringList> back = parseCsv(f.readAll());
        QCOMPARE(back.size(), 3);
        QCOMPARE(back[0][1], QStringLiteral("b,c"));
        QCOMPARE(back[1][0], QStringLiteral("x\"y"));
        QCOMPARE(back[2][1], QStringLiteral("<b>"));
        HL_EXPECT_ERROR(parseCsv("a,\"open"), "unterminated");
    }

    void divergingScaleIsSymmetric() {
        const QColor zero = divergingColor(0);
        QVERIFY(zero.red() > 240 && zero.green() > 240 && zero.blue() > 240);
        QVERIFY(divergingColor(1).red() > divergingColor(1).blue());
        QVERIFY(divergingColor(-1).blue() > divergingColor(-1).red());
        QCOMPARE(divergingColor(5), divergingColor(1));
        QCOMPARE(normalizedValue(-2, 4), -0.5);
    }
};

QTEST_MAIN(TestGuiExport)
#include "test_gui_export.moc"
