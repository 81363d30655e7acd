#include "core/analysis/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "core/base/error.h"

namespace headlight::analysis {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;
}  // namespace

// ---- Moments ----------------------------------------------------------------------------------------

double mean(const std::vector<double>& values) {
    if (values.empty()) return kNaN;
    double sum = 0;
    for (const double v : values) sum += v;
    return sum / static_cast<double>(values.size());
}

double standardDeviation(const std::vector<double>& values, int ddof) {
    const int64_t n = static_cast<int64_t>(values.size());
    if (n - ddof <= 0) return kNaN;
    const double m = mean(values);
    double sum = 0;
    for (const double v : values) sum += (v - m) * (v - m);
    return std::sqrt(sum / static_cast<double>(n - ddof));
}

double skewness(const std::vector<double>& values) {
    if (values.empty()) return kNaN;
    const double m = mean(values);
    double m2 = 0, m3 = 0;
    for (const double v : values) {
        const double d = v - m;
        m2 += d * d;
        m3 += d * d * d;
    }
    const double n = static_cast<double>(values.size());
    m2 /= n;
    m3 /= n;
    const double resolution = 1e-15;  // numpy.finfo(float64).resolution, as scipy.stats.skew
    if (m2 <= (resolution * m) * (resolution * m)) return kNaN;
    return m3 / std::pow(m2, 1.5);
}

Summary summarize(const std::vector<double>& values) {
    return {static_cast<int64_t>(values.size()), mean(values), standardDeviation(values, 1), skewness(values)};
}

// ---- Histogram --------------------------------------------------------------------------------------

Histogram histogram(const std::vector<double>& values, int bins, double lo, double hi) {
    if (bins < 1) throw Error("histogram: number of bins must be >= 1, got " + std::to_string(bins));
    if (!std::isfinite(lo) || !std::isfinite(hi))
        throw Error("histogram: range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is not finite");
    if (lo > hi) throw Error("histogram: range lower bound " + std::to_string(lo) + " exceeds upper bound " + std::to_string(hi));
    if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    Histogram h;
    // numpy.linspace(lo, hi, bins + 1): i * step + lo, the last edge set to hi exactly.
    const double step = (hi - lo) / bins;
    h.edges.resize(static_cast<std::size_t>(bins) + 1);
    for (int i = 0; i <= bins; ++i) h.edges[static_cast<std::size_t>(i)] = i * step + lo;
    h.edges.back() = hi;
    h.counts.assign(static_cast<std::size_t>(bins), 0);
    // numpy's equal-width fast path: index from the scaled value, corrected against the edges.
    const double norm = bins / (hi - lo);
    for (const double v : values) {
        if (!(v >= lo && v <= hi)) continue;  // also drops NaN
        int64_t i = static_cast<int64_t>((v - lo) * norm);
        if (i == bins) i -= 1;
        if (v < h.edges[static_cast<std::size_t>(i)]) i -= 1;
        else if (i != bins - 1 && v >= h.edges[static_cast<std::size_t>(i) + 1]) i += 1;
        ++h.counts[static_cast<std::size_t>(i)];
    }
    return h;
}

namespace {
// numpy's linear percentile of already sorted, non-empty values.
double sortedPercentile(const std::vector<double>& v, double q) {
    const double x = q / 100.0 * static_cast<double>(v.size() - 1);
    const std::size_t i = static_cast<std::size_t>(std::floor(x));
    if (i + 1 >= v.size()) return v.back();
    return v[i] + (x - static_cast<double>(i)) * (v[i + 1] - v[i]);
}
}  // namespace

double percentile(std::vector<double> values, double q) {
    if (!(q >= 0 && q <= 100)) throw Error("percentile: q must be in [0, 100], got " + std::to_string(q));
    if (values.empty()) return kNaN;
    std::sort(values.begin(), values.end());
    return sortedPercentile(values, q);
}

