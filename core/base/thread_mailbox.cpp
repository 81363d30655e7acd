#include "core/base/thread_mailbox.h"

#include <future>
#include <memory>

#include <QCoreApplication>
#include <QEvent>

namespace headlight {

namespace {
const QEvent::Type kRunPosted = static_cast<QEvent::Type>(QEvent::registerEventType());
}

void ThreadMailbox::post(std::function<void()> function) {
    auto* wake = new QEvent(kRunPosted);   // allocated before the unlock: its free in the other thread is ordered
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(function));
    }
    QCoreApplication::postEvent(this, wake);
}

void ThreadMailbox::call(std::function<void()> function) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    post([done, function = std::move(function)] {
        function();
        done->set_value();
    });
    finished.wait();
}

bool ThreadMailbox::event(QEvent* event) {
    std::vector<std::function<void()>> run;
    {
        std::lock_guard<std::mutex> lock(mutex_);   // before reading the event: a wake was allocated under it
        if (event->type() != kRunPosted) run.clear();
        else run.swap(queue_);
    }
    if (event->type() != kRunPosted) return QObject::event(event);
    for (std::function<void()>& f : run) f();
    return true;
}

}  // namespace headlight
