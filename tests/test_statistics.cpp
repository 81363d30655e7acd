// Tests of core/analysis/statistics. Reference numbers were computed with scipy 1.10.1 / numpy 1.24.2
// (Debian bookworm) by the calls quoted next to them; the hand-checkable ones say why.
#include <cmath>
#include <random>

#include <QtTest>

#include "core/analysis/statistics.h"
#include "core/base/error.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::analysis;

namespace {

// ((i * mul + off) % 1.0) ** power, i = 0..n-1: the same doubles in Python and C++.
std::vector<double> sequence(int n, double mul, double off, double power = 1.0) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) {
        const double x = std::fmod(i * mul + off, 1.0);
        v.push_back(power == 1.0 ? x : std::pow(x, power));
    }
    return v;
}

bool close(double actual, double expected, double rtol, double atol = 0) {
    return std::fabs(actual - expected) <= atol + rtol * std::fabs(expected);
}

#define HL_CLOSE(actual, expected, rtol)                                                                        \
    QVERIFY2(close((actual), (expected), (rtol)),                                                              \
             qPrintable(QStringLiteral("%1 = %2, expected %3").arg(#actual).arg((actual), 0, 'g', 17).arg((expected), 0, 'g', 17)))

constexpr double kGolden = 0.6180339887498949, kSilver = 0.4142135623730951, kSqrt3 = 0.7320508075688772;

}  // namespace

class TestStatistics : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void moments() {
        const std::vector<double> v = {0.62, 0.71, 0.5, 0.93, 0.44, 0.58, 0.81, 0.5, 0.66, 1.0, 0.0, 0.37};
        // np.mean, np.std(ddof=1), scipy.stats.skew (bias=True)
        HL_CLOSE(mean(v), 0.5933333333333334, 1e-15);
        HL_CLOSE(standardDeviation(v), 0.2675591126982574, 1e-14);
        HL_CLOSE(skewness(v), -0.5342204824381264, 1e-13);
        // Hand-checkable: {1, 2, 3, 4}: mean 2.5, sample variance 5/3, population variance 5/4, skew 0.
        HL_CLOSE(standardDeviation({1, 2, 3, 4}), std::sqrt(5.0 / 3.0), 1e-15);
        HL_CLOSE(standardDeviation({1, 2, 3, 4}, 0), std::sqrt(1.25), 1e-15);
        QCOMPARE(skewness({1, 2, 3, 4}), 0.0);
        // {0, 0, 0, 1}: m2 = 3/16, m3 = 3/32 -> g1 = (3/32) / (3/16)^1.5 = 2/sqrt(3).
        HL_CLOSE(skewness({0, 0, 0, 1}), 2 / std::sqrt(3.0), 1e-14);
        QCOMPARE(skewness({0, 0, 0, 1}), -skewness({0, 0, 0, -1}));
        QVERIFY(std::isnan(mean({})));
        QVERIFY(std::isnan(standardDeviation({3.0})));
        QVERIFY(std::isnan(skewness({2.0, 2.0, 2.0})));  // constant data: scipy gives nan
        const Summary s = summarize(v);
        QCOMPARE(s.count, int64_t(12));
        QCOMPARE(s.mean, mean(v));
        QCOMPARE(s.std, standardDeviation(v));
        QCOMPARE(s.skew, skewness(v));
    }

    void histograms() {
        std::vector<double> v = {0.62, 0.71, 0.5, 0.93, 0.44, 0.58, 0.81, 0.5, 0.66, 1.0, 0.0, 0.37,
                                 -0.1, 1.1, 0.1, 0.2, 0.3, 0.4, 0.9, 0.7, 0.6};
        // np.histogram(v, bins=10, range=(0, 1))
        Histogram h = histogram(v, 10, 0.0, 1.0);
        QCOMPARE(h.counts, (std::vector<int64_t>{1, 1, 2, 1, 2, 4, 3, 1, 1, 3}));
        QCOMPARE(h.edges.size(), std::size_t(11));
        QCOMPARE(h.edges[3], 0.30000000000000004);
        QCOMPARE(h.edges[6], 0.6000000000000001);
        QCOMPARE(h.edges[10], 1.0);
        // Values on computed edges: 0.3 < edge[3] = 0.30000000000000004 stays in bin 2.
        h = histogram({0.1, 0.3, 0.30000000000000004, 0.7, 1.0, std::nan("")}, 10, 0.0, 1.0);
        QCOMPARE(h.counts, (std::vector<int64_t>{0, 1, 1, 1, 0, 0, 1, 0, 0, 1}));
        // Degenerate range, as numpy: [1.5, 2.5].
        h = histogram({2.0, 2.0, 1.6}, 4, 2.0, 2.0);
        QCOMPARE(h.counts, (std::vector<int64_t>{1, 0, 2, 0}));
        QCOMPARE(h.edges.front(), 1.5);
        QCOMPARE(h.edges.back(), 2.5);
        HL_EXPECT_ERROR(histogram(v, 0, 0, 1), "histogram", "bins");
        HL_EXPECT_ERROR(histogram(v, 10, 1, 0), "histogram", "exceeds");
    }

    void percentilesAndBoxes() {
        // np.percentile(v, q) (method="linear"): position q/100 * (n - 1) between sorted values.
        QCOMPARE(percentile({0.8, 0.1, 0.4, 0.2}, 25), 0.175);   // 0.1 + 0.75 * (0.2 - 0.1)
        QCOMPARE(percentile({0.8, 0.1, 0.4, 0.2}, 50), 0.3);
        QCOMPARE(percentile({0.8, 0.1, 0.4, 0.2}, 75), 0.5);     // 0.4 + 0.25 * (0.8 - 0.4)
        QCOMPARE(percentile({3.0}, 25), 3.0);
        QCOMPARE(percentile({5.0, 1.0}, 100), 5.0);
        QVERIFY(std::isnan(percentile({}, 50)));
        HL_EXPECT_ERROR(percentile({1.0}, 101), "percentile", "[0, 100]");
        // matplotlib boxplot(whis=1.5): quartiles 2, 3, 4; fences -1 and 7; 100 is an outlier.
        BoxStatistics b = boxStatistics({100, 3, 1, 4, 2});
        QCOMPARE(b.count, int64_t(5));
        QCOMPARE(b.q1, 2.0);
        QCOMPARE(b.median, 3.0);
        QCOMPARE(b.q3, 4.0);
        QCOMPARE(b.lowerWhisker, 1.0);
        QCOMPARE(b.upperWhisker, 4.0);
        QCOMPARE(b.outliers, (std::vector<double>{100}));
        // A low outlier: quartiles 1.25, 2.5, 3.75 (IQR 2.5, fences -2.5 and 7.5).
        b = boxStatistics({5, -50, 1, 2, 3, 4});
        QCOMPARE(b.q1, 1.25);
        QCOMPARE(b.median, 2.5);
        QCOMPARE(b.q3, 3.75);
        QCOMPARE(b.lowerWhisker, 1.0);
        QCOMPARE(b.upperWhisker, 5.0);
        QCOMPARE(b.outliers, (std::vector<double>{-50}));
        // The whisker stops at the last datum inside the fence, not at the fence.
        b = boxStatistics({0.8, 0.1, 0.4, 0.2});
        QCOMPARE(b.lowerWhisker, 0.1);
        QCOMPARE(b.upperWhisker, 0.8);
        QVERIFY(b.outliers.empty());
        b = boxStatistics({});
        QCOMPARE(b.count, int64_t(0));
        QVERIFY(std::isnan(b.median) && std::isnan(b.lowerWhisker));
    }

    void ksHandComputed() {
        // Disjoint samples of 3 and 3: D = 1, exact p = 2 / C(6, 3) = 0.1.
        KsResult r = ksTwoSample({1, 2, 3}, {4, 5, 6});
        QCOMPARE(r.statistic, 1.0);
        HL_CLOSE(r.pValue, 0.1, 1e-15);
        QVERIFY(r.exact);
        // Symmetric in the two samples.
        const KsResult swapped = ksTwoSample({4, 5, 6}, {1, 2, 3});
        QCOMPARE(swapped.statistic, r.statistic);
        QCOMPARE(swapped.pValue, r.pValue);
        // Identical samples: D = 0, p = 1.
        r = ksTwoSample({1, 2, 3}, {3, 1, 2});
        QCOMPARE(r.statistic, 0.0);
        QCOMPARE(r.pValue, 1.0);
        // Disjoint, unequal sizes m=2, n=4: p = 2 / C(6, 2) = 2/15.
        r = ksTwoSample({0, 0.5}, {1, 2, 3, 4});
        QCOMPARE(r.statistic, 1.0);
        HL_CLOSE(r.pValue, 2.0 / 15.0, 1e-14);
        // Larger disjoint samples: tiny p.
        std::vector<double> above = sequence(30, kSilver, 0.0);
        for (double& x : above) x += 2.0;
        r = ksTwoSample(sequence(30, kGolden, 0.1), above);
        QCOMPARE(r.statistic, 1.0);
        HL_CLOSE(r.pValue, 2 * std::exp(2 * std::lgamma(31.0) - std::lgamma(61.0)), 1e-10);  // 2 / C(60, 30)
        HL_EXPECT_ERROR(ksTwoSample({}, {1.0}), "KS test", "non-empty");
    }

    void ksScipyReference_data() {
        QTest::addColumn<std::vector<double>>("a");
        QTest::addColumn<std::vector<double>>("b");
        QTest::addColumn<double>("statistic");
        QTest::addColumn<double>("pValue");
        QTest::addColumn<double>("asymptoticP");  // scipy method='asymp' (NaN: not checked)
        QTest::addColumn<bool>("exact");
        const double none = std::nan("");
        // stats.ks_2samp(a, b)
        QTest::newRow("small unequal") << std::vector<double>{0.1, 0.5, 0.9, 1.3}
                                       << std::vector<double>{0.2, 0.4, 0.6, 0.8, 1.0, 1.2} << 0.25 << 0.9952380952380953
                                       << none << true;
        QTest::newRow("ties") << std::vector<double>{1, 1, 2, 2, 3} << std::vector<double>{1, 2, 2, 3, 3, 3, 4}
                              << 0.37142857142857144 << 0.7373737373737375 << none << true;
        QTest::newRow("50 vs 70") << sequence(50, kGolden, 0.1) << sequence(70, kSilver, 0.05, 1.3) << 0.12571428571428572
                                  << 0.6972369946167746 << 0.7025987428758784 << true;
        QTest::newRow("40 vs 40") << sequence(40, kGolden, 0.1) << sequence(40, kSqrt3, 0.05, 1.2) << 0.1
                                  << 0.9900193288833089 << 0.9762550945921549 << true;
        QTest::newRow("13 vs 2000") << sequence(13, kGolden, 0.1) << sequence(2000, kSilver, 0.05, 1.5)
                                    << 0.19723076923076924 << 0.6271832052041755 << 0.6239485298616546 << true;
        QTest::newRow("200 vs 200 far") << sequence(200, kGolden, 0.1) << sequence(200, kSqrt3, 0.05, 3.0) << 0.39
                                        << 5.86730162802883e-14 << 3.285290013303523e-14 << true;
        QTest::newRow("300 vs 12000 (asymptotic)") << sequence(300, kGolden, 0.1) << sequence(12000, kSilver, 0.05, 1.1)
                                                   << 0.03666666666666668 << 0.8117816798734244 << 0.8117816798734244
                                                   << false;
        QTest::newRow("20000 vs 15000 (asymptotic)") << sequence(20000, kGolden, 0.1)
                                                     << sequence(15000, kSilver, 0.05, 1.02) << 0.007350000000000023
                                                     << 0.7405433507896015 << 0.7405433507896015 << false;
    }
    void ksScipyReference() {
        QFETCH(std::vector<double>, a);
        QFETCH(std::vector<double>, b);
        QFETCH(double, statistic);
        QFETCH(double, pValue);
        QFETCH(double, asymptoticP);
        QFETCH(bool, exact);
        const KsResult r = ksTwoSample(a, b);
        HL_CLOSE(r.statistic, statistic, 1e-14);
        HL_CLOSE(r.pValue, pValue, exact ? 1e-12 : 1e-9);
        QCOMPARE(r.exact, exact);
        const KsResult r2 = ksTwoSample(b, a);
        HL_CLOSE(r2.pValue, r.pValue, 1e-14);
        if (!std::isnan(asymptoticP)) {
            const KsResult ra = ksTwoSample(a, b, KsMethod::Asymptotic);
            QVERIFY(!ra.exact);
            HL_CLOSE(ra.pValue, asymptoticP, 1e-9);
        }
    }

    void kolmogorovDistributions_data() {
        QTest::addColumn<int>("n");
        QTest::addColumn<double>("d");
        QTest::addColumn<double>("sf");
        // stats.kstwo.sf(d, n); the rows go through every branch of Simard & L'Ecuyer's selection.
        QTest::newRow("Ruben-Gambino 5") << 5 << 0.15 << 0.9988;
        QTest::newRow("Ruben-Gambino 5b") << 5 << 0.19 << 0.977325184;
        QTest::newRow("n=3") << 3 << 0.4 << 0.5946666666666665;
        QTest::newRow("Durbin n=10") << 10 << 0.3 << 0.27053557479999946;
        QTest::newRow("smirnov x>=0.5") << 10 << 0.55 << 0.0022805103214843725;
        QTest::newRow("Durbin n=100") << 100 << 0.05 << 0.9532159710635725;
        QTest::newRow("Pomeranz region n=100") << 100 << 0.15 << 0.019839242125643017;
        QTest::newRow("Miller n=100") << 100 << 0.25 << 5.408871776434847e-06;
        QTest::newRow("Pelz-Good n=1000") << 1000 << 0.03 << 0.3226902143914636;
        QTest::newRow("Durbin n=1000") << 1000 << 0.01 << 0.9999496745370611;
        QTest::newRow("smirnov n=1000") << 1000 << 0.05 << 0.013012074781090332;
        QTest::newRow("Pelz-Good n=200000") << 200000 << 0.002 << 0.39995085369038097;
        QTest::newRow("n=141") << 141 << 0.1 << 0.11128445516467944;
        QTest::newRow("n=293") << 293 << 0.08 << 0.04445945199783852;
        QTest::newRow("tiny") << 1000 << 0.7 << 0.0;
    }
    void kolmogorovDistributions() {
        QFETCH(int, n);
        QFETCH(double, d);
        QFETCH(double, sf);
        QVERIFY2(close(kolmogorovSmirnovSf(n, d), sf, 1e-9, 1e-300),
                 qPrintable(QStringLiteral("kstwo.sf(%1, %2) = %3, expected %4")
                                .arg(d)
                                .arg(n)
                                .arg(kolmogorovSmirnovSf(n, d), 0, 'g', 17)
                                .arg(sf, 0, 'g', 17)));
    }

    void limitAndSmirnov() {
        // scipy.special.kolmogorov(x)
        HL_CLOSE(kolmogorovLimitSf(0.2), 0.999999999999495, 1e-14);
        HL_CLOSE(kolmogorovLimitSf(0.5), 0.9639452436648751, 1e-13);
        HL_CLOSE(kolmogorovLimitSf(1.0), 0.26999967167735456, 1e-13);
        HL_CLOSE(kolmogorovLimitSf(1.36), 0.049485876755377876, 1e-12);
        HL_CLOSE(kolmogorovLimitSf(2.0), 0.0006709252557796953, 1e-12);
        QCOMPARE(kolmogorovLimitSf(0.0), 1.0);
        // scipy.special.smirnov(n, d); n=5, d=0.3 by hand is 0.34282.
        HL_CLOSE(smirnovSf(5, 0.3), 0.34282, 1e-12);
        HL_CLOSE(smirnovSf(10, 0.55), 0.0011402551607421862, 1e-11);
        HL_CLOSE(smirnovSf(100, 0.1), 0.1265906584562817, 1e-11);
        HL_CLOSE(smirnovSf(1000, 0.05), 0.006506037390545166, 1e-10);
    }

    // ROC AUC against an independent reference: the pairwise definition, computed in Python 3 with
    //   def auc(s, l): pos = [a for a, b in zip(s, l) if b]; neg = [a for a, b in zip(s, l) if not b]
    //       return sum(1 if p > n else 0.5 if p == n else 0 for p in pos for n in neg) / (len(pos) * len(neg))
    // (sklearn.metrics.roc_auc_score gives the same: it is the trapezoid ROC area, ties counted 1/2).
    void rocAucReference() {
        // sklearn's documentation example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        HL_CLOSE(*rocAuc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75, 1e-15);
        // auc(s1, l1) == 0.7676767676767676 (20 scores, no ties)
        const std::vector<double> s1 = {0.9, 0.8, 0.7, 0.6, 0.55, 0.54, 0.53, 0.52, 0.51, 0.505,
                                        0.4, 0.39, 0.38, 0.37, 0.36, 0.35, 0.34, 0.33, 0.30, 0.1};
        const std::vector<bool> l1 = {1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0};
        HL_CLOSE(*rocAuc(s1, l1), 0.7676767676767676, 1e-15);
        // auc(s2, l2) == 0.68 (ties across the classes count 1/2)
        const std::vector<double> s2 = {0.9, 0.9, 0.5, 0.5, 0.5, 0.1, 0.1, 1.0, 0.0, 0.5};
        const std::vector<bool> l2 = {1, 0, 1, 0, 1, 0, 1, 1, 0, 0};
        HL_CLOSE(*rocAuc(s2, l2), 0.68, 1e-15);
        QCOMPARE(*rocAuc({0.2, 0.2, 0.2, 0.2}, {true, false, true, false}), 0.5);  // all tied: chance
        QCOMPARE(*rocAuc({0.9, 0.8, 0.1}, {true, true, false}), 1.0);
        QCOMPARE(*rocAuc({0.1, 0.8, 0.9}, {true, false, false}), 0.0);
        QVERIFY(!rocAuc({0.1, 0.8}, {true, true}));  // one class: no AUC
        QVERIFY(!rocAuc({}, {}));
        const std::vector<double> one = {0.1};
        const std::vector<bool> two = {true, false};
        HL_EXPECT_ERROR(rocAuc(one, two), "rocAuc: 1 scores for 2 labels");
    }

    void bootstrapReproducible() {
        ConfusionMatrix m;
        m.tp = 4; m.fn = 1; m.fp = 2; m.tn = 3;  // E = (0.8 + 0.6) / 2 = 0.7
        const auto a = bootstrapBalancedAccuracy(m, 2000, 7), b = bootstrapBalancedAccuracy(m, 2000, 7);
        QVERIFY(a && b);
        QCOMPARE(a->low, b->low);
        QCOMPARE(a->high, b->high);
        QVERIFY(a->low < 0.7 && 0.7 < a->high);
        QVERIFY(a->low >= 0 && a->high <= 1);
        // Another seed draws other resamples (with 5 + 5 tests E* takes few values: compare many seeds).
        bool differs = false;
        for (uint64_t seed = 1; seed < 20 && !differs; ++seed) {
            const auto c = bootstrapBalancedAccuracy(m, 200, seed);
            differs = c->low != bootstrapBalancedAccuracy(m, 200, 7)->low || c->high != bootstrapBalancedAccuracy(m, 200, 7)->high;
        }
        QVERIFY(differs);
        // Perfect and one-class cases by hand: every resample of 5/5 correct is 5/5 correct.
        ConfusionMatrix perfect;
        perfect.tp = 5; perfect.tn = 5;
        QCOMPARE(bootstrapBalancedAccuracy(perfect)->low, 1.0);
        QCOMPARE(bootstrapBalancedAccuracy(perfect)->high, 1.0);
        ConfusionMatrix oneClass;
        oneClass.tp = 3; oneClass.fn = 2;
        QVERIFY(!bootstrapBalancedAccuracy(oneClass));
        const std::vector<double> values = {0.5, 0.7, 0.9, 0.6, 1.0, 0.55};
        const auto ma = bootstrapMean(values, 2000, 3), mb = bootstrapMean(values, 2000, 3);
        QCOMPARE(ma->low, mb->low);
        QCOMPARE(ma->high, mb->high);
        QVERIFY(ma->low < mean(values) && mean(values) < ma->high);
        QVERIFY(!bootstrapMean({}));
        QCOMPARE(bootstrapMean({0.4})->low, 0.4);
        QVERIFY(mixSeed(1, 2) != mixSeed(1, 3) && mixSeed(1, 2) != mixSeed(2, 2));
        HL_EXPECT_ERROR(bootstrapMean(values, 0), "bootstrap: the number of resamples must be at least 1, not 0");
    }

    // Coverage: data drawn with a known E; the 95 % interval holds it in about 95 % of 400 draws.
    void bootstrapCoverage() {
        std::mt19937_64 rng(12345);
        std::bernoulli_distribution sens(0.8), spec(0.7);  // true E = 0.75
        int covered = 0;
        const int simulations = 400;
        for (int s = 0; s < simulations; ++s) {
            ConfusionMatrix m;
            for (int i = 0; i < 60; ++i) ++(sens(rng) ? m.tp : m.fn);
            for (int i = 0; i < 60; ++i) ++(spec(rng) ? m.tn : m.fp);
            const auto ci = bootstrapBalancedAccuracy(m, 2000, mixSeed(kBootstrapSeed, uint64_t(s)));
            covered += ci->low <= 0.75 && 0.75 <= ci->high ? 1 : 0;
        }
        const double coverage = double(covered) / simulations;
        qInfo("per-head interval, 60 + 60 tests, E = 0.75: coverage %.4f", coverage);
        QVERIFY2(coverage >= 0.92 && coverage <= 0.98, qPrintable(QString::number(coverage)));

        // Mean E over 60 heads, each scored on 5 + 5 tests with sensitivity 0.8 and specificity 0.6
        // (every head's E = 0.7, so the mean's is 0.7).
        std::bernoulli_distribution sens2(0.8), spec2(0.6);
        covered = 0;
        int coveredSmall = 0;
        for (int s = 0; s < simulations; ++s) {
            std::vector<double> heads;
            for (int h = 0; h < 60; ++h) {
                ConfusionMatrix m;
                for (int i = 0; i < 5; ++i) ++(sens2(rng) ? m.tp : m.fn);
                for (int i = 0; i < 5; ++i) ++(spec2(rng) ? m.tn : m.fp);
                heads.push_back(*m.balancedAccuracy());
                if (h == 0) {
                    const auto ci = bootstrapBalancedAccuracy(m, 2000, mixSeed(kBootstrapSeed, uint64_t(s)));
                    coveredSmall += ci->low <= 0.7 && 0.7 <= ci->high ? 1 : 0;
                }
            }
            const auto ci = bootstrapMean(heads, 2000, mixSeed(kBootstrapSeed, uint64_t(s)));
            covered += ci->low <= 0.7 && 0.7 <= ci->high ? 1 : 0;
        }
        const double meanCoverage = double(covered) / simulations;
        // The paper's 10 tests per head: the percentile interval is coarse there (reported, not asserted).
        qInfo("mean-E interval, 60 heads x 10 tests, E = 0.7: coverage %.4f; per-head interval with 5 + 5 tests: %.4f",
              meanCoverage, double(coveredSmall) / simulations);
        QVERIFY2(meanCoverage >= 0.92 && meanCoverage <= 0.98, qPrintable(QString::number(meanCoverage)));
    }

    void balancedAccuracy() {
        ConfusionMatrix c;
        QVERIFY(!c.balancedAccuracy());
        c.add(true, true);
        c.add(true, false);
        c.add(true, true);
        c.add(true, std::nullopt);
        QVERIFY(!c.balancedAccuracy());  // only active labels: no score (not 0, not 0.5)
        c.add(false, false);
        c.add(false, true);
        c.add(false, false);
        c.add(false, false);
        QCOMPARE(c.tp, int64_t(2));
        QCOMPARE(c.fn, int64_t(1));
        QCOMPARE(c.fp, int64_t(1));
        QCOMPARE(c.tn, int64_t(3));
        QCOMPARE(c.invalid, int64_t(1));
        HL_CLOSE(*c.balancedAccuracy(), (2.0 / 3.0 + 3.0 / 4.0) / 2, 1e-15);
        ConfusionMatrix perfect{5, 0, 0, 5, 0};
        QCOMPARE(*perfect.balancedAccuracy(), 1.0);
        ConfusionMatrix inverted{0, 5, 5, 0, 0};
        QCOMPARE(*inverted.balancedAccuracy(), 0.0);
        ConfusionMatrix allYes{4, 0, 6, 0, 0};
        QCOMPARE(*allYes.balancedAccuracy(), 0.5);  // chance
    }
};

QTEST_GUILESS_MAIN(TestStatistics)
#include "test_statistics.moc"