BoxStatistics boxStatistics(std::vector<double> values) {
    BoxStatistics b;
    b.count = static_cast<int64_t>(values.size());
    if (values.empty()) {
        b.lowerWhisker = b.q1 = b.median = b.q3 = b.upperWhisker = kNaN;
        return b;
    }
    std::sort(values.begin(), values.end());
    b.q1 = sortedPercentile(values, 25);
    b.median = sortedPercentile(values, 50);
    b.q3 = sortedPercentile(values, 75);
    const double iqr = b.q3 - b.q1, lowFence = b.q1 - 1.5 * iqr, highFence = b.q3 + 1.5 * iqr;
    b.lowerWhisker = *std::find_if(values.begin(), values.end(), [&](double x) { return x >= lowFence; });
    b.upperWhisker = *std::find_if(values.rbegin(), values.rend(), [&](double x) { return x <= highFence; });
    for (double x : values)
        if (x < lowFence || x > highFence) b.outliers.push_back(x);
    return b;
}

// ---- Kolmogorov distributions -----------------------------------------------------------------------

double kolmogorovLimitSf(double x) {
    if (std::isnan(x)) return kNaN;
    if (x <= 0) return 1.0;
    if (x < 1.0) {
        // Jacobi theta form for small x (fast convergence): 1 - sqrt(2 pi)/x sum_k exp(-(2k-1)^2 pi^2 / (8 x^2))
        const double w = std::sqrt(2 * kPi) / x;
        const double q = -kPi * kPi / (8 * x * x);
        double sum = 0;
        for (int k = 1; k < 50; ++k) {
            const double term = std::exp((2 * k - 1) * (2 * k - 1) * q);
            sum += term;
            if (term < 1e-300) break;
        }
        return std::clamp(1.0 - w * sum, 0.0, 1.0);
    }
    double sum = 0;
    for (int k = 1; k < 100; ++k) {
        const double term = std::exp(-2.0 * k * k * x * x);
        sum += (k % 2 ? 1 : -1) * term;
        if (term < 1e-300) break;
    }
    return std::clamp(2 * sum, 0.0, 1.0);
}

double smirnovSf(int64_t n, double d) {
    if (n <= 0 || std::isnan(d)) return kNaN;
    if (d <= 0) return 1.0;
    if (d >= 1) return 0.0;
    // Birnbaum & Tingey (1951): Pr(D+ >= d) = d sum_{j=0}^{floor(n(1-d))} C(n,j) (1-d-j/n)^(n-j) (d+j/n)^(j-1)
    const long double nn = static_cast<long double>(n), x = d;
    const int64_t last = static_cast<int64_t>(std::floor(nn * (1 - x)));
    const long double lgn1 = std::lgamma(nn + 1);
    long double sum = 0;
    for (int64_t j = 0; j <= last; ++j) {
        const long double jj = static_cast<long double>(j);
        const long double a = 1 - x - jj / nn, b = x + jj / nn;
        if (a <= 0 && n - j > 0) continue;  // the term is 0
        long double logTerm = lgn1 - std::lgamma(jj + 1) - std::lgamma(nn - jj + 1);
        if (n - j > 0) logTerm += (nn - jj) * std::log(a);
        logTerm += (jj - 1) * std::log(b);
        sum += std::exp(logTerm);
    }
    return std::clamp(static_cast<double>(x * sum), 0.0, 1.0);
}

