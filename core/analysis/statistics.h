// Statistics of the method: the summary of head explanation scores (METHOD.md section 5: mean, std,
// skew, histogram), the two-sample Kolmogorov-Smirnov test of the ablation check (section 6), and the
// balanced accuracy E of the head explanation score (section 5).
// Conventions follow numpy/scipy so that numbers can be compared with the paper's Python:
//   mean                 arithmetic mean; NaN for no values (NaN inputs propagate)
//   standardDeviation    with Bessel's correction by default (ddof = 1, torch's / pandas' default);
//                        NaN if fewer than ddof + 1 values
//   skewness             scipy.stats.skew default (bias=True): the biased Fisher-Pearson coefficient
//                        g1 = m3 / m2^(3/2), central moments m_k = mean((x - mean)^k); NaN for no values
//                        or (as scipy) when m2 <= (1e-15 * mean)^2, i.e. constant data
//   histogram            numpy.histogram(values, bins, range=(lo, hi)): equal-width bins, each
//                        [edge_i, edge_i+1) except the last, which is closed; values outside [lo, hi]
//                        and NaN are not counted; lo == hi widens the range to [lo - 0.5, hi + 0.5]
//   ksTwoSample          scipy.stats.ks_2samp(a, b) two-sided (scipy 1.10): see KsMethod
//   rocAuc               sklearn.metrics.roc_auc_score(labels, scores): the Mann-Whitney U / (n1 n0), ties 1/2
//   bootstrap intervals  percentile bootstrap, quantiles as numpy.percentile (linear); seeded with
//                        std::mt19937_64 (fully specified by the C++ standard: the same draws everywhere)
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace headlight::analysis {

double mean(const std::vector<double>& values);
double standardDeviation(const std::vector<double>& values, int ddof = 1);
double skewness(const std::vector<double>& values);

// Mean, std (Bessel) and skewness (biased g1) of a set of values.
struct Summary {
    int64_t count = 0;  // number of values
    double mean = 0;    // arithmetic mean (NaN if count == 0)
    double std = 0;     // standard deviation with Bessel's correction (NaN if count < 2)
    double skew = 0;    // biased Fisher-Pearson skewness g1 (scipy.stats.skew default)
};
Summary summarize(const std::vector<double>& values);

// Counts of values in equal-width bins.
struct Histogram {
    std::vector<double> edges;    // bins + 1 edges, numpy.linspace(lo, hi, bins + 1)
    std::vector<int64_t> counts;  // bins counts
};
// Throws headlight::Error if bins < 1, lo > hi or a bound is not finite.
Histogram histogram(const std::vector<double>& values, int bins, double lo, double hi);

// numpy.percentile(values, q) with the default "linear" method: sorted values v, position
// x = q/100 * (n - 1), v[floor x] + (x - floor x) * (v[floor x + 1] - v[floor x]). NaN for no values;
// throws headlight::Error if q is outside [0, 100]. NaN inputs are not supported.
double percentile(std::vector<double> values, double q);

// The five numbers and outliers of a box plot with Tukey's whiskers (matplotlib's boxplot, whis=1.5):
// quartiles as numpy.percentile (linear), whiskers at the most extreme data points within
// [q1 - 1.5 IQR, q3 + 1.5 IQR], outliers the points beyond them (ascending). All NaN / empty for no values.
struct BoxStatistics {
    int64_t count = 0;
    double lowerWhisker = 0, q1 = 0, median = 0, q3 = 0, upperWhisker = 0;
    std::vector<double> outliers;
};
BoxStatistics boxStatistics(std::vector<double> values);

// How ks_2samp computes the p-value (as scipy's `method`).
enum class KsMethod {
    Auto,   // Exact if max(n1, n2) <= 10000, else Asymptotic (scipy's MAX_AUTO_N)
    Exact,  // exact distribution of D under H0 (falls back to Asymptotic if it fails numerically)
    Asymptotic,  // one-sample two-sided distribution kstwo.sf(D, round(n1 n2 / (n1 + n2)))
};

// Result of a two-sample Kolmogorov-Smirnov test.
struct KsResult {
    double statistic = 0;   // D = max |F1 - F2| (for Exact: rounded to h / lcm(n1, n2) as scipy does)
    double pValue = 1;      // two-sided p-value, clipped to [0, 1]
    bool exact = false;     // true if the exact distribution was used
};
// Two-sided two-sample KS test, as scipy.stats.ks_2samp(a, b, method=...). Throws headlight::Error
// if a sample is empty. NaN values are not supported (scipy's result is then meaningless too).
KsResult ksTwoSample(std::vector<double> a, std::vector<double> b, KsMethod method = KsMethod::Auto);

// Survival function Pr(D_n >= d) of the two-sided one-sample KS statistic D_n (scipy.stats.kstwo.sf,
// Simard & L'Ecuyer's selection of methods; where scipy uses Pomeranz's recursion this uses the
// Durbin matrix, which is exact as well).
double kolmogorovSmirnovSf(int64_t n, double d);
// Survival function of Kolmogorov's limiting distribution, Q(x) = 2 sum_k (-1)^(k-1) exp(-2 k^2 x^2)
// (scipy.special.kolmogorov, scipy.stats.kstwobign.sf).
double kolmogorovLimitSf(double x);
// One-sided exact Pr(D_n^+ >= d) (scipy.special.smirnov), by the Birnbaum-Tingey formula.
double smirnovSf(int64_t n, double d);

// Classifier outcomes for one (neuron, head) of the head explanation score (METHOD.md section 5).
// "Positive" = the head is active in the context.
struct ConfusionMatrix {
    int64_t tp = 0;       // predicted active, truly active
    int64_t fn = 0;       // predicted inactive, truly active
    int64_t fp = 0;       // predicted active, truly inactive
    int64_t tn = 0;       // predicted inactive, truly inactive
    int64_t invalid = 0;  // replies that were neither Yes nor No (not guessed, not in the score)

    // Adds one outcome; an empty `predicted` is an invalid reply.
    void add(bool truth, std::optional<bool> predicted);
    // E = (TP/(TP+FN) + TN/(TN+FP)) / 2; empty ("no score") when the valid test labels are all one
    // class (TP+FN == 0 or TN+FP == 0), never 0 or 0.5 in that case.
    std::optional<double> balancedAccuracy() const;
};

// Area under the ROC curve of `scores` (higher = more likely positive) for `positive` labels: the
// probability that a random positive scores above a random negative, ties counted 1/2 (Mann-Whitney U
// divided by n1 * n0; equal to the trapezoid area under the ROC curve). Empty when a class is missing.
// Throws headlight::Error if the lengths differ. NaN scores are not supported.
std::optional<double> rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive);

