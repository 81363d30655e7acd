// Tests of core/analysis/topk: the bounded per-neuron top-N against brute force, ties, merging of
// shards in any order, NaN handling, flat serialisation and its validation.
#include <algorithm>
#include <cmath>
#include <random>

#include <QtTest>

#include "core/analysis/activation_histogram.h"
#include "core/analysis/topk.h"
#include "core/base/error.h"
#include "tests/test_util.h"

using namespace headlight;
using namespace headlight::analysis;

namespace {

struct Offer {
    int64_t neuron;
    TopKEntry entry;
};

// Random offers: one per (document, neuron), values drawn from few levels so ties are common.
std::vector<Offer> randomOffers(int64_t neurons, int64_t documents, uint64_t seed, int levels) {
    std::mt19937_64 rng(seed);
    std::vector<Offer> offers;
    for (int64_t d = 0; d < documents; ++d)
        for (int64_t n = 0; n < neurons; ++n) {
            const float value = static_cast<float>(static_cast<int>(rng() % levels)) * 0.25f - 1.0f;
            offers.push_back({n, {value, d, static_cast<int32_t>(rng() % 64)}});
        }
    return offers;
}

std::vector<TopKEntry> bruteForce(const std::vector<Offer>& offers, int64_t neuron, int32_t k) {
    std::vector<TopKEntry> all;
    for (const Offer& o : offers)
        if (o.neuron == neuron && !std::isnan(o.entry.value)) all.push_back(o.entry);
    std::sort(all.begin(), all.end(), [](const TopKEntry& a, const TopKEntry& b) {
        if (a.value != b.value) return a.value > b.value;
        if (a.document != b.document) return a.document < b.document;
        return a.position < b.position;
    });
    if (all.size() > static_cast<std::size_t>(k)) all.resize(static_cast<std::size_t>(k));
    return all;
}

bool sameEntries(const std::vector<TopKEntry>& a, const std::vector<TopKEntry>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].value != b[i].value || a[i].document != b[i].document || a[i].position != b[i].position) return false;
    return true;
}

bool sameFlat(const TopKFlat& a, const TopKFlat& b) {
    if (a.neurons != b.neurons || a.k != b.k || a.counts != b.counts || a.documents != b.documents ||
        a.positions != b.positions || a.values.size() != b.values.size())
        return false;
    for (std::size_t i = 0; i < a.values.size(); ++i)
        if (!(a.values[i] == b.values[i] || (std::isnan(a.values[i]) && std::isnan(b.values[i])))) return false;
    return true;
}

}  // namespace