namespace {

// Durbin's matrix method as in scipy's _kolmogn_DMTW (Marsaglia, Tsang & Wang 2003): Pr(D_n <= d).
double kolmogorovCdfDurbin(int64_t n, double d) {
    if (d >= 1.0) return 1.0;
    const double nd = static_cast<double>(n) * d;
    if (nd <= 0.5) return 0.0;
    const int k = static_cast<int>(std::ceil(nd));
    const double h = k - nd;
    const int m = 2 * k - 1;
    using Matrix = std::vector<double>;  // m x m, row-major
    auto multiply = [m](const Matrix& a, const Matrix& b) {
        Matrix c(static_cast<std::size_t>(m) * m, 0.0);
        for (int i = 0; i < m; ++i)
            for (int l = 0; l < m; ++l) {
                const double ail = a[static_cast<std::size_t>(i) * m + l];
                if (ail == 0) continue;
                for (int j = 0; j < m; ++j) c[static_cast<std::size_t>(i) * m + j] += ail * b[static_cast<std::size_t>(l) * m + j];
            }
        return c;
    };
    std::vector<double> v(static_cast<std::size_t>(m)), w(static_cast<std::size_t>(m));
    double fac = 1.0;
    for (int j = 1; j <= m; ++j) {
        w[static_cast<std::size_t>(j) - 1] = fac;
        fac /= j;
        v[static_cast<std::size_t>(j) - 1] = (1.0 - std::pow(h, j)) * fac;
    }
    const double tt = std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m);
    v[static_cast<std::size_t>(m) - 1] = (1.0 + tt) * fac;
    Matrix H(static_cast<std::size_t>(m) * m, 0.0);
    for (int i = 1; i < m; ++i)
        for (int r = i - 1; r < m; ++r) H[static_cast<std::size_t>(r) * m + i] = w[static_cast<std::size_t>(r - (i - 1))];
    for (int r = 0; r < m; ++r) H[static_cast<std::size_t>(r) * m] = v[static_cast<std::size_t>(r)];
    for (int c = 0; c < m; ++c) H[static_cast<std::size_t>(m - 1) * m + c] = v[static_cast<std::size_t>(m - 1 - c)];

    Matrix power(static_cast<std::size_t>(m) * m, 0.0);
    for (int i = 0; i < m; ++i) power[static_cast<std::size_t>(i) * m + i] = 1.0;
    const double ep128 = std::ldexp(1.0, 128);
    int64_t nn = n, exponent = 0, hExponent = 0;
    while (nn > 0) {
        if (nn % 2) {
            power = multiply(power, H);
            exponent += hExponent;
        }
        H = multiply(H, H);
        hExponent *= 2;
        if (std::fabs(H[static_cast<std::size_t>(k - 1) * m + (k - 1)]) > ep128) {
            for (double& x : H) x /= ep128;
            hExponent += 128;
        }
        nn /= 2;
    }
    long double p = power[static_cast<std::size_t>(k - 1) * m + (k - 1)];
    const long double em128 = std::ldexp(1.0L, -128);
    for (int64_t i = 1; i <= n; ++i) {
        p = static_cast<long double>(i) * p / static_cast<long double>(n);
        if (std::fabs(p) < em128) {
            p *= std::ldexp(1.0L, 128);
            exponent -= 128;
        }
    }
    if (exponent != 0) p = std::ldexp(p, static_cast<int>(exponent));
    return std::clamp(static_cast<double>(p), 0.0, 1.0);
}

// Pelz & Good (1976) asymptotic series for Pr(D_n <= x), as scipy's _kolmogn_PelzGood.
double kolmogorovCdfPelzGood(int64_t n, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double z = std::sqrt(static_cast<double>(n)) * x;
    const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
    const double qlog = -pi2 / 8 / z2;
    if (qlog < -708) return 0.0;
    double q = std::exp(qlog);
    const double k1a = -z2, k1b = pi2 / 4;
    const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
    const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
                 k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);
    double K[4] = {0, 0, 0, 0};
    const int maxk = static_cast<int>(std::ceil(16 * z / kPi));
    for (int k = maxk; k > 0; --k) {
        const double mm = 2.0 * k - 1, m2 = mm * mm, m4 = m2 * m2, m6 = m4 * m2;
        const double qpower = std::pow(q, 8.0 * k);
        const double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; ++i) K[i] = K[i] * qpower + coeffs[i];
    }
    const double sqrt2pi = std::sqrt(2 * kPi);
    const double divisors[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * q * sqrt2pi / divisors[i];
    q = std::exp(-pi2 / 2 / z2);
    double k2extra = 0, k3extra = 0;
    const double sqrt3z = std::sqrt(3.0) * z;
    for (int k = maxk; k > 0; --k) {
        const double k2 = static_cast<double>(k) * k, qp = std::pow(q, k2), kpi = kPi * k;
        k2extra += k2 * qp;
        k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qp;
    }
    K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    double sum = 0;
    for (int i = 0; i < 4; ++i) sum += K[i] / std::pow(static_cast<double>(n), i / 2.0);
    return sum;
}

