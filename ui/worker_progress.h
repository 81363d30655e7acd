// A Progress for a job on the worker pool that reports to a QObject on the GUI thread: each report
// becomes a queued call of (receiver->*slot)(done, total, message); reports that arrive after the
// receiver is gone are dropped. Make it on the GUI thread (it holds a QPointer), use it anywhere.
#pragma once

#include <cstdint>
#include <string>

#include <QMetaObject>
#include <QPointer>
#include <QString>

#include "core/base/progress.h"

namespace headlight::ui {

template <class Receiver>
Progress queuedProgress(Receiver* receiver, void (Receiver::*slot)(qint64, qint64, const QString&),
                        const CancellationToken* token) {
    QPointer<Receiver> self(receiver);
    return Progress(
        [self, slot](int64_t done, int64_t total, const std::string& message) {
            const QString text = QString::fromStdString(message);
            QMetaObject::invokeMethod(
                self.data(), [self, slot, done, total, text] { if (self) (self.data()->*slot)(done, total, text); },
                Qt::QueuedConnection);
        },
        token);
}

}  // namespace headlight::ui
