// Tests of core/analysis/head_activity: METHOD.md section 3's active / relevant head rules, against
// the golden numbers of gpt2-tiny (golden.md section 5.4) and planted cases.
#include <cmath>
#include <cstring>

#include <QtTest>

#include "core/analysis/head_activity.h"
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::analysis;

namespace {

template <typename T>
std::vector<T> tensorValues(const io::TensorView& t) {
    std::vector<T> out(static_cast<std::size_t>(t.numel()));
    std::memcpy(out.data(), t.data, t.nbytes);
    return out;
}

}  // namespace

class TestHeadActivity : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void goldenRowsFromTheTables() {
        // golden.md 5.4, p2 (rows: neurons 250, 98, 4, 109, 75; scores L0H0 ... L1H3).
        const std::vector<float> scores = {
            +0.027356f, +0.003129f, -0.016408f, -0.014065f, +0.045700f, +0.112078f, +0.113182f, -0.003465f,
            +0.016237f, -0.001444f, -0.002032f, -0.010830f, -0.069771f, -0.073241f, +0.004195f, -0.197015f,
            -0.029301f, -0.002933f, +0.022994f, -0.028501f, +0.115855f, +0.047128f, +0.006413f, +0.014554f,
            +0.026466f, +0.023985f, +0.001794f, +0.017372f, -0.028177f, +0.149504f, +0.016442f, -0.028789f,
            -0.016172f, +0.025374f, -0.025420f, +0.011595f, +0.050150f, +0.138342f, -0.019703f, +0.021346f};
        const std::vector<double> thresholds = {0.139679, 0.100722, 0.112183, 0.134034, 0.129776};
        const std::vector<int> activeHead = {-1, -1, 4, 5, 5};
        QCOMPARE(candidateHeadCount(2, 4, false), int64_t(8));
        const ContextActivity a = activeHeads(scores, 5, 8);
        for (int c = 0; c < 5; ++c) {
            // The table prints 6 decimals of each score, so the threshold is good to a few 1e-6.
            QVERIFY2(std::fabs(a.threshold[c] - thresholds[c]) < 5e-6, qPrintable(QString::number(a.threshold[c], 'g', 10)));
            for (int h = 0; h < 8; ++h) QCOMPARE(a.active[c * 8 + h] != 0, h == activeHead[c]);
        }
        // p1 neuron 75: only head 5 active; neuron 250: none.
        const std::vector<float> p1 = {+0.012730f, +0.006392f, -0.011076f, +0.030297f, +0.011381f, +0.136912f, -0.033920f, +0.019134f,
                                       +0.027168f, -0.000920f, -0.016548f, +0.000716f, +0.047120f, +0.078452f, +0.111952f, -0.062166f};
        const ContextActivity b = activeHeads(p1, 2, 8);
        QVERIFY(std::fabs(b.threshold[0] - 0.122739) < 5e-6);
        QVERIFY(std::fabs(b.threshold[1] - 0.133991) < 5e-6);
        for (int h = 0; h < 8; ++h) {
            QCOMPARE(b.active[h] != 0, h == 5);
            QCOMPARE(b.active[8 + h], uint8_t(0));
        }
    }

    void goldenTensors() {
        const QString path = test::fixture(QStringLiteral("gpt2-tiny/golden.safetensors"));
        HL_REQUIRE_FIXTURE(path);
        const io::SafetensorsFile file = io::SafetensorsFile::open(path);
        int64_t totalActive = 0;
        for (const char* prompt : {"p0", "p1", "p2"}) {
            const std::string prefix = std::string("attrib.") + prompt + ".L2.";
            const std::vector<float> scores = tensorValues<float>(file.at(prefix + "scores"));
            const std::vector<float> mean = tensorValues<float>(file.at(prefix + "mean"));
            const std::vector<float> stdev = tensorValues<float>(file.at(prefix + "std"));
            const std::vector<float> threshold = tensorValues<float>(file.at(prefix + "threshold"));
            const std::vector<int64_t> active = tensorValues<int64_t>(file.at(prefix + "active"));
            QCOMPARE(scores.size(), std::size_t(40));
            const ContextActivity a = activeHeads(scores, 5, 8);
            for (int c = 0; c < 5; ++c) {
                QVERIFY(std::fabs(a.mean[c] - mean[c]) < 1e-7);
                QVERIFY(std::fabs(a.std[c] - stdev[c]) < 1e-7);
                QVERIFY(std::fabs(a.threshold[c] - threshold[c]) < 1e-6);
            }
            for (int i = 0; i < 40; ++i) QCOMPARE(int64_t(a.active[i]), active[i]);
            for (const int64_t v : active) totalActive += v;
            // The "<= layer" variant sees 12 candidate heads, the first 8 being the same scores.
            const std::vector<float> all = tensorValues<float>(file.at(prefix + "scores_all_heads"));
            QCOMPARE(static_cast<int64_t>(all.size()), 5 * candidateHeadCount(2, 4, true));
            for (int c = 0; c < 5; ++c)
                for (int h = 0; h < 8; ++h) QVERIFY(std::fabs(all[c * 12 + h] - scores[c * 8 + h]) < 1e-6);
        }
        QCOMPARE(totalActive, int64_t(4));  // p0: 0, p1: 1, p2: 3
    }

    void plantedActivity() {
        // 10 heads: nine at 0, one at 10: mean 1, std sqrt(10) = 3.162..., threshold 7.32 -> head 3 active.
        std::vector<float> row(10, 0.0f);
        row[3] = 10.0f;
        ContextActivity a = activeHeads(row, 1, 10);
        QCOMPARE(a.mean[0], 1.0);
        QVERIFY(std::fabs(a.std[0] - std::sqrt(10.0)) < 1e-12);
        QCOMPARE(a.active, (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
        // With a multiplier of 3 the threshold 10.49 is above 10: none active.
        HeadActivityOptions o;
        o.stdMultiplier = 3.0;
        a = activeHeads(row, 1, 10, o);
        QCOMPARE(a.active, std::vector<uint8_t>(10, 0));
        // Equal scores: std 0, threshold = mean, strict ">" -> none active. One head: std NaN -> none.
        a = activeHeads(std::vector<float>(4, 2.0f), 1, 4);
        QCOMPARE(a.active, std::vector<uint8_t>(4, 0));
        a = activeHeads({5.0f}, 1, 1);
        QCOMPARE(a.active, std::vector<uint8_t>(1, 0));
        QVERIFY(std::isnan(a.std[0]));
        HL_EXPECT_ERROR(activeHeads(row, 2, 10), "head activity", "2 contexts x 10 heads");
    }

    void plantedRelevance() {
        // 20 contexts, 5 heads; head h active in counts[h] contexts.
        const std::vector<int> counts = {4, 5, 15, 16, 10};
        std::vector<uint8_t> active(20 * 5, 0);
        for (int h = 0; h < 5; ++h)
            for (int c = 0; c < counts[h]; ++c) active[c * 5 + h] = 1;
        HeadRelevance r = relevantHeads(active, 20, 5);
        QCOMPARE(r.relevant, (std::vector<int64_t>{1, 2, 4}));  // 25% and 75% are inside (inclusive)
        QCOMPARE(r.activeCount, (std::vector<int64_t>{4, 5, 15, 16, 10}));
        QCOMPARE(r.activeFraction[1], 0.25);
        HeadActivityOptions o;
        o.relevantMin = 0.3;
        o.relevantMax = 0.8;
        r = relevantHeads(active, 20, 5, o);
        QCOMPARE(r.relevant, (std::vector<int64_t>{2, 3, 4}));
        r = relevantHeads({}, 0, 5);
        QVERIFY(r.relevant.empty());
        o.relevantMin = 0.9;
        HL_EXPECT_ERROR(relevantHeads(active, 20, 5, o), "head relevance", "exceeds");
        HL_EXPECT_ERROR(relevantHeads(active, 19, 5), "head relevance");
    }

    void headNamesAndIndices() {
        QCOMPARE(candidateHeadCount(0, 12, false), int64_t(0));
        QCOMPARE(candidateHeadCount(0, 12, true), int64_t(12));
        QCOMPARE(candidateHeadCount(31, 20, false), int64_t(620));
        QCOMPARE(headFlatIndex({26, 18}, 20), int64_t(538));
        const HeadIndex h = headFromFlatIndex(538, 20);
        QCOMPARE(h.layer, 26);
        QCOMPARE(h.head, 18);
        const auto parsed = parseHeadName("L26H18");
        QVERIFY(parsed);
        QCOMPARE(parsed->layer, 26);
        QCOMPARE(parsed->head, 18);
        for (const char* bad : {"", "L", "L1", "L1H", "H1L2", "l1h2", "L1H2 ", "L-1H2", "L1H2x", "L99999999999H1"})
            QVERIFY2(!parseHeadName(bad), bad);
        HL_EXPECT_ERROR(candidateHeadCount(-1, 4, false), "candidate heads");
    }
};

QTEST_GUILESS_MAIN(TestHeadActivity)
#include "test_head_activity.moc"