double logFactorialOverPower(int64_t n) {  // log(n! / n^n), Stirling series as scipy
    static const double coeffs[] = {-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
                                    8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
                                    -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    const double nn = static_cast<double>(n), rn = 1.0 / nn, t = rn / nn;
    double poly = 0;
    for (const double c : coeffs) poly = poly * t + c;
    return std::log(nn) / 2 - nn + std::log(2 * kPi) / 2 + rn * poly;
}

}  // namespace

double kolmogorovSmirnovSf(int64_t n, double x) {
    if (n <= 0 || std::isnan(x)) return kNaN;
    if (x >= 1.0) return 0.0;
    if (x <= 0.0) return 1.0;
    const double nd = static_cast<double>(n);
    const double t = nd * x;
    if (t <= 1.0) {  // Ruben-Gambino
        if (t <= 0.5) return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; ++i) prob *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
        } else {
            prob = std::exp(logFactorialOverPower(n) + nd * std::log(2 * t - 1));
        }
        return std::clamp(1.0 - prob, 0.0, 1.0);
    }
    if (t >= nd - 1) return std::clamp(2 * std::pow(1.0 - x, nd), 0.0, 1.0);  // Ruben-Gambino
    if (x >= 0.5) return std::clamp(2 * smirnovSf(n, x), 0.0, 1.0);
    const double nxSquared = t * x;
    if (n <= 140) {
        if (nxSquared <= 4) return std::clamp(1.0 - kolmogorovCdfDurbin(n, x), 0.0, 1.0);  // scipy: Durbin / Pomeranz
        return std::clamp(2 * smirnovSf(n, x), 0.0, 1.0);
    }
    if (nxSquared >= 370.0) return 0.0;
    if (nxSquared >= 2.2) return std::clamp(2 * smirnovSf(n, x), 0.0, 1.0);
    double cdf;
    if (nxSquared >= 18.0)
        cdf = 1.0;
    else if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4)
        cdf = kolmogorovCdfDurbin(n, x);
    else
        cdf = kolmogorovCdfPelzGood(n, x);
    return std::clamp(1.0 - cdf, 0.0, 1.0);
}

// ---- Two-sample KS ----------------------------------------------------------------------------------

namespace {

// scipy _compute_prob_outside_square: Pr(D_{n,n} >= h/n).
double probOutsideSquare(int64_t n, int64_t h) {
    double P = 0.0;
    int64_t k = n / h;
    while (k >= 0) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; ++j)
            p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
        P = p1 * (1.0 - P);
        --k;
    }
    return 2 * P;
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

