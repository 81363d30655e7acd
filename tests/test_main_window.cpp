// The main window, driven through its real widgets offscreen: menus and About; opening a bundle fills
// the neuron table and the neuron view; filters and sorting; a click on a heat-map cell selects that
// context and head everywhere; corrupt and foreign files give an error dialog and keep the current
// study; markup in corpus text is shown literally; dropped contexts toggle; overview "no data"
// states; the Run dialog's defaults and a real pipeline run on stories260k (worker thread, progress,
// the result opens); the playground on the same model.
#include <QCheckBox>
#include <QApplication>
#include <QDialog>
#include <QAbstractButton>
#include <QTimer>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextDocument>
#include <algorithm>

#include <QtTest>

#include <cmath>

#include "core/analysis/statistics.h"
#include "core/base/versions.h"
#include "core/explain/scorer.h"
#include "core/model/tokenizer.h"
#include "core/study/bundle.h"
#include "core/study/pipeline.h"
#include "tests/old_study.h"
#include "test_util.h"
#include "ui/app_settings.h"
#include "ui/appearance.h"
#include "ui/color_scale.h"
#include "ui/context_list.h"
#include "ui/download_dialog.h"
#include "ui/export/figure.h"
#include "ui/head_heatmap.h"
#include "ui/ablation_dialog.h"
#include "ui/bundle_job.h"
#include "ui/head_view.h"
#include "ui/lookup_view.h"
#include "ui/main_window.h"
#include "ui/neuron_table_model.h"
#include "ui/neuron_table_panel.h"
#include "ui/neuron_facts_view.h"
#include "ui/neuron_view.h"
#include "ui/overview_view.h"
#include "ui/playground_view.h"
#include "ui/qcp.h"
#include "ui/run_dialog.h"
#include "ui/validate_dialog.h"
#include "ui/study_completion.h"
#include "ui/study_document.h"
#include "ui/study_runner.h"
#include "tests/hub_test_server.h"
#include "tests/llm_test_server.h"

using namespace headlight;

namespace {

const char* kMarkup = "<img src=x onerror=alert(1)> <a href=\"http://e.org\">link</a> <b>bold</b> & more";

// A small synthetic study with real token ids of the stories260k tokenizer (so token text displays).
Study syntheticStudy(bool withAblation) {
    const QString modelDir = test::fixture(QStringLiteral("stories260k"));
    const Tokenizer tok = Tokenizer::fromFolder(modelDir);
    Study s;
    s.nLayers = 5;
    s.nHeads = 8;
    s.dMlp = 172;
    s.provenance.modelId = modelDir.toStdString();
    s.provenance.processing = "fold_ln,center_unembed";
    s.parameters.layers = {3, 4};
    const QStringList docs = {
        QStringLiteral("Once upon a time there was a little cat. The cat liked to play in the sun."),
        QString::fromUtf8(kMarkup) + QStringLiteral(" The dog ran to the park."),
        QStringLiteral("Lily saw a big tree. She wanted to climb the tree with her friend."),
        QStringLiteral("Tom had a red ball. He threw the ball to the dog and the dog ran."),
        QStringLiteral("The sun was hot. The kids went to the lake to swim and play."),
        QStringLiteral("Mom made a cake. It was sweet and everyone ate the cake."),
    };
    struct Spec { int layer, neuron; const char* token; float congruence; bool baseline; };
    const Spec specs[] = {{3, 10, " the", 2.5f, false}, {4, 20, " cat", 3.5f, false}, {4, 5, " play", 0.7f, true}};
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
        std::vector<int> activeCount(heads, 0);
        for (int d = 0; d < docs.size(); ++d) {
            NeuronContext c;
            c.doc = d;
            c.docSource = "synthetic.jsonl";
            c.docLine = d;
            c.tokens = tok.encodeIds(docs[d]);
            c.position = static_cast<int>(c.tokens.size());
            c.start = std::max(1, c.position - 8 - d);
            c.text = tok.decode(std::vector<int>(c.tokens.begin() + (c.start - 1), c.tokens.end())).toStdString();
            for (int t = 0; t < c.position; ++t) c.tokenActivations.push_back(std::sin(0.7f * t + seed) * (1.0f + t * 0.05f));
            c.tokenActivations.back() = 3.0f - 0.3f * d;
            c.activation = c.tokenActivations.back();
            c.truncatedActivation = c.activation * 0.9f;
            c.headScores.assign(heads, std::nanf(""));
            c.active.assign(heads, 0);
            for (int h : r.candidateHeads) c.headScores[h] = std::sin(1.3f * h + 0.9f * d + seed) * (h % 3 == 0 ? 2.f : 0.5f);
            const int a1 = r.candidateHeads[(d * 5 + seed) % r.candidateHeads.size()];
            const int a2 = r.candidateHeads[(seed * 3) % r.candidateHeads.size()];
            c.headScores[a1] = 4.f;
            c.active[a1] = 1;
            if (d % 2 == 0) {
                c.headScores[a2] = 3.5f;
                c.active[a2] = 1;
            }
            c.kept = d < 5;
            if (c.kept)
                for (int h = 0; h < heads; ++h) activeCount[h] += c.active[h];
            r.contexts.push_back(std::move(c));
        }
        for (int h = 0; h < heads; ++h) {
            r.activeFraction[h] = activeCount[h] / 5.f;
            if (r.activeFraction[h] >= 0.25f && r.activeFraction[h] <= 0.75f) r.relevantHeads.push_back(h);
        }
        s.neurons.push_back(std::move(r));
        ++seed;
    }
    if (withAblation) {
        // Steps 4-5 for each relevant head of L4N20 and of the baseline neuron: an LLM explanation with its
        // score and test contexts, and the offline baseline's.
        for (const NeuronResult& r : s.neurons) {
            if (r.neuron.ref.layer != 4) continue;
            for (int h : r.relevantHeads) {
                HeadExplanation e;
                e.neuron = r.neuron.ref;
                e.baseline = r.neuron.baseline;
                e.head = h;
                e.source = "llm";
                e.model = "test-explainer";
                e.explanation = "Active when the text mentions <b>animals</b> & pets.";
                ExplanationTest t1{0, 0, "The cat sat", 2.0f, true, true, "Yes", "", std::nullopt};
                ExplanationTest t2{1, 1, "A <i>car</i> drove", 1.0f, false, true, "Yes", "", std::nullopt};
                ExplanationTest t3{2, 2, "The dog ran", 1.5f, true, std::nullopt, "Maybe", "", std::nullopt};
                e.tests = {t1, t2, t3};
                e.tp = 1;
                e.fp = 1;
                e.invalid = 1;
                e.score = r.neuron.baseline ? 0.4 : 0.5 + 0.05 * (h % 5);
                s.explanations.push_back(e);
                HeadExplanation b = e;
                b.source = "baseline";
                b.model = "ngram-log-odds";
                b.explanation = "n-grams: cat, dog";
                b.score = 0.55;
                s.explanations.push_back(b);
            }
        }
        AblationResult a;
        a.neuron = {4, 20};
        a.head = 3;
        a.dropActive = {0.30f, 0.25f, 0.41f, 0.18f, 0.33f};
        a.dropInactive = {0.02f, -0.01f, 0.05f, 0.0f, 0.03f, 0.04f};
        a.ksStatistic = 1.0;
        a.ksPValue = 0.0022;
        s.ablations.push_back(a);
    }
    return s;
}

// syntheticStudy(true) with planted look-ups for neuron L4N20 (index 1): head L0H2 (2) in context 0
// (prompt token 2 carries score - 0.5, token 0 carries 0.5), and head L0H6 (6, relevant: active in
// kept contexts 0, 2, 4) in those contexts, prompt token 1 carrying 1.0 + 0.1 * context and BOS 0.25.
Study lookupStudy() {
    Study s = syntheticStudy(true);
    for (int k : {0, 2, 4}) {
        NeuronContext& c = s.neurons[1].contexts[std::size_t(k)];
        const std::size_t length = std::size_t(c.position - c.start + 2);  // BOS + the kept prompt
        auto planted = [length](int head, std::vector<std::pair<std::size_t, float>> values) {
            HeadLookup look;
            look.head = head;
            look.attention.assign(length, 0.f);
            look.contributions.assign(length, 0.f);
            for (const auto& [j, v] : values) {
                look.contributions[j] = v;
                look.attention[j] = 0.1f * float(j);
                look.score += v;
            }
            return look;
        };
        c.lookups.clear();
        if (k == 0) c.lookups.push_back(planted(2, {{3, c.headScores[2] - 0.5f}, {1, 0.5f}}));
        c.lookups.push_back(planted(6, {{2, 1.0f + 0.1f * float(k)}, {0, 0.25f}}));
    }
    return s;
}