class TestTopK : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesBruteForce_data() {
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("levels");
        QTest::addColumn<int>("documents");
        QTest::newRow("k1") << 1 << 5 << 50;
        QTest::newRow("k5 many ties") << 5 << 3 << 200;
        QTest::newRow("k30 (paper)") << 30 << 40 << 500;
        QTest::newRow("k larger than corpus") << 30 << 7 << 12;
        QTest::newRow("k7 distinct-ish") << 7 << 100000 << 300;
    }
    void matchesBruteForce() {
        QFETCH(int, k);
        QFETCH(int, levels);
        QFETCH(int, documents);
        const int64_t neurons = 9;
        std::vector<Offer> offers = randomOffers(neurons, documents, 1234 + k, levels);
        // In document order (as the scan does) and in a shuffled order: same result.
        for (int pass = 0; pass < 2; ++pass) {
            if (pass == 1) std::shuffle(offers.begin(), offers.end(), std::mt19937_64(99));
            TopKAccumulator acc(neurons, k);
            for (const Offer& o : offers) acc.offer(o.neuron, o.entry.value, o.entry.document, o.entry.position);
            for (int64_t n = 0; n < neurons; ++n) {
                const std::vector<TopKEntry> expected = bruteForce(offers, n, k);
                QVERIFY2(sameEntries(acc.sorted(n), expected), qPrintable(QStringLiteral("neuron %1 pass %2").arg(n).arg(pass)));
                QCOMPARE(acc.count(n), static_cast<int32_t>(expected.size()));
            }
        }
    }

    void offerDocumentEqualsOffers() {
        const int64_t neurons = 13;
        const std::vector<Offer> offers = randomOffers(neurons, 100, 7, 9);
        TopKAccumulator a(neurons, 4), b(neurons, 4);
        for (const Offer& o : offers) a.offer(o.neuron, o.entry.value, o.entry.document, o.entry.position);
        for (int64_t d = 0; d < 100; ++d) {
            std::vector<float> values(neurons);
            std::vector<int32_t> positions(neurons);
            for (int64_t n = 0; n < neurons; ++n) {
                values[n] = offers[d * neurons + n].entry.value;
                positions[n] = offers[d * neurons + n].entry.position;
            }
            b.offerDocument(d, values.data(), positions.data());
        }
        QVERIFY(sameFlat(a.toFlat(), b.toFlat()));
    }

    void equalValuesKeepEarlierDocuments() {
        TopKAccumulator acc(1, 3);
        for (int64_t d = 9; d >= 0; --d) acc.offer(0, 1.5f, d, 0);  // reverse order on purpose
        acc.offer(0, 1.0f, 100, 0);
        const std::vector<TopKEntry> top = acc.sorted(0);
        QCOMPARE(top.size(), std::size_t(3));
        QCOMPARE(top[0].document, int64_t(0));
        QCOMPARE(top[1].document, int64_t(1));
        QCOMPARE(top[2].document, int64_t(2));
        acc.offer(0, 2.0f, 50, 3);
        QCOMPARE(acc.sorted(0)[0].document, int64_t(50));
        QCOMPARE(acc.sorted(0)[2].document, int64_t(1));
    }

    void nanIgnoredInfinityKept() {
        TopKAccumulator acc(2, 2);
        acc.offer(0, std::numeric_limits<float>::quiet_NaN(), 0, 0);
        QCOMPARE(acc.count(0), 0);
        acc.offer(0, -std::numeric_limits<float>::infinity(), 1, 0);
        acc.offer(0, 0.0f, 2, 0);
        acc.offer(0, std::numeric_limits<float>::quiet_NaN(), 3, 0);
        QCOMPARE(acc.count(0), 2);
        QCOMPARE(acc.sorted(0)[1].document, int64_t(1));
        acc.offer(0, -1.0f, 4, 0);
        QCOMPARE(acc.sorted(0)[1].document, int64_t(4));
        QCOMPARE(acc.count(1), 0);
    }

    void mergeOfShardsEqualsSinglePass() {
        const int64_t neurons = 11;
        const int32_t k = 6;
        const std::vector<Offer> offers = randomOffers(neurons, 400, 42, 6);
        TopKAccumulator single(neurons, k);
        for (const Offer& o : offers) single.offer(o.neuron, o.entry.value, o.entry.document, o.entry.position);
        const TopKFlat expected = single.toFlat();
        for (int shards : {2, 3, 7}) {
            std::vector<TopKAccumulator> parts;
            for (int s = 0; s < shards; ++s) parts.emplace_back(neurons, k);
            for (const Offer& o : offers)
                parts[static_cast<std::size_t>(o.entry.document % shards)].offer(o.neuron, o.entry.value, o.entry.document,
                                                                                 o.entry.position);
            std::vector<int> order(static_cast<std::size_t>(shards));
            for (int s = 0; s < shards; ++s) order[static_cast<std::size_t>(s)] = s;
            std::mt19937_64 rng(shards);
            for (int trial = 0; trial < 4; ++trial) {
                std::shuffle(order.begin(), order.end(), rng);
                TopKAccumulator merged(neurons, k);
                for (int s : order) merged.merge(parts[static_cast<std::size_t>(s)]);
                QVERIFY(sameFlat(merged.toFlat(), expected));
                // Merging into a shard (not an empty accumulator) as well.
                TopKAccumulator into = parts[static_cast<std::size_t>(order[0])];
                for (std::size_t i = 1; i < order.size(); ++i) into.merge(parts[static_cast<std::size_t>(order[i])]);
                QVERIFY(sameFlat(into.toFlat(), expected));
            }
        }
        HL_EXPECT_ERROR(single.merge(TopKAccumulator(neurons, k + 1)), "top-k merge", "shapes differ");
    }

    void flatRoundTripAndValidation() {
        const std::vector<Offer> offers = randomOffers(5, 3, 5, 4);  // 3 documents < k: unused slots
        TopKAccumulator acc(5, 4);
        for (const Offer& o : offers) acc.offer(o.neuron, o.entry.value, o.entry.document, o.entry.position);
        const TopKFlat flat = acc.toFlat();
        QCOMPARE(flat.values.size(), std::size_t(20));
        QCOMPARE(flat.counts, std::vector<int32_t>(5, 3));
        QVERIFY(std::isnan(flat.values[3]));
        QCOMPARE(flat.documents[3], int64_t(-1));
        QVERIFY(ranksBefore({flat.values[0], flat.documents[0], flat.positions[0]},
                            {flat.values[1], flat.documents[1], flat.positions[1]}));
        const TopKAccumulator back = TopKAccumulator::fromFlat(flat);
        QVERIFY(sameFlat(back.toFlat(), flat));
        // A restored accumulator goes on accepting offers like the original.
        TopKAccumulator a = acc, b = back;
        a.offer(2, 100.0f, 9, 1);
        b.offer(2, 100.0f, 9, 1);
        QVERIFY(sameFlat(a.toFlat(), b.toFlat()));

        TopKFlat bad = flat;
        bad.counts[1] = 5;
        HL_EXPECT_ERROR(TopKAccumulator::fromFlat(bad), "neuron 1", "counts");
        bad = flat;
        bad.values.pop_back();
        HL_EXPECT_ERROR(TopKAccumulator::fromFlat(bad), "'values'", "19");
        bad = flat;
        std::swap(bad.values[0], bad.values[2]);
        std::swap(bad.documents[0], bad.documents[2]);
        if (bad.values[0] != bad.values[2] || bad.documents[0] != bad.documents[2])
            HL_EXPECT_ERROR(TopKAccumulator::fromFlat(bad), "neuron 0", "descending order");
        bad = flat;
        bad.documents[3] = 7;
        HL_EXPECT_ERROR(TopKAccumulator::fromFlat(bad), "neuron 0", "unused slot 3");
        bad = flat;
        bad.documents[0] = -5;
        HL_EXPECT_ERROR(TopKAccumulator::fromFlat(bad), "neuron 0", "negative");
        HL_EXPECT_ERROR(TopKAccumulator(3, 0), "top-k", ">= 1");
    }

    // The activation-histogram sketch (issue 13): fixed bins, values placed exactly at their edges.
    void histogramBinsArePlacedByTheEdges() {
        using namespace headlight::analysis;
        const std::vector<double>& edges = histogramEdges();
        QCOMPARE(int(edges.size()), histogram_bins::kBins + 1);
        QCOMPARE(histogram_bins::kBins, 387);
        QCOMPARE(histogramBin(0.f), 193);
        QCOMPARE(histogramBin(-0.f), 193);
        QCOMPARE(histogramBin(0.0009f), 193);              // |x| < 2^-10
        QCOMPARE(histogramBin(std::ldexp(1.f, -10)), 194);  // 2^-10: first positive bin
        QCOMPARE(histogramBin(-std::ldexp(1.f, -10)), 192);
        QCOMPARE(histogramBin(1.f), 194 + 80);             // octave 0 starts 10 octaves x 8 bins up
        QCOMPARE(histogramBin(1.124f), 274);
        QCOMPARE(histogramBin(1.125f), 275);               // 1 + 1/8: next sub-bin
        QCOMPARE(histogramBin(1.9999f), 281);
        QCOMPARE(histogramBin(-1.5f), 193 - 1 - 84);
        QCOMPARE(histogramBin(16383.f), 385);
        QCOMPARE(histogramBin(16384.f), 386);              // 2^14: overflow
        QCOMPARE(histogramBin(INFINITY), 386);
        QCOMPARE(histogramBin(-1e30f), 0);
        QCOMPARE(edges[274], 1.0);
        QCOMPARE(edges[275], 1.125);
        QCOMPARE(edges[112], -1.125);                       // bin 112 = (-1.125, -1]
        QCOMPARE(histogramBin(-1.f), 112);
        // Every finite edge goes to the bin it opens (positive side) or closes (negative side).
        for (int b = 1; b < histogram_bins::kBins; ++b) {
            const float e = float(edges[std::size_t(b)]);
            QCOMPARE(histogramBin(e), e > 0 ? b : b - 1);
        }
    }

    void histogramMergeEqualsOnePass() {
        using namespace headlight::analysis;
        std::mt19937 rng(7);
        std::normal_distribution<float> normal(0.f, 3.f);
        HistogramAccumulator one(3), a(3), b(3);
        std::vector<float> values0;
        for (int i = 0; i < 5000; ++i) {
            const int n = i % 3;
            const float v = i % 97 == 0 ? NAN : normal(rng);
            one.offer(n, v);
            (i < 1700 ? a : b).offer(n, v);
            if (n == 0) values0.push_back(v);
        }
        a.merge(b);
        QCOMPARE(a.counts(), one.counts());
        QCOMPARE(a.nanCounts(), one.nanCounts());
        QCOMPARE(a.minima(), one.minima());
        QCOMPARE(a.maxima(), one.maxima());
        const ActivationHistogram h0 = histogramOf(values0);
        QCOMPARE(h0.counts, one.of(0).counts);
        QCOMPARE(h0.nan + h0.total(), int64_t(values0.size()));
        // Record-level merge (shard studies): counts add, extremes combine, an empty side is neutral.
        ActivationHistogram x = histogramOf({1.f, -2.f}), y = histogramOf({5.f}), none;
        mergeHistograms(x, y);
        mergeHistograms(x, none);
        QCOMPARE(x.total(), int64_t(3));
        QCOMPARE(x.min, -2.f);
        QCOMPARE(x.max, 5.f);
        HL_EXPECT_ERROR(a.merge(HistogramAccumulator(2)), "histogram merge", "2 neurons");
    }

    void nearDeadThreshold() {
        using namespace headlight::analysis;
        QVERIFY(isNearDead(0.f));
        QVERIFY(isNearDead(0.01f));
        QVERIFY(isNearDead(-0.2f));
        QVERIFY(isNearDead(NAN));
        QVERIFY(!isNearDead(0.0101f));
        QVERIFY(!isNearDead(3.f));
    }
};

QTEST_GUILESS_MAIN(TestTopK)
#include "test_topk.moc"