// scipy _compute_outer_prob_inside_method (Hodges; Viehmann's recursion for 1 - p).
double outerProbInside(int64_t m, int64_t n, int64_t g, int64_t h) {
    if (m < n) std::swap(m, n);
    const int64_t mg = m / g, ng = n / g;
    int64_t minj = 0, maxj = std::min(ceilDiv(h, mg), n + 1);
    int64_t curlen = maxj - minj;
    const int64_t lenA = std::min(2 * maxj + 2, n + 1);
    std::vector<double> A(static_cast<std::size_t>(lenA), 1.0);
    for (int64_t j = minj; j < std::min(maxj, lenA); ++j) A[static_cast<std::size_t>(j)] = 0.0;
    for (int64_t i = 1; i <= m; ++i) {
        const int64_t lastminj = minj, lastlen = curlen;
        minj = std::min(std::max(floorDiv(ng * i - h, mg) + 1, int64_t(0)), n);
        maxj = std::min(ceilDiv(ng * i + h, mg), n + 1);
        if (maxj <= minj) return 1.0;
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; ++jj) {
            const int64_t j = jj + minj;
            val = (A[static_cast<std::size_t>(jj + minj - lastminj)] * static_cast<double>(i) + val * static_cast<double>(j)) /
                  static_cast<double>(i + j);
            A[static_cast<std::size_t>(jj)] = val;
        }
        curlen = maxj - minj;
        if (lastlen > curlen)
            for (int64_t j = maxj - minj; j < std::min(maxj - minj + (lastlen - curlen), lenA); ++j)
                A[static_cast<std::size_t>(j)] = 1.0;
    }
    return A[static_cast<std::size_t>(maxj - minj - 1)];
}

}  // namespace

KsResult ksTwoSample(std::vector<double> a, std::vector<double> b, KsMethod method) {
    if (a.empty() || b.empty()) throw Error("KS test: both samples must be non-empty (got sizes " + std::to_string(a.size()) +
                                            " and " + std::to_string(b.size()) + ")");
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    const int64_t n1 = static_cast<int64_t>(a.size()), n2 = static_cast<int64_t>(b.size());
    // D+ = max(F1 - F2), D- = max(F2 - F1) over all data points, both ECDFs right-continuous.
    double maxS = -std::numeric_limits<double>::infinity(), minDiff = std::numeric_limits<double>::infinity();
    auto visit = [&](double x) {
        const double c1 = static_cast<double>(std::upper_bound(a.begin(), a.end(), x) - a.begin()) / n1;
        const double c2 = static_cast<double>(std::upper_bound(b.begin(), b.end(), x) - b.begin()) / n2;
        maxS = std::max(maxS, c1 - c2);
        minDiff = std::min(minDiff, c1 - c2);
    };
    for (const double x : a) visit(x);
    for (const double x : b) visit(x);
    const double minS = std::clamp(-minDiff, 0.0, 1.0);
    double d = minS > maxS ? minS : maxS;

    const int64_t g = std::gcd(n1, n2);
    const int64_t n1g = n1 / g, n2g = n2 / g;
    if (method == KsMethod::Auto) method = std::max(n1, n2) <= 10000 ? KsMethod::Exact : KsMethod::Asymptotic;
    else if (method == KsMethod::Exact && static_cast<double>(n1g) >= 2147483647.0 / static_cast<double>(n2g))
        method = KsMethod::Asymptotic;

    KsResult result;
    if (method == KsMethod::Exact) {
        const int64_t lcm = n1g * n2;
        const int64_t h = static_cast<int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
        const double dExact = static_cast<double>(h) / static_cast<double>(lcm);
        double prob;
        if (h == 0) prob = 1.0;
        else if (n1 == n2) prob = probOutsideSquare(n1, h);
        else prob = outerProbInside(n1, n2, g, h);
        if (std::isfinite(prob) && prob >= 0 && prob <= 1) {
            result.statistic = dExact;
            result.pValue = prob;
            result.exact = true;
            return result;
        }
        d = dExact;  // as scipy: the rounded statistic goes on to the asymptotic method
    }
    const double m = static_cast<double>(std::max(n1, n2)), n = static_cast<double>(std::min(n1, n2));
    const double en = m * n / (m + n);
    result.statistic = d;
    result.pValue = std::clamp(kolmogorovSmirnovSf(static_cast<int64_t>(std::nearbyint(en)), d), 0.0, 1.0);
    result.exact = false;
    return result;
}

// ---- Balanced accuracy ------------------------------------------------------------------------------

void ConfusionMatrix::add(bool truth, std::optional<bool> predicted) {
    if (!predicted) ++invalid;
    else if (truth) ++(*predicted ? tp : fn);
    else ++(*predicted ? fp : tn);
}