QMessageBox* waitForErrorBox(QWidget* parent) {
    QMessageBox* box = nullptr;
    for (int i = 0; i < 100 && !box; ++i) {
        box = parent->findChild<QMessageBox*>(QStringLiteral("errorBox"));
        if (!box) QTest::qWait(20);
    }
    return box;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString bundle_, plainBundle_;

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("HeadlightTest"));
        QCoreApplication::setApplicationName(QStringLiteral("test_main_window"));
        QSettings().clear();
        HL_REQUIRE_FIXTURE(test::fixture(QStringLiteral("stories260k/tokenizer.json")));
        QVERIFY(dir_.isValid());
        // A fresh LLM response cache per run: replies cached by an earlier run must not stand in for requests.
        qputenv("XDG_CACHE_HOME", dir_.filePath(QStringLiteral("cache")).toUtf8());
        bundle_ = dir_.filePath(QStringLiteral("synthetic.headlight"));
        plainBundle_ = dir_.filePath(QStringLiteral("plain.headlight"));
        saveBundle(syntheticStudy(true), bundle_);
        saveBundle(syntheticStudy(false), plainBundle_);
    }

    void menusExist() {
        ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QStringList titles;
        for (QAction* a : w.menuBar()->actions()) titles << a->text().remove(QLatin1Char('&'));
        QCOMPARE(titles, (QStringList{QStringLiteral("File"), QStringLiteral("Validate"), QStringLiteral("View"), QStringLiteral("Help")}));
    }

    void aboutShowsVersions() {
        const QString text = ui::MainWindow::aboutText();
        QVERIFY(text.contains(QString::fromLatin1(qVersion())));
        QVERIFY(text.contains(QString::fromStdString(libtorchVersion())));
        QVERIFY(text.contains(QStringLiteral("GPL-3.0-or-later")));

        ui::MainWindow w;
        w.show();
        QAction* about = w.findChild<QAction*>(QStringLiteral("actionAbout"));
        QVERIFY(about);
        about->trigger();
        auto* box = w.findChild<QMessageBox*>(QStringLiteral("aboutBox"));
        QVERIFY(box);
        QTRY_VERIFY(box->isVisible());
        QVERIFY(box->text().contains(QString::fromLatin1(qVersion())));
        box->accept();
    }

    void openBundleFillsTableAndView() {
        ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.openBundle(bundle_));
        QVERIFY(w.document());
        QVERIFY(w.document()->hasTokenizer());
        QTableView* table = w.neuronPanel()->table();
        QCOMPARE(table->model()->rowCount(), 3);
        // Columns: layer, neuron, token, congruence, top activation, contexts kept, relevant heads, best E, kind.
        const QAbstractItemModel* m = table->model();
        QCOMPARE(m->data(m->index(1, ui::NeuronTableModel::Layer)).toInt(), 4);
        QCOMPARE(m->data(m->index(1, ui::NeuronTableModel::Neuron)).toInt(), 20);
        QCOMPARE(m->data(m->index(1, ui::NeuronTableModel::Token)).toString(), QStringLiteral("\" cat\""));
        QCOMPARE(m->data(m->index(1, ui::NeuronTableModel::Kept)).toInt(), 5);
        QCOMPARE(m->data(m->index(1, ui::NeuronTableModel::TopActivation)).toString(), QStringLiteral("3.000"));
        QCOMPARE(m->data(m->index(2, ui::NeuronTableModel::Kind)).toString(), QStringLiteral("baseline"));
        QCOMPARE(m->data(m->index(0, ui::NeuronTableModel::BestScore)).toString(), QStringLiteral("—"));  // L3N10: no explanations
        // A neuron is selected at open and the view shows its kept contexts.
        QVERIFY(w.selection()->neuron() >= 0);
        table->setCurrentIndex(m->index(1, 0));
        QCOMPARE(w.selection()->neuron(), 1);
        QCOMPARE(w.neuronView()->contextList()->model()->rowCount(), 5);
        QCOMPARE(w.neuronView()->contextHeadMap()->rows(), 5);
        QCOMPARE(w.neuronView()->contextHeadMap()->columns(), 32);   // layers 0-3 x 8 heads
        QVERIFY(w.neuronView()->relevantHeadsTable()->model()->rowCount() > 0);
        // Keyboard: Down in the table moves to the next neuron.
        table->setFocus();
        QTest::keyClick(table, Qt::Key_Down);
        QCOMPARE(w.selection()->neuron(), 2);
    }

    void filtersAndSorting() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        ui::NeuronTablePanel* p = w.neuronPanel();
        p->searchField()->setText(QStringLiteral("cat"));
        QTRY_COMPARE(p->proxy()->rowCount(), 1);
        p->searchField()->setText(QStringLiteral("L3N10"));
        QTRY_COMPARE(p->proxy()->rowCount(), 1);
        p->searchField()->clear();
        QTRY_COMPARE(p->proxy()->rowCount(), 3);
        p->layerBox()->setCurrentIndex(p->layerBox()->findData(4));
        QCOMPARE(p->proxy()->rowCount(), 2);
        p->kindBox()->setCurrentIndex(2);  // baseline only
        QCOMPARE(p->proxy()->rowCount(), 1);
        QCOMPARE(p->proxy()->data(p->proxy()->index(0, ui::NeuronTableModel::Neuron)).toInt(), 5);
        p->kindBox()->setCurrentIndex(1);  // real only
        QCOMPARE(p->proxy()->rowCount(), 1);
        p->kindBox()->setCurrentIndex(0);
        p->layerBox()->setCurrentIndex(0);
        p->table()->sortByColumn(ui::NeuronTableModel::Congruence, Qt::DescendingOrder);
        QCOMPARE(p->proxy()->data(p->proxy()->index(0, ui::NeuronTableModel::Neuron)).toInt(), 20);
        QCOMPARE(p->proxy()->data(p->proxy()->index(2, ui::NeuronTableModel::Neuron)).toInt(), 5);
    }

    void heatMapClickSelectsContextAndHeadEverywhere() {
        ui::MainWindow w;
        w.resize(1400, 900);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.openBundle(bundle_));
        w.neuronPanel()->selectNeuron(1);
        QCOMPARE(w.selection()->neuron(), 1);
        ui::HeadHeatMap* map = w.neuronView()->contextHeadMap();
        map->replot();
        QApplication::processEvents();
        const int row = 2, column = 11;
        const QPoint pixel = map->cellCenter(row, column);
        int r = -1, c = -1;
        QVERIFY(map->cellAt(pixel, &r, &c));
        QCOMPARE(r, row);
        QCOMPARE(c, column);
        QTest::mouseClick(map, Qt::LeftButton, Qt::NoModifier, pixel);
        const int context = w.neuronView()->contextList()->contextModel()->contextOfRow(row);
        const int head = w.neuronView()->columnHeads()[column];
        QCOMPARE(w.selection()->context(), context);
        QCOMPARE(w.selection()->head(), head);
        // The context list follows.
        QCOMPARE(w.neuronView()->contextList()->currentIndex().row(), row);
        // The layer x head map shows that context, with the head outlined at (layer, head).
        ui::HeadHeatMap* layers = w.neuronView()->layerHeadMap();
        QCOMPARE(layers->rows(), 5);
        QCOMPARE(layers->columns(), 8);
        const NeuronResult* n = w.neuronView()->neuron();
        QCOMPARE(layers->value(head / 8, head % 8), n->contexts[context].headScores[head]);
        QCOMPARE(map->value(row, column), n->contexts[context].headScores[head]);
        // Clicking in the layer map changes the head everywhere.
        QTest::mouseClick(layers, Qt::LeftButton, Qt::NoModifier, layers->cellCenter(1, 2));
        QCOMPARE(w.selection()->head(), 1 * 8 + 2);
        QCOMPARE(w.selection()->context(), context);
        // Keyboard on the heat map: Right moves one head.
        map->setFocus();
        QTest::keyClick(map, Qt::Key_Right);
        QCOMPARE(w.selection()->head(), w.neuronView()->columnHeads()[1 * 8 + 2 + 1]);
        // A relevant head chosen in the table selects the head too.
        QTableView* relevant = w.neuronView()->relevantHeadsTable();
        QVERIFY(relevant->model()->rowCount() > 0);
        relevant->setCurrentIndex(relevant->model()->index(0, 0));
        QCOMPARE(w.selection()->head(), n->relevantHeads.front());
    }

    void corruptOrForeignFileKeepsCurrentStudy() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        const auto before = w.document();
        const int neuronBefore = w.selection()->neuron();

        QFile good(bundle_);
        QVERIFY(good.open(QIODevice::ReadOnly));
        const QByteArray bytes = good.readAll();
        const QString truncated = dir_.filePath(QStringLiteral("truncated.headlight"));
        const QString garbage = dir_.filePath(QStringLiteral("garbage.headlight"));
        const QString foreign = dir_.filePath(QStringLiteral("foreign.headlight"));
        const QString flipped = dir_.filePath(QStringLiteral("flipped.headlight"));
        auto write = [](const QString& path, const QByteArray& b) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(b);
        };
        write(truncated, bytes.left(bytes.size() / 2));
        write(garbage, QByteArray("this is not a bundle at all <b>bold</b>"));
        QFile model(test::fixture(QStringLiteral("stories260k/model.safetensors")));
        QVERIFY(model.open(QIODevice::ReadOnly));
        write(foreign, model.readAll());   // a valid safetensors file, but not a study
        QByteArray changed = bytes;
        int at = changed.indexOf("schema_version");
        QVERIFY(at > 0);
        while (at < changed.size() && !(changed[at] >= '0' && changed[at] <= '9')) ++at;
        QCOMPARE(changed[at], '1');
        changed[at] = '9';   // a newer schema than this build understands
        write(flipped, changed);

        for (const QString& bad : {truncated, garbage, foreign, flipped, dir_.filePath(QStringLiteral("missing.headlight"))}) {
            QVERIFY2(!w.openBundle(bad), qPrintable(bad));
            QMessageBox* box = waitForErrorBox(&w);
            QVERIFY2(box, "no error dialog");
            QTRY_VERIFY(box->isVisible());
            QVERIFY(box->text().contains(QFileInfo(bad).fileName()));
            QCOMPARE(box->textFormat(), Qt::PlainText);
            box->close();
            delete box;
            QCOMPARE(w.document(), before);
            QCOMPARE(w.selection()->neuron(), neuronBefore);
            QCOMPARE(w.neuronPanel()->table()->model()->rowCount(), 3);
        }
    }

    void neuronTooltipShowsTokenTextLiterally() {
        // The neuron table's tooltip used to render token text as HTML (images, links).
        Study s = syntheticStudy(false);
        s.neurons[0].neuron.token = kMarkup;
        const QString path = dir_.filePath(QStringLiteral("markup-token.headlight"));
        saveBundle(s, path);
        ui::NeuronTableModel model;
        model.setDocument(ui::StudyDocument::open(path));
        const QString tip = model.data(model.index(0, ui::NeuronTableModel::Token), Qt::ToolTipRole).toString();
        QVERIFY2(tip.contains(QStringLiteral("&lt;img")) && tip.contains(QStringLiteral("&lt;a")) && !tip.contains(QStringLiteral("<img")) &&
                     !tip.contains(QStringLiteral("<a")),
                 qPrintable(tip));
    }

    void markupInContextsIsShownLiterally() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        w.neuronPanel()->selectNeuron(0);
        ui::ContextListModel* m = w.neuronView()->contextList()->contextModel();
        // Context 1's document holds the markup before its prompt; show it all.
        const int row = m->rowOfContext(1);
        QVERIFY(row >= 0);
        const ui::HighlightedContext& h = m->highlighted(row);
        QString painted;
        for (const ui::TokenPiece& p : h.pieces) painted += p.text;
        QVERIFY2(painted.contains(QStringLiteral("<b>bold</b>")), qPrintable(painted));
        // The view shows at most 48 tokens before the prompt; built in full, the whole markup is there.
        const ui::HighlightedContext full = ui::makeHighlightedContext(*m->neuron(), 1, *w.document(), 1.f, 100000);
        painted.clear();
        for (const ui::TokenPiece& p : full.pieces) painted += p.text;
        QVERIFY2(painted.contains(QStringLiteral("<img src=x onerror=alert(1)>")), qPrintable(painted));
        QVERIFY(painted.contains(QStringLiteral("<a href=\"http://e.org\">link</a>")));
        QVERIFY(painted.contains(QStringLiteral("<b>bold</b>")));
        // The tooltip is escaped rich text.
        for (const ui::TokenPiece& p : h.pieces)
            if (p.text.contains(QLatin1Char('<'))) {
                QVERIFY(ui::pieceToolTip(p).contains(QStringLiteral("&lt;")));
                QVERIFY(!ui::pieceToolTip(p).contains(QStringLiteral("<img")));
            }
        // Painting draws the characters: render the list and check it is not blank.
        QImage image(w.neuronView()->contextList()->viewport()->size(), QImage::Format_ARGB32);
        image.fill(Qt::white);
        w.neuronView()->contextList()->viewport()->render(&image);
        QVERIFY(image.pixelColor(5, 5).isValid());
        // The predicted token follows the prompt.
        QCOMPARE(h.pieces.back().kind, ui::TokenPiece::Predicted);
        QCOMPARE(h.pieces.back().text, QStringLiteral(" the"));
        // Before-start pieces come before the prompt pieces.
        bool seenPrompt = false;
        for (const ui::TokenPiece& p : h.pieces) {
            if (p.kind == ui::TokenPiece::Prompt) seenPrompt = true;
            if (p.kind == ui::TokenPiece::Before) QVERIFY(!seenPrompt);
        }
        // HTML export escapes the markup.
        const QString html = dir_.filePath(QStringLiteral("contexts.html"));
        w.neuronView()->showDroppedBox()->setChecked(true);
        QVERIFY(w.exportContexts(html));
        QFile f(html);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(f.readAll());
        QString stripped = text;   // the text content, without Headlight's own span tags
        stripped.remove(QRegularExpression(QStringLiteral("<[^>]*>")));
        QVERIFY2(stripped.contains(QStringLiteral("&lt;b&gt;bold&lt;/b&gt;")), qPrintable(stripped));
        QVERIFY(stripped.contains(QStringLiteral("&lt;a href=&quot;http://e.org&quot;&gt;")));
        QVERIFY(!text.contains(QStringLiteral("<b>bold")));
        QVERIFY(!text.contains(QStringLiteral("<img")));
        QVERIFY(!text.contains(QStringLiteral("<a href")));
    }

    void explanationPanelShowsScoresAndTests() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        w.neuronPanel()->selectNeuron(1);   // L4N20
        const NeuronResult* n = w.neuronView()->neuron();
        QVERIFY(!n->relevantHeads.empty());
        const int head = n->relevantHeads.front();
        const double e = 0.5 + 0.05 * (head % 5);
        // Table: best E of the neuron; relevant heads: E and the baseline's E side by side.
        const QAbstractItemModel* m = w.neuronPanel()->table()->model();
        QVERIFY(!m->data(m->index(1, ui::NeuronTableModel::BestScore)).toString().startsWith(QStringLiteral("—")));
        QTableView* relevant = w.neuronView()->relevantHeadsTable();
        QCOMPARE(relevant->model()->data(relevant->model()->index(0, 2)).toString(), QString::number(e, 'f', 3));
        QCOMPARE(relevant->model()->data(relevant->model()->index(0, 3)).toString(), QStringLiteral("0.550"));
        relevant->setCurrentIndex(relevant->model()->index(0, 0));
        auto* details = w.neuronView()->findChild<QPlainTextEdit*>(QStringLiteral("headDetails"));
        QVERIFY(details);
        const QString text = details->toPlainText();
        QVERIFY2(text.contains(QStringLiteral("<b>animals</b> & pets")), qPrintable(text));   // literally
        QVERIFY(text.contains(QStringLiteral("E = %1").arg(e, 0, 'f', 3)));
        QVERIFY(text.contains(QStringLiteral("invalid replies: 1")));
        QVERIFY(text.contains(QStringLiteral("inactive / active")));   // the car: true inactive, predicted active
        QVERIFY(text.contains(QStringLiteral("A <i>car</i> drove")));
        QVERIFY(text.contains(QStringLiteral("Offline baseline explanation (ngram-log-odds)")));
    }

    void droppedContextsToggle() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        w.neuronPanel()->selectNeuron(1);
        QCOMPARE(w.neuronView()->contextList()->model()->rowCount(), 5);
        w.neuronView()->showDroppedBox()->setChecked(true);
        QCOMPARE(w.neuronView()->contextList()->model()->rowCount(), 6);
        QCOMPARE(w.neuronView()->contextHeadMap()->rows(), 6);
        QVERIFY(!w.neuronView()->contextList()->model()->index(5, 0).data(ui::ContextListModel::KeptRole).toBool());
        w.neuronView()->showDroppedBox()->setChecked(false);
        QCOMPARE(w.neuronView()->contextHeadMap()->rows(), 5);
    }

    void overviewShowsDataOrSaysNone() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        ui::OverviewView* o = w.overviewView();
        QVERIFY(!o->scorePlot()->property("noData").isValid());
        QCOMPARE(o->scorePlot()->plottableCount(), 2);   // next-token neurons and the random baseline
        QVERIFY(o->scoreStats()->text().contains(QStringLiteral("mean")));
        QVERIFY(!o->ablationPlot()->property("noData").isValid());
        QVERIFY(o->ablationStats()->text().contains(QStringLiteral("KS D = 1.000")));
        QCOMPARE(o->ablationPlot()->plottableCount(), 2);
        QVERIFY(o->congruencePlot()->plottableCount() >= 1);
        QVERIFY(w.openBundle(plainBundle_));
        QVERIFY(o->ablationPlot()->property("noData").toString().contains(QStringLiteral("No ablation")));
        QVERIFY(o->scorePlot()->property("noData").toString().contains(QStringLiteral("No explanation")));
    }

    // Issue 13: what a head reads. With a context and a head selected, the details pane lists the head's
    // look-up: its top source tokens by contribution, with their attention, adding up to its score.
    void detailsShowTheLookup() {
        Study s = syntheticStudy(true);
        NeuronContext& c = s.neurons[1].contexts[0];  // L4N20, context #1: head 2 (L0H2) is active
        QVERIFY(c.active[2]);
        const std::size_t length = std::size_t(c.position - c.start + 2);  // BOS + the kept prompt
        HeadLookup look;
        look.head = 2;
        look.score = c.headScores[2];
        look.attention.assign(length, 0.f);
        look.contributions.assign(length, 0.f);
        look.attention[3] = 0.7f;
        look.contributions[3] = look.score - 0.5f;   // prompt token 2 carries most of the score
        look.attention[1] = 0.2f;
        look.contributions[1] = 0.5f;
        c.lookups = {look};
        const QString path = dir_.filePath(QStringLiteral("lookups.headlight"));
        saveBundle(s, path);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        w.neuronPanel()->selectNeuron(1);
        w.selection()->setContextAndHead(0, 2);
        auto* details = w.neuronView()->findChild<QPlainTextEdit*>(QStringLiteral("headDetails"));
        QVERIFY(details);
        QString text = details->toPlainText();
        QVERIFY2(text.contains(QStringLiteral("Look-up of L0H2 in context #1: score %1").arg(look.score, 0, 'f', 4)), qPrintable(text));
        const Tokenizer tok = Tokenizer::fromFolder(test::fixture(QStringLiteral("stories260k")));
        const QString top = tok.decode(std::vector<int>{c.tokens[std::size_t(c.start - 1 + 2)]});
        const int first = text.indexOf(QStringLiteral("    3: \"") + top + QLatin1Char('"'));
        const int second = text.indexOf(QStringLiteral("    1: \""));
        QVERIFY2(first > 0 && second > first, qPrintable(text));  // ranked by contribution
        QVERIFY(text.contains(QStringLiteral("0.700")));
        // Another head of the same context: not active there, so no look-up.
        w.selection()->setContextAndHead(0, 5);
        QVERIFY2(details->toPlainText().contains(QStringLiteral("L0H5 is not active in context #1")), qPrintable(details->toPlainText()));
        // A bundle without look-ups says so.
        QVERIFY(w.openBundle(bundle_));
        w.neuronPanel()->selectNeuron(1);
        w.selection()->setContextAndHead(0, 2);
        QVERIFY2(details->toPlainText().contains(QStringLiteral("Look-up: not stored")), qPrintable(details->toPlainText()));
    }

    // Issue 13, item 3: clicking a head of the layers x heads map (context selected) colours the
    // context's tokens by that head's contributions, lists the top sources, switches to attention,
    // shows numbers on hover as plain text, and moves across heads and contexts with the keyboard.
    void lookupViewShowsContributions() {
        const Study s = lookupStudy();
        const QString path = dir_.filePath(QStringLiteral("lookup-view.headlight"));
        saveBundle(s, path);
        ui::MainWindow w;
        w.resize(1400, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.openBundle(path));
        w.neuronPanel()->selectNeuron(1);
        w.selection()->setContext(0);
        ui::HeadHeatMap* map = w.neuronView()->layerHeadMap();
        QTest::mouseClick(map, Qt::LeftButton, {}, map->cellCenter(0, 2));   // L0H2
        QCOMPARE(w.selection()->head(), 2);
        ui::LookupView* v = w.neuronView()->lookupView();
        QVERIFY(v->row().has_value());
        const HeadLookup& want = s.neurons[1].contexts[0].lookups[0];
        QCOMPARE(v->row()->contributions, want.contributions);
        QVERIFY2(v->titleLabel()->text().contains(QStringLiteral("L0H2 reads in context #1 of L4N20: score %1").arg(want.score, 0, 'f', 4)),
                 qPrintable(v->titleLabel()->text()));
        // The strip: piece 3 (prompt token 2) carries the largest contribution, so the end of the scale.
        const ui::HighlightedContext& h = v->strip()->context();
        QCOMPARE(h.pieces[3].value, want.contributions[3]);
        QCOMPARE(h.range, std::abs(want.contributions[3]));
        QCOMPARE(ui::pieceColor(h.pieces[3], h.range), ui::divergingColor(1.0));
        QCOMPARE(ui::pieceColor(h.pieces[2], h.range), ui::divergingColor(0.0));
        QCOMPARE(ui::pieceColor(h.pieces[1], h.range), ui::divergingColor(0.5 / want.contributions[3]));
        QTableWidget* top = v->sourcesTable();
        QCOMPARE(top->item(0, 0)->text(), QStringLiteral("3"));
        QCOMPARE(top->item(0, 2)->text(), QString::number(want.contributions[3], 'f', 4));
        QCOMPARE(top->item(1, 0)->text(), QStringLiteral("1"));
        QCOMPARE(top->item(1, 2)->text(), QStringLiteral("0.5000"));
        // Hover: one position's numbers; the title holds the whole row (plain text).
        const QString tip = v->strip()->toolTipAt(v->strip()->positionCenter(1));
        QVERIFY2(tip.startsWith(QStringLiteral("1: \"")) && tip.contains(QStringLiteral("contribution 0.5000")) &&
                     tip.contains(QStringLiteral("attention 0.100")), qPrintable(tip));
        QTextDocument tooltip;   // the title's tooltip: the whole row, every position, as escaped plain text
        tooltip.setHtml(v->titleLabel()->toolTip());
        const QString whole = tooltip.toPlainText().replace(QChar::Nbsp, QLatin1Char(' '));
        QVERIFY2(whole.contains(QStringLiteral("0: BOS  contribution 0.0000")) &&
                     whole.contains(QStringLiteral("3: \"%1\"  contribution %2").arg(v->row()->tokens[3]).arg(want.contributions[3], 0, 'f', 4)),
                 qPrintable(whole));
        QCOMPARE(whole.count(QLatin1Char('\n')), int(want.contributions.size()));   // a title line, then one per position
        // Attention: position 3 has 0.3, the most.
        v->setMode(ui::LookupMode::Attention);
        QCOMPARE(v->strip()->context().pieces[3].value, 0.3f);
        QCOMPARE(top->item(0, 0)->text(), QStringLiteral("3"));
        QCOMPARE(top->item(0, 3)->text(), QStringLiteral("0.300"));
        v->setMode(ui::LookupMode::Contribution);
        // The relevant-heads table: L0H6 (active in 3 of 5 kept contexts).
        QTableView* relevant = w.neuronView()->relevantHeadsTable();
        for (int r = 0; r < relevant->model()->rowCount(); ++r)
            if (relevant->model()->index(r, 0).data().toString() == QStringLiteral("L0H6")) relevant->setCurrentIndex(relevant->model()->index(r, 0));
        QCOMPARE(w.selection()->head(), 6);
        QCOMPARE(v->row()->contributions[2], 1.0f);
        // Keyboard: Down moves to the next kept context (1: L0H6 not active there, no look-up stored),
        // Down again to 2 (stored: 1.2), Left to the previous candidate head (5).
        v->setFocus();
        QTest::keyClick(v, Qt::Key_Down);
        QCOMPARE(w.selection()->context(), 1);
        QVERIFY(!v->row());
        QVERIFY2(v->messageLabel()->text().contains(QStringLiteral("No look-up stored for L0H6 in context #2")), qPrintable(v->messageLabel()->text()));
        QVERIFY(v->computeButton()->isVisibleTo(v));   // the fixture model is there
        QTest::keyClick(v, Qt::Key_Down);
        QCOMPARE(w.selection()->context(), 2);
        QCOMPARE(v->row()->contributions[2], 1.2f);
        QTest::keyClick(v, Qt::Key_Left);
        QCOMPARE(w.selection()->head(), 5);
        QTest::keyClick(v, Qt::Key_BracketRight);
        QCOMPARE(w.selection()->head(), 6);
        QTest::keyClick(v, Qt::Key_Up);
        QTest::keyClick(v, Qt::Key_Up);
        QCOMPARE(w.selection()->context(), 0);
    }

    // Not stored: computed on the worker pool with the study's model (stories260k), for every kept
    // context at once; the contributions add up to the computed score.
    void lookupViewComputesMissing() {
        const QString path = dir_.filePath(QStringLiteral("lookup-compute.headlight"));
        saveBundle(lookupStudy(), path);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        w.neuronPanel()->selectNeuron(1);
        w.selection()->setContextAndHead(1, 9);   // L1H1: not active anywhere, nothing stored
        ui::LookupView* v = w.neuronView()->lookupView();
        QVERIFY(!v->row());
        QVERIFY(v->computeButton()->isEnabled());
        QSignalSpy done(v, &ui::LookupView::computed);
        QTest::mouseClick(v->computeButton(), Qt::LeftButton);
        QVERIFY(done.wait(60000));
        QVERIFY2(v->row().has_value(), qPrintable(v->messageLabel()->text()));
        double sum = 0;
        for (float x : v->row()->contributions) sum += x;
        QVERIFY(std::abs(sum - v->row()->score) <= 1e-4 * std::max(1.0, double(std::abs(v->row()->score))));
        QVERIFY(std::abs(v->row()->attention[0] + 0.f) <= 1.f);
        // File > Export Figure > lookup writes what the view shows (here computed, not stored), also as LaTeX.
        const QString tex = dir_.filePath(QStringLiteral("computed-lookup.tex"));
        QVERIFY(w.exportFigure(ui::FigureKind::Lookup, tex, ui::FigureOptions::singleColumn()));
        QFile file(tex);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString latex = QString::fromUtf8(file.readAll());
        QVERIFY2(latex.contains(QStringLiteral("%1)}").arg(std::abs(v->row()->score), 0, 'f', 4)), qPrintable(latex.left(2000)));
        QVERIFY(w.exportFigure(ui::FigureKind::Lookup, dir_.filePath(QStringLiteral("computed-lookup.pdf")), ui::FigureOptions::singleColumn()));
        QVERIFY(QFileInfo(dir_.filePath(QStringLiteral("computed-lookup.pdf"))).size() > 1000);
        w.selection()->setContext(3);   // computed with the others
        QVERIFY(v->row().has_value());
        QCOMPARE(v->row()->tokenIds.size(), std::size_t(lookupStudy().neurons[1].contexts[3].position - lookupStudy().neurons[1].contexts[3].start + 2));
    }

    // Issue 13, item 4: the Heads tab lists every neuron a head is active or relevant for, with the
    // numbers of the study, and the summed contributions of its look-ups by source token; a row click
    // shows that neuron with the head selected.
    void headsViewListsNeuronsAndJumps() {
        const Study s = lookupStudy();
        const QString path = dir_.filePath(QStringLiteral("heads-view.headlight"));
        saveBundle(s, path);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        ui::HeadsView* hv = w.headsView();
        QSignalSpy ready(hv, &ui::HeadsView::ready);
        hv->setHead(6);
        QVERIFY(ready.wait(10000));
        QTableWidget* t = hv->neuronsTable();
        // L4N20: active in contexts 0, 2, 4 of 5 kept (relevant, E 0.550 LLM and baseline); L3N10: 1 of 5.
        QCOMPARE(t->rowCount(), 2);
        QCOMPARE(t->item(0, 0)->text(), QStringLiteral("L4N20"));
        QCOMPARE(t->item(0, 2)->text(), QStringLiteral("3/5"));
        QCOMPARE(t->item(0, 3)->text(), QStringLiteral("60 %"));
        QCOMPARE(t->item(0, 4)->text(), QStringLiteral("yes"));
        QCOMPARE(t->item(0, 5)->text(), QStringLiteral("0.550"));
        QCOMPARE(t->item(1, 0)->text(), QStringLiteral("L3N10"));
        QCOMPARE(t->item(1, 2)->text(), QStringLiteral("1/5"));
        QCOMPARE(t->item(1, 4)->text(), QStringLiteral("no"));
        // Sources: BOS 3 x 0.25 and prompt token 1 of contexts 0, 2, 4 (1.0, 1.2, 1.4 by token).
        std::map<int, double> expected{{-1, 0.75}};
        for (int k : {0, 2, 4}) {
            const NeuronContext& c = s.neurons[1].contexts[std::size_t(k)];
            expected[c.tokens[std::size_t(c.start - 1 + 1)]] += 1.0 + 0.1 * k;
        }
        QCOMPARE(hv->sourcesTable()->rowCount(), int(expected.size()));
        double best = 0;
        for (const auto& [id, sum] : expected) best = std::max(best, sum);
        QCOMPARE(hv->sourcesTable()->item(0, 1)->text(), QString::number(best, 'f', 4));
        bool bos = false;
        for (int r = 0; r < hv->sourcesTable()->rowCount(); ++r)
            if (hv->sourcesTable()->item(r, 0)->text() == QStringLiteral("BOS")) bos = hv->sourcesTable()->item(r, 1)->text() == QStringLiteral("0.7500");
        QVERIFY(bos);
        // Jump: L4N20 with L0H6 and its first active kept context (0), whose look-up shows.
        w.tabs()->setCurrentWidget(hv);
        QTest::mouseClick(t->viewport(), Qt::LeftButton, {}, t->visualItemRect(t->item(0, 0)).center());
        QCOMPARE(w.selection()->neuron(), 1);
        QCOMPARE(w.selection()->head(), 6);
        QCOMPARE(w.selection()->context(), 0);
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.neuronView()));
        QVERIFY(w.neuronView()->lookupView()->row().has_value());
        QCOMPARE(w.neuronView()->lookupView()->row()->contributions[2], 1.0f);
    }

    // Issue 14: the modal dialogs open within a 1280x720 screen, and no label, check box or button in
    // them is narrower than its text (clipped text).
    void dialogsFitAndClipNoText() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        QStringList problems;
        int inspected = 0, texts = 0;
        auto inspectNextDialog = [&] {
            QTimer::singleShot(100, [&] {
                auto* d = qobject_cast<QDialog*>(QApplication::activeModalWidget());
                if (!d) {
                    problems << QStringLiteral("no modal dialog opened");
                    return;
                }
                ++inspected;
                if (d->width() > 1280 || d->height() > 720)
                    problems << QStringLiteral("%1 is %2x%3").arg(d->windowTitle()).arg(d->width()).arg(d->height());
                for (QWidget* child : d->findChildren<QWidget*>()) {
                    if (!child->isVisible() || !(qobject_cast<QLabel*>(child) || qobject_cast<QAbstractButton*>(child))) continue;
                    if (auto* label = qobject_cast<QLabel*>(child); label && label->wordWrap()) continue;
                    ++texts;
                    if (child->width() + 1 < child->sizeHint().width())
                        problems << QStringLiteral("%1: '%2' is %3 px wide, its text needs %4")
                                        .arg(d->windowTitle(), child->property("text").toString())
                                        .arg(child->width()).arg(child->sizeHint().width());
                }
                d->reject();
            });
        };
        inspectNextDialog();
        w.showPreferences();
        inspectNextDialog();
        w.exportFigureDialog();
        QCOMPARE(inspected, 2);
        QVERIFY2(texts >= 6, qPrintable(QString::number(texts)));  // labels and buttons were looked at
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

    // Issue 14: the documented shortcuts work as key presses, not only as menu entries.
    void shortcutsWorkAsKeyPresses() {
        ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.openBundle(bundle_));
        w.activateWindow();  // shortcuts reach the active window (no window manager under Xvfb)
        QVERIFY(QTest::qWaitForWindowActive(&w));
        QAction* fullScreen = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->shortcuts().contains(QKeySequence(Qt::Key_F11))) fullScreen = a;
        QVERIFY(fullScreen);
        QTest::keyClick(&w, Qt::Key_F11);
        QTRY_VERIFY(fullScreen->isChecked());
        QTest::keyClick(&w, Qt::Key_F11);
        QTRY_VERIFY(!fullScreen->isChecked());
        bool saveAsOpened = false;
        QTimer::singleShot(100, [&] {
            if (auto* d = qobject_cast<QDialog*>(QApplication::activeModalWidget())) {
                saveAsOpened = true;
                d->reject();
            }
        });
        QTest::keyClick(&w, Qt::Key_S, Qt::ControlModifier | Qt::ShiftModifier);
        QTRY_VERIFY(saveAsOpened);
    }

    void overviewAgreesWithStudyInfo() {
        // One implementation of the score summary for the window and `study info`: an E of exactly 0.7
        // falls in numpy's bin [0.6, 0.7) (edge 7 is 0.7000000000000001), and one baseline score has
        // no std or skew (NaN in core), never "std 0.000".
        Study s = syntheticStudy(true);
        bool firstBaseline = true;
        for (HeadExplanation& e : s.explanations) {
            if (e.source != "llm") continue;
            if (!e.baseline) e.score = 0.7;
            else e.score = firstBaseline ? std::optional<double>(0.4) : std::nullopt;
            if (e.baseline) firstBaseline = false;
        }
        const QString path = dir_.filePath(QStringLiteral("seven-tenths.headlight"));
        saveBundle(s, path);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        const explain::ScoreSummary real = explain::summarizeScores(s, "llm", false);
        const explain::ScoreSummary rnd = explain::summarizeScores(s, "llm", true);
        QVERIFY(real.scored >= 1);
        QCOMPARE(real.histogram.counts[6], real.scored);
        QCOMPARE(rnd.scored, int64_t(1));
        const QString text = w.overviewView()->scoreStats()->text();
        QVERIFY2(text.contains(QString::fromStdString(explain::describeScoreSummary(real))), qPrintable(text));
        QVERIFY2(text.contains(QString::fromStdString(explain::describeScoreSummary(rnd))), qPrintable(text));
        QVERIFY2(!text.contains(QStringLiteral("std 0.000")), qPrintable(text));
        QCustomPlot* plot = w.overviewView()->scorePlot();
        auto* bars = qobject_cast<QCPBars*>(plot->plottable(0));
        QVERIFY(bars);
        QCOMPARE(bars->data()->size(), 10);
        for (int b = 0; b < 10; ++b)
            QCOMPARE(static_cast<int64_t>(bars->data()->at(b)->value), real.histogram.counts[b]);
        // Box plots from analysis::boxStatistics (numpy linear quartiles, Tukey whiskers).
        auto* box = qobject_cast<QCPStatisticalBox*>(w.overviewView()->ablationPlot()->plottable(0));
        QVERIFY(box);
        const analysis::BoxStatistics expected = analysis::boxStatistics({0.30f, 0.25f, 0.41f, 0.18f, 0.33f});
        QCOMPARE(box->data()->at(0)->median, expected.median);
        QCOMPARE(box->data()->at(0)->lowerQuartile, expected.q1);
        QCOMPARE(box->data()->at(0)->upperQuartile, expected.q3);
        QCOMPARE(box->data()->at(0)->minimum, expected.lowerWhisker);
        QCOMPARE(box->data()->at(0)->maximum, expected.upperWhisker);
    }

    void saveAsWritesAnEqualBundle() {
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(bundle_));
        const QString copy = dir_.filePath(QStringLiteral("copy.headlight"));
        QVERIFY(w.saveStudyAs(copy));
        const Bundle a = Bundle::open(bundle_), b = Bundle::open(copy);
        QCOMPARE(b.neuronCount(), a.neuronCount());
        QCOMPARE(b.contextCount(), a.contextCount());
        QCOMPARE(b.neuronResult(1).contexts[1].text, a.neuronResult(1).contexts[1].text);
        QVERIFY(ui::recentFiles().contains(QFileInfo(copy).absoluteFilePath()));
    }

    void runDialogDefaultsAreThePapers() {
        ui::MainWindow w;
        const PipelineOptions o = w.runDialog()->options();
        const StudyParameters d;
        QCOMPARE(o.parameters.topK, d.topK);
        QCOMPARE(o.parameters.topDocuments, d.topDocuments);
        QCOMPARE(o.parameters.promptsPerNeuron, d.promptsPerNeuron);
        QCOMPARE(o.parameters.truncationRatio, d.truncationRatio);
        QCOMPARE(o.parameters.maxContextTokens, d.maxContextTokens);
        QCOMPARE(o.parameters.activeStdMultiplier, d.activeStdMultiplier);
        QCOMPARE(o.parameters.relevantMin, d.relevantMin);
        QCOMPARE(o.parameters.relevantMax, d.relevantMax);
        QCOMPARE(o.parameters.sameLayerHeads, d.sameLayerHeads);
        QCOMPARE(o.parameters.requireWordBoundary, d.requireWordBoundary);
        QCOMPARE(o.parameters.minTokenChars, d.minTokenChars);
        QVERIFY(o.parameters.layers.empty());
        QVERIFY(!o.rawWeights);
        // The API key is never written to the settings.
        ui::setSessionApiKey(QStringLiteral("sk-secret-test"));
        QSettings s;
        for (const QString& key : s.allKeys()) QVERIFY(!s.value(key).toString().contains(QStringLiteral("sk-secret")));
        ui::setSessionApiKey(QString());
    }

    void ablationFromTheWindowLandsInTheBundle() {
        // Validate > Ablate Heads… on a study whose model is found: bad input is refused in the dialog;
        // the run goes to the worker pool (Cancel enabled at once), writes into the bundle, and the
        // window reopens it with the Overview showing the new record.
        const QString path = dir_.filePath(QStringLiteral("ablate.headlight"));
        QFile::remove(path);
        QVERIFY(QFile::copy(plainBundle_, path));
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        QVERIFY(!w.document()->modelPath().isEmpty());
        auto* action = w.findChild<QAction*>(QStringLiteral("actionAblate"));
        QVERIFY(action && action->isEnabled());
        action->trigger();
        auto* d = w.findChild<ui::AblationDialog*>();
        QVERIFY(d && d->isVisible());
        d->modeBox()->setCurrentIndex(d->modeBox()->findData(QStringLiteral("mean")));
        d->neuronsField()->setText(QStringLiteral("L4N20"));
        d->headsField()->setText(QStringLiteral("L9H0"));
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QVERIFY2(d->statusLabel()->text() == QStringLiteral("Heads: head L9H0 does not exist (the model has 5 layers of 8 heads)"),
                 qPrintable(d->statusLabel()->text()));
        QVERIFY(!d->runner()->isRunning());
        d->headsField()->clear();
        QSignalSpy done(d->runner(), &ui::BundleJob::finished);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QVERIFY(d->cancelButton()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1 || d->statusLabel()->text().startsWith(QStringLiteral("Failed")), 300000);
        QVERIFY2(done.count() == 1, qPrintable(d->statusLabel()->text()));
        const Study s = loadStudy(path);
        const NeuronResult* n = s.find({4, 20}, false);
        QVERIFY(n && !n->relevantHeads.empty());
        QCOMPARE(s.ablations.size(), n->relevantHeads.size() + (n->relevantHeads.size() > 1 ? 1 : 0));
        for (const AblationResult& a : s.ablations) {
            QCOMPARE(a.mode, AblationMode::Mean);
            QVERIFY(a.neuron == (NeuronRef{4, 20}));
            QCOMPARE(a.dropActive.size() + a.dropInactive.size(), std::size_t(5));
            QCOMPARE(a.activationActive.size(), a.dropActive.size());
        }
        QCOMPARE(w.document()->bundle().ablations().size(), s.ablations.size());
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.overviewView()));
        QVERIFY(!w.overviewView()->ablationPlot()->property("noData").isValid());
        QVERIFY2(w.overviewView()->ablationStats()->text().contains(QStringLiteral(" mean: p drop ")),
                 qPrintable(w.overviewView()->ablationStats()->text()));
        QCOMPARE(w.overviewView()->ablationPlot()->plottableCount(), 2);   // active, inactive
        w.overviewView()->ablationMeasure()->setCurrentIndex(1);          // the neuron's activation
        QVERIFY(w.overviewView()->ablationPlot()->yAxis->label().contains(QStringLiteral("activation")));
        if (n->relevantHeads.size() > 1) {  // the heads together: the sum of the single effects beside them
            w.overviewView()->showAblationRecord(int(s.ablations.size()) - 1);
            QCOMPARE(w.overviewView()->ablationPlot()->plottableCount(), 4);
        }

        // Cancel: a second run stops without writing (or finishes first on a fast machine).
        QSignalSpy cancelled(d->runner(), &ui::BundleJob::cancelled);
        d->neuronsField()->clear();
        d->modeBox()->setCurrentIndex(d->modeBox()->findData(QStringLiteral("path")));
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QTest::mouseClick(d->cancelButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(cancelled.count() + done.count() == 2, 300000);
        if (cancelled.count() == 1) QCOMPARE(loadStudy(path).ablations.size(), s.ablations.size());
        QVERIFY(d->runButton()->isEnabled());
    }

    // A bundle made before neuron facts and look-ups: the facts tab says what is missing and offers to
    // compute it; the job adds it with the study's model and corpus, and the window shows it.
    void completingAnOldStudyFromTheWindow() {
        PipelineOptions o;
        o.model = test::fixture(QStringLiteral("stories260k"));
        o.corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(o.corpus);
        o.parameters.layers = {4};
        o.parameters.topK = 2;
        o.parameters.randomPerLayer = 0;
        o.parameters.topDocuments = 6;
        o.parameters.promptsPerNeuron = 4;
        o.parameters.maxDocuments = 12;
        const Study fresh = runStudyPipeline(o);
        Study old = test::asMadeBeforeFacts(fresh);
        const QString path = dir_.filePath(QStringLiteral("old-facts.headlight"));
        saveBundle(old, path);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        w.neuronPanel()->selectNeuron(0);
        ui::NeuronFactsView* facts = w.neuronView()->factsView();
        QVERIFY(facts->completeButton()->isVisibleTo(facts));
        QVERIFY(facts->tokensLabel()->text().contains(QStringLiteral("not stored")));
        QCOMPARE(ui::StudyCompletion::missingText(*w.document()), QStringLiteral("look-ups, promoted / suppressed tokens, activation histograms"));
        QTest::mouseClick(facts->completeButton(), Qt::LeftButton);
        QVERIFY(w.studyCompletion() && w.studyCompletion()->isRunning());
        QTRY_VERIFY_WITH_TIMEOUT(!w.studyCompletion()->isRunning(), 300000);
        QTRY_VERIFY_WITH_TIMEOUT(w.document()->bundle().hasHistograms(), 10000);
        QVERIFY(w.document()->bundle().hasLookups() && w.document()->bundle().hasTokenFacts());
        QVERIFY2(w.statusBar()->currentMessage().startsWith(QStringLiteral("Added ")), qPrintable(w.statusBar()->currentMessage()));
        QCOMPARE(w.selection()->neuron(), 0);   // where the user was
        QVERIFY(!facts->completeButton()->isVisibleTo(facts));
        QVERIFY(facts->tokensLabel()->text().startsWith(QStringLiteral("Promotes")));
        const Study back = loadStudy(path);
        for (std::size_t i = 0; i < fresh.neurons.size(); ++i) {
            QCOMPARE(back.neurons[i].histogram.counts, fresh.neurons[i].histogram.counts);
            QCOMPARE(back.neurons[i].promoted.front().token, fresh.neurons[i].promoted.front().token);
        }
        // Nothing missing any more: the action says so and starts nothing.
        w.completeStudy();
        QVERIFY(!w.studyCompletion()->isRunning());
        QVERIFY(w.statusBar()->currentMessage().contains(QStringLiteral("lacks nothing")));
    }

    void runDialogRunsThePipelineOnAWorkerThread() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(model);
        HL_REQUIRE_FIXTURE(corpus);
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(plainBundle_));
        ui::RunDialog* d = w.runDialog();
        PipelineOptions o = d->options();
        o.model = model;
        o.corpus = corpus;
        o.parameters.layers = {4};
        o.parameters.topK = 3;
        o.parameters.randomPerLayer = 1;
        o.parameters.topDocuments = 6;
        o.parameters.promptsPerNeuron = 4;
        o.parameters.maxDocuments = 12;
        d->setOptions(o);
        d->setOutputPath(dir_.filePath(QStringLiteral("run.headlight")));
        d->show();
        QSignalSpy progress(d->runner(), &ui::StudyRunner::progress);
        QSignalSpy done(d->runner(), &ui::StudyRunner::finished);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QVERIFY(d->cancelButton()->isEnabled());   // returned at once: the job runs elsewhere
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1 || d->statusLabel()->text().startsWith(QStringLiteral("Failed")), 400000);
        QVERIFY2(done.count() == 1, qPrintable(d->statusLabel()->text()));
        QVERIFY(progress.count() > 0);
        QCOMPARE(w.document()->path(), dir_.filePath(QStringLiteral("run.headlight")));
        QCOMPARE(w.neuronPanel()->table()->model()->rowCount(), 3 + 1);
        QVERIFY(w.neuronView()->contextList()->model()->rowCount() > 0);
        // The result can be saved elsewhere.
        QVERIFY(w.saveStudyAs(dir_.filePath(QStringLiteral("saved-run.headlight"))));

        // The playground loads the same model on a worker thread and answers as you type.
        ui::PlaygroundView* p = w.playgroundView();
        QSignalSpy ready(p, &ui::PlaygroundView::resultReady);
        p->editor()->setPlainText(QStringLiteral("Once upon a time there was a cat."));
        QTRY_VERIFY_WITH_TIMEOUT(ready.count() >= 1 || p->statusLabel()->text().startsWith(QStringLiteral("Could not")), 300000);
        QVERIFY2(ready.count() >= 1, qPrintable(p->statusLabel()->text()));
        const auto& r = p->lastResult();
        QVERIFY(!r.tokens.empty());
        QCOMPARE(r.activations.size(), r.tokens.size());
        QCOMPARE(static_cast<int>(r.headScores.size()), 5 * 8);
        QCOMPARE(r.position, static_cast<int>(r.tokens.size()) - 1);
        QCOMPARE(p->headMap()->rows(), 5);

        // Cancel: a second run stops (or finishes first on a fast machine) without blocking.
        QSignalSpy cancelled(d->runner(), &ui::StudyRunner::cancelled);
        QSignalSpy failed(d->runner(), &ui::StudyRunner::failed);
        d->setOutputPath(dir_.filePath(QStringLiteral("run2.headlight")));
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QTest::mouseClick(d->cancelButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(cancelled.count() + done.count() + failed.count() == 2, 400000);
        QVERIFY2(failed.isEmpty(), qPrintable(d->statusLabel()->text()));
        QVERIFY(d->runButton()->isEnabled());
    }
    // Models from the hub in the GUI: File > Download Model fetches a hub id from a hub look-alike on
    // 127.0.0.1 with progress, shows a missing repo's error and stays usable, fills the Run form; a Run
    // with a hub id the cache lacks downloads it first and records the hub id in the bundle.
    void downloadDialogAndRunFetchHubModels() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = test::fixture(QStringLiteral("corpora/tiny_en/test.jsonl"));
        HL_REQUIRE_FIXTURE(model);
        HL_REQUIRE_FIXTURE(corpus);
        std::map<QString, QByteArray> files;
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
            QFile in(QDir(model).filePath(QString::fromLatin1(f)));
            QVERIFY(in.open(QIODevice::ReadOnly));
            files[QString::fromLatin1(f)] = in.readAll();
        }
        test::HubTestServer hub;
        hub.addCommit(QStringLiteral("test-org/stories"), QStringLiteral("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"), files);
        hub.addCommit(QStringLiteral("test-org/stories-run"), QStringLiteral("b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"), files);
        const QString cache = dir_.filePath(QStringLiteral("hub-cache"));
        qputenv("HF_HUB_CACHE", cache.toUtf8());
        qputenv("HF_HOME", dir_.filePath(QStringLiteral("hf-home")).toUtf8());
        qputenv("HF_ENDPOINT", hub.endpoint().toUtf8());
        for (const char* v : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE"}) qunsetenv(v);

        ui::MainWindow w;
        w.show();
        QAction* action = w.findChild<QAction*>(QStringLiteral("actionDownload"));
        QVERIFY(action);
        action->trigger();
        ui::DownloadDialog* d = w.runDialog()->downloadDialog();
        QTRY_VERIFY(d->isVisible());
        QVERIFY(d->statusLabel()->text().length() > 0);

        QSignalSpy failed(d, &ui::DownloadDialog::failed);
        QSignalSpy downloaded(d, &ui::DownloadDialog::downloaded);
        d->hubIdEdit()->setText(QStringLiteral("test-org/missing"));
        QTest::mouseClick(d->downloadButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 60000);
        QVERIFY2(d->statusLabel()->text().contains(QStringLiteral("test-org/missing")), qPrintable(d->statusLabel()->text()));
        QVERIFY(d->downloadButton()->isEnabled());
        QVERIFY(d->isVisible());

        d->hubIdEdit()->setText(QStringLiteral("not a hub id!"));
        QTest::mouseClick(d->downloadButton(), Qt::LeftButton);
        QVERIFY(!d->isRunning());
        QVERIFY(d->statusLabel()->text().contains(QStringLiteral("not a hub id!")));

        // Close while downloading cancels (the server keeps dropping the connection; the client is
        // between retries), and the dialog closes once the worker has stopped.
        hub.setDropAfter(QStringLiteral("model.safetensors"), 50000, 4);
        d->hubIdEdit()->setText(QStringLiteral("test-org/stories"));
        QTest::mouseClick(d->downloadButton(), Qt::LeftButton);
        QVERIFY(d->isRunning());
        QTest::mouseClick(d->closeButton(), Qt::LeftButton);
        QVERIFY(d->isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(!d->isRunning(), 30000);
        QTRY_VERIFY(!d->isVisible());
        QCOMPARE(downloaded.count(), 0);
        QCOMPARE(failed.count(), 1);  // a cancel is not a failure
        QVERIFY(!QFileInfo::exists(cache + QStringLiteral("/models--test-org--stories/snapshots/a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1/model.safetensors")));
        action->trigger();
        QTRY_VERIFY(d->isVisible());
        QCOMPARE(d->hubId(), QStringLiteral("test-org/stories"));

        hub.setDropAfter(QStringLiteral("model.safetensors"), 50000, 1);  // the next GET drops halfway: resumed
        QTest::mouseClick(d->downloadButton(), Qt::LeftButton);
        QVERIFY(d->isRunning());
        QVERIFY(d->cancelButton()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(downloaded.count() == 1 || failed.count() == 2, 60000);
        QVERIFY2(downloaded.count() == 1, qPrintable(d->statusLabel()->text()));
        QCOMPARE(d->progressBar()->value(), d->progressBar()->maximum());
        const QString snapshot = downloaded.at(0).at(1).toString();
        QVERIFY(snapshot.startsWith(cache + QStringLiteral("/models--test-org--stories/snapshots/a1a1")));
        for (const auto& [name, bytes] : files) {
            QFile f(QDir(snapshot).filePath(name));
            QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(name));
            QVERIFY2(f.readAll() == bytes, qPrintable(name));
        }
        // The dropped connection was resumed with a Range request, not started over.
        const QByteArray blob = "/blobs/" + test::HubTestServer::sha256Hex(files.at(QStringLiteral("model.safetensors"))).toLatin1();
        QVERIFY(hub.countRequests("GET", blob) >= 2);
        bool resumed = false;
        for (const test::HubRequest& q : hub.requests())
            resumed |= q.method == "GET" && q.path.contains(blob) && q.header("range").rfind("bytes=50000-", 0) == 0;
        QVERIFY(resumed);
        QCOMPARE(w.runDialog()->options().model, QStringLiteral("test-org/stories"));  // the Run form is filled
        d->close();

        // A Run with a hub id the cache lacks: downloaded on the worker, then the pipeline.
        ui::RunDialog* r = w.runDialog();
        PipelineOptions o = r->options();
        o.model = QStringLiteral("test-org/stories-run");
        o.corpus = corpus;
        o.parameters.layers = {4};
        o.parameters.topK = 2;
        o.parameters.topDocuments = 4;
        o.parameters.promptsPerNeuron = 3;
        o.parameters.maxDocuments = 6;
        r->setOptions(o);
        const QString out = dir_.filePath(QStringLiteral("run-hub.headlight"));
        r->setOutputPath(out);
        QSignalSpy progress(r->runner(), &ui::StudyRunner::progress);
        QSignalSpy done(r->runner(), &ui::StudyRunner::finished);
        QTest::mouseClick(r->runButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1 || r->statusLabel()->text().startsWith(QStringLiteral("Failed")), 400000);
        QVERIFY2(done.count() == 1, qPrintable(r->statusLabel()->text()));
        bool sawDownload = false;
        for (const auto& args : progress) sawDownload |= args.at(2).toString().startsWith(QStringLiteral("downloading test-org/stories-run"));
        QVERIFY(sawDownload);
        QCOMPARE(QString::fromStdString(loadStudy(out).provenance.modelId), QStringLiteral("test-org/stories-run"));
        QVERIFY(QFileInfo::exists(cache + QStringLiteral("/models--test-org--stories-run/refs/main")));
        qunsetenv("HF_ENDPOINT");
        qunsetenv("HF_HUB_CACHE");
    }
    // The Run dialog with steps 4-5: the LLM (a Chat Completions server on 127.0.0.1) explains every
    // relevant head and classifies the held-out test contexts; the bundle that opens has LLM and
    // baseline explanations with scores; the session's API key is in no file written.
    // Validate > Explain Heads… and Score Explanations… on the open bundle: the API key is checked
    // before anything runs, the cost estimate follows the number of test contexts per head, and the
    // offline baseline's explanations and scores (held-out corpus labelled with the study's model on
    // the worker pool) land in the bundle and in the window.
    void validateMenuExplainsAndScoresIntoTheBundle() {
        const QString heldout = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_heldout.jsonl");
        HL_REQUIRE_FIXTURE(heldout);
        const QString path = dir_.filePath(QStringLiteral("validate.headlight"));
        QFile::remove(path);
        QVERIFY(QFile::copy(plainBundle_, path));
        QVERIFY(loadStudy(path).explanations.empty());
        ui::MainWindow w;
        w.show();
        QVERIFY(w.openBundle(path));
        QAction* explainAction = w.findChild<QAction*>(QStringLiteral("actionExplainHeads"));
        QAction* scoreAction = w.findChild<QAction*>(QStringLiteral("actionScoreExplanations"));
        QVERIFY(explainAction && scoreAction && explainAction->isEnabled());
        explainAction->trigger();
        auto* d = w.findChild<ui::ValidateDialog*>();
        QVERIFY(d && d->isVisible());
        QCOMPARE(d->mode(), ui::ValidateDialog::Mode::Explain);

        // No key for a remote endpoint: refused before the run starts, nothing written.
        const QByteArray envKey = qgetenv("OPENAI_API_KEY");
        qunsetenv("OPENAI_API_KEY");
        ui::setSessionApiKey(QString());
        ui::LlmSettings remote;
        remote.endpoint = QStringLiteral("https://api.example.invalid/v1");
        d->setLlmSettings(remote);
        d->setOfflineBaseline(false);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QVERIFY2(d->statusLabel()->text().startsWith(QStringLiteral("No API key")), qPrintable(d->statusLabel()->text()));
        QVERIFY(!d->isRunning());

        // The estimate of step 5 scales with the tests per head (prices give USD).
        d->setMode(ui::ValidateDialog::Mode::Score);
        d->setPrices(1.0, 2.0);
        d->setTestsPerHead(5);
        const QString five = d->estimateLabel()->text();
        d->setTestsPerHead(10);
        const QString ten = d->estimateLabel()->text();
        QVERIFY2(ten.contains(QStringLiteral("at most $")) && ten != five, qPrintable(five + " | " + ten));
        QVERIFY(ten.contains(QStringLiteral("10 test contexts per head")));

        // Step 4 with the offline baseline, from the window.
        d->setMode(ui::ValidateDialog::Mode::Explain);
        d->setOfflineBaseline(true);
        QVERIFY(d->estimateLabel()->text().contains(QStringLiteral("free")));
        QSignalSpy updated(d, &ui::ValidateDialog::bundleUpdated);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!d->isRunning(), 120000);
        QVERIFY2(updated.count() == 1, qPrintable(d->statusLabel()->text()));
        const Study explained = loadStudy(path);
        QVERIFY(!explained.explanations.empty());
        for (const HeadExplanation& e : explained.explanations) QCOMPARE(QString::fromStdString(e.source), QStringLiteral("baseline"));
        QCOMPARE(w.document()->bundle().explanations().size(), explained.explanations.size());  // the window reopened it

        // Step 5: held-out corpus labelled with the study's model on the worker pool, 6 tests per head.
        scoreAction->trigger();
        QCOMPARE(d->mode(), ui::ValidateDialog::Mode::Score);
        d->setHeldOutCorpus(heldout);
        d->setTestsPerHead(6);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QVERIFY(d->cancelButton()->isEnabled());  // returned at once: the job runs elsewhere
        QTRY_VERIFY_WITH_TIMEOUT(!d->isRunning(), 400000);
        QVERIFY2(updated.count() == 2, qPrintable(d->statusLabel()->text()));
        const Study scored = loadStudy(path);
        QCOMPARE(QString::fromStdString(scored.heldOut.corpus), heldout);
        QCOMPARE(scored.heldOut.testsPerHead, 6);
        int withTests = 0;
        for (const HeadExplanation& e : scored.explanations) {
            QVERIFY(int(e.tests.size()) <= 6);
            withTests += e.tests.empty() ? 0 : 1;
            if (e.score) QVERIFY(e.ci95 && e.ci95->low <= *e.score && *e.score <= e.ci95->high);
        }
        QVERIFY(withTests > 0);
        const auto& shown = w.document()->bundle().explanations();
        QCOMPARE(shown.size(), scored.explanations.size());
        QVERIFY(std::any_of(shown.begin(), shown.end(), [](const HeadExplanation& e) { return !e.tests.empty(); }));
        if (!envKey.isEmpty()) qputenv("OPENAI_API_KEY", envKey);
        d->close();
    }


    void runDialogExplainsAndScoresWithTheLlm() {
        const QString model = test::fixture(QStringLiteral("stories260k"));
        const QString corpus = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_sample.jsonl");
        const QString heldout = QStringLiteral(HEADLIGHT_SOURCE_DIR "/resources/demo/gutenberg_heldout.jsonl");
        HL_REQUIRE_FIXTURE(model);
        test::LlmTestServer server;
        server.setHandler([](const test::ReceivedRequest& r) {
            if (r.json.value("max_tokens", 0) == 1) return test::ServerAction::ok("Yes");
            return test::ServerAction::ok("The head is active after a comma.");
        });
        const QString key = QStringLiteral("sk-gui-SECRET-key-77");
        ui::setSessionApiKey(key);
        ui::MainWindow w;
        w.show();
        ui::RunDialog* d = w.runDialog();
        PipelineOptions o = d->options();
        o.model = model;
        o.corpus = corpus;
        o.parameters.layers = {3, 4};
        o.parameters.topK = 4;
        o.parameters.topDocuments = 10;
        o.parameters.promptsPerNeuron = 8;
        d->setOptions(o);
        d->setHeldOutCorpus(heldout);
        ui::LlmSettings llm;
        llm.endpoint = server.baseUrl();
        llm.explainerModel = QStringLiteral("explainer-model");
        llm.classifierModel = QStringLiteral("classifier-model");
        llm.explain = true;
        d->setLlmSettings(llm);
        const QString out = dir_.filePath(QStringLiteral("run-llm.headlight"));
        d->setOutputPath(out);
        QSignalSpy done(d->runner(), &ui::StudyRunner::finished);
        QSignalSpy warned(d->runner(), &ui::StudyRunner::warning);
        QTest::mouseClick(d->runButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1 || d->statusLabel()->text().startsWith(QStringLiteral("Failed")), 400000);
        QVERIFY2(done.count() == 1, qPrintable(d->statusLabel()->text()));
        QVERIFY2(warned.isEmpty(), qPrintable(d->statusLabel()->text()));
        QCOMPARE(w.document()->path(), out);
        const Study study = loadStudy(out);
        int llmRecords = 0, scored = 0;
        for (const HeadExplanation& e : study.explanations) {
            if (e.source != "llm") continue;
            ++llmRecords;
            scored += e.tests.empty() ? 0 : 1;
            QCOMPARE(QString::fromStdString(e.model), QStringLiteral("explainer-model"));
        }
        QVERIFY(llmRecords > 0);
        QCOMPARE(scored, llmRecords);
        QCOMPARE(QString::fromStdString(study.heldOut.corpus), heldout);
        int classifierRequests = 0;
        for (const auto& r : server.requests()) {
            QCOMPARE(QString::fromStdString(r.headers.at("authorization")), QStringLiteral("Bearer ") + key);
            classifierRequests += r.json.value("max_tokens", 0) == 1 ? 1 : 0;
            if (r.json.value("max_tokens", 0) == 1) QCOMPARE(r.json.value("model", std::string()), std::string("classifier-model"));
        }
        QVERIFY(classifierRequests > 0);
        auto fileHoldsKey = [&](const QString& path) {
            QFile f(path);
            return f.open(QIODevice::ReadOnly) && f.readAll().contains(key.toUtf8());
        };
        QVERIFY(!fileHoldsKey(out));
        QSettings().sync();
        QVERIFY(QFileInfo::exists(QSettings().fileName()));
        QVERIFY(!fileHoldsKey(QSettings().fileName()));
        ui::setSessionApiKey(QString());
    }
    // Appearance: dark and light palettes reach the plots (they restyle on palette changes); System
    // follows the desktop's preference (GTK_THEME=...:dark here).
    void appearanceFollowsTheChosenScheme() {
        QCOMPARE(ui::colorSchemeFromName(QStringLiteral("dark")), ui::ColorScheme::Dark);
        QCOMPARE(ui::colorSchemeFromName(QStringLiteral("nonsense")), ui::ColorScheme::System);
        ui::MainWindow w;
        w.resize(1200, 800);
        w.show();
        QVERIFY(w.openBundle(plainBundle_));
        QCustomPlot* plot = w.neuronView()->contextHeadMap();
        auto corner = [&] { return plot->toPixmap(200, 120).toImage().pixelColor(2, 2).lightness(); };
        ui::applyColorScheme(ui::ColorScheme::Dark);
        QVERIFY(qApp->palette().color(QPalette::Window).lightness() < 128);
        QTRY_VERIFY(corner() < 100);
        ui::applyColorScheme(ui::ColorScheme::Light);
        QVERIFY(qApp->palette().color(QPalette::Window).lightness() > 128);
        QTRY_VERIFY(corner() > 160);
        qputenv("GTK_THEME", "Adwaita:dark");
        ui::applyColorScheme(ui::ColorScheme::System);
        QVERIFY(qApp->palette().color(QPalette::Window).lightness() < 128);
        qunsetenv("GTK_THEME");
        ui::applyColorScheme(ui::ColorScheme::Light);
    }
};

// The pipeline run takes a while on a loaded machine: allow 15 minutes per test function.
int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QTEST_FUNCTION_TIMEOUT")) qputenv("QTEST_FUNCTION_TIMEOUT", "900000");
    QApplication app(argc, argv);
    app.setAttribute(Qt::AA_Use96Dpi, true);
    TestMainWindow test;
    return QTest::qExec(&test, argc, argv);
}
#include "test_main_window.moc"
