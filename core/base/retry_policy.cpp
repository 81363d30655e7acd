#include "core/base/retry_policy.h"

#include <algorithm>
#include <cmath>

#include <QDateTime>
#include <QLocale>
#include <QString>
#include <QTimeZone>

namespace headlight {

bool RetryPolicy::retryableStatus(int status) {
    return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

bool RetryPolicy::mayRetry(int attemptsMade) const { return attemptsMade < std::max(1, maxAttempts); }

int64_t RetryPolicy::delayMs(int attemptsMade, std::optional<int64_t> retryAfterMs, double unit) const {
    unit = std::clamp(unit, 0.0, 1.0);
    if (retryAfterMs) {
        const int64_t wait = std::clamp<int64_t>(*retryAfterMs, 0, std::max(0, maxRetryAfterMs));
        return wait + static_cast<int64_t>(double(wait) * 0.1 * unit);
    }
    const int exponent = std::clamp(attemptsMade - 1, 0, 30);
    const double base = std::min<double>(std::max(0, maxBackoffMs), double(std::max(0, initialBackoffMs)) * std::ldexp(1.0, exponent));
    return static_cast<int64_t>(base * (0.5 + 0.5 * unit));
}

std::optional<int64_t> parseRetryAfterMs(const std::string& raw, int64_t nowMs) {
    const QString value = QString::fromStdString(raw).trimmed();
    if (value.isEmpty()) return std::nullopt;
    bool ok = false;
    const double seconds = value.toDouble(&ok);
    if (ok) {
        if (!std::isfinite(seconds) || seconds < 0) return std::nullopt;
        return static_cast<int64_t>(std::llround(std::min(seconds, 1e9) * 1000.0));
    }
    // HTTP date (RFC 7231 IMF-fixdate), e.g. "Wed, 21 Oct 2015 07:28:00 GMT"; also RFC 2822 forms.
    QDateTime when = QLocale::c().toDateTime(value, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
    if (when.isValid()) {
        when.setTimeZone(QTimeZone::utc());
    } else {
        when = QDateTime::fromString(value, Qt::RFC2822Date);
    }
    if (!when.isValid()) return std::nullopt;
    return std::max<int64_t>(0, when.toMSecsSinceEpoch() - nowMs);
}

}  // namespace headlight
