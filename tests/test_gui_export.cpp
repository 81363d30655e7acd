// Exports for papers, as plain functions without a window: plots to PNG (decodes, DPI), SVG (parses),
// PDF (%PDF); highlighted contexts to SVG, PDF, HTML (escaped) and LaTeX (escaped; compiled where
// pdflatex exists); tables to CSV (RFC 4180, round trip). Every export is byte-identical twice.
#include <QImage>
#include <QProcess>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QThread>
#include <QXmlStreamReader>
#include <QtTest>

#include "core/base/error.h"
#include "test_util.h"
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

}  // namespace

class TestGuiExport : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private Q_SLOTS:
    void plotPngDecodesAtTheChosenDpi() {
        auto map = makeHeatMap();
        FigureOptions o = FigureOptions::singleColumn();
        o.dpi = 200;
        const QString path = dir_.filePath(QStringLiteral("map.png"));
        exportPlot(*map, path, o);
        QImage image(path);
        QVERIFY(!image.isNull());
        QCOMPARE(image.width(), qRound(3.25 * 72) * 200 / 72);
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
        QCOMPARE(latexEscape(QStringLiteral(" caf\u00e9 \u2603")), QStringLiteral("\\ caf\u00e9\\ ?"));
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