std::optional<double> ConfusionMatrix::balancedAccuracy() const {
    if (tp + fn == 0 || tn + fp == 0) return std::nullopt;
    return (static_cast<double>(tp) / static_cast<double>(tp + fn) + static_cast<double>(tn) / static_cast<double>(tn + fp)) / 2;
}

// ---- ROC AUC and bootstrap intervals ----------------------------------------------------------------

std::optional<double> rocAuc(const std::vector<double>& scores, const std::vector<bool>& positive) {
    if (scores.size() != positive.size())
        throw Error("rocAuc: " + std::to_string(scores.size()) + " scores for " + std::to_string(positive.size()) + " labels");
    const std::size_t n = scores.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    // Sum of the positives' mid-ranks (1-based; a run of equal scores shares its mean rank).
    double rankSum = 0;
    int64_t n1 = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && scores[order[j]] == scores[order[i]]) ++j;
        const double midRank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
        for (std::size_t k = i; k < j; ++k)
            if (positive[order[k]]) {
                rankSum += midRank;
                ++n1;
            }
        i = j;
    }
    const int64_t n0 = static_cast<int64_t>(n) - n1;
    if (n1 == 0 || n0 == 0) return std::nullopt;
    const double u = rankSum - static_cast<double>(n1) * static_cast<double>(n1 + 1) / 2;
    return u / (static_cast<double>(n1) * static_cast<double>(n0));
}

uint64_t mixSeed(uint64_t seed, uint64_t value) {
    uint64_t z = seed ^ (value + 0x9E3779B97F4A7C15ULL + (seed << 6) + (seed >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

namespace {

// A uniform index in [0, n) from 53 random bits (the same on every standard library).
int64_t drawIndex(std::mt19937_64& rng, int64_t n) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    return std::min<int64_t>(static_cast<int64_t>(u * static_cast<double>(n)), n - 1);
}

// How many of `n` draws with replacement from `n` outcomes, `hits` of them successes, are successes.
int64_t resampleHits(std::mt19937_64& rng, int64_t hits, int64_t n) {
    int64_t out = 0;
    for (int64_t i = 0; i < n; ++i) out += drawIndex(rng, n) < hits ? 1 : 0;
    return out;
}

Interval percentileInterval(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return {sortedPercentile(values, 2.5), sortedPercentile(values, 97.5)};
}

void checkResamples(int resamples) {
    if (resamples < 1) throw Error("bootstrap: the number of resamples must be at least 1, not " + std::to_string(resamples));
}

}  // namespace

std::optional<Interval> bootstrapBalancedAccuracy(const ConfusionMatrix& m, int resamples, uint64_t seed) {
    checkResamples(resamples);
    const int64_t positives = m.tp + m.fn, negatives = m.tn + m.fp;
    if (positives == 0 || negatives == 0) return std::nullopt;
    std::mt19937_64 rng(seed);
    std::vector<double> values(static_cast<std::size_t>(resamples));
    for (double& v : values) {
        const double sensitivity = static_cast<double>(resampleHits(rng, m.tp, positives)) / static_cast<double>(positives);
        const double specificity = static_cast<double>(resampleHits(rng, m.tn, negatives)) / static_cast<double>(negatives);
        v = (sensitivity + specificity) / 2;
    }
    return percentileInterval(std::move(values));
}

std::optional<Interval> bootstrapMean(const std::vector<double>& values, int resamples, uint64_t seed) {
    checkResamples(resamples);
    if (values.empty()) return std::nullopt;
    const int64_t n = static_cast<int64_t>(values.size());
    std::mt19937_64 rng(seed);
    std::vector<double> means(static_cast<std::size_t>(resamples));
    for (double& mean : means) {
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += values[static_cast<std::size_t>(drawIndex(rng, n))];
        mean = sum / static_cast<double>(n);
    }
    return percentileInterval(std::move(means));
}

}  // namespace headlight::analysis