// A two-sided confidence interval.
struct Interval {
    double low = 0;
    double high = 0;
};

// Defaults of the bootstrap intervals of the head explanation score (recorded in docs/bundle-format.md).
inline constexpr int kBootstrapResamples = 2000;
inline constexpr uint64_t kBootstrapSeed = 2402150550;  // arXiv 2402.15055

// A seed for one unit (e.g. one head) from a base seed and the unit's identity (splitmix64 of both):
// intervals then do not depend on the order in which units are processed.
uint64_t mixSeed(uint64_t seed, uint64_t value);

// Stratified percentile bootstrap 95 % interval of the balanced accuracy of `m`: each resample draws
// tp+fn outcomes with replacement from the positive tests and tn+fp from the negative ones (the class
// sizes are fixed by the test selection, and E is defined in every resample), E* of each; the interval
// is the 2.5th and 97.5th percentile of the `resamples` E*. Invalid replies are not resampled. Empty
// when E is (a class without valid tests). Reproducible: the same seed gives the same interval.
std::optional<Interval> bootstrapBalancedAccuracy(const ConfusionMatrix& m, int resamples = kBootstrapResamples,
                                                  uint64_t seed = kBootstrapSeed);
// Percentile bootstrap 95 % interval of the mean of `values` (resampling the values with replacement).
// For the mean E over heads the heads are resampled, each with its E (the top level of the two-stage
// sample, which carries the test-level noise within each head's E). Empty for no values.
std::optional<Interval> bootstrapMean(const std::vector<double>& values, int resamples = kBootstrapResamples,
                                      uint64_t seed = kBootstrapSeed);

}  // namespace headlight::analysis
