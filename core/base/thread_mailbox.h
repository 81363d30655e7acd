// A QObject that runs functions in its thread, handed over through a std::mutex: what
// QMetaObject::invokeMethod with a functor does (Qt::QueuedConnection / BlockingQueuedConnection), in a
// form ThreadSanitizer can follow. Qt's event queue and semaphores are not instrumented, so with them
// every object handed to another thread reads as a data race; here the function is moved in and out of
// the queue under a mutex TSan sees, and call() waits on a std::promise. The event that wakes the
// thread carries no data. Never call() from the object's own thread (it would wait forever).
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include <QObject>

namespace headlight {

class ThreadMailbox : public QObject {
public:
    explicit ThreadMailbox(QObject* parent = nullptr) : QObject(parent) {}
    // Runs `function` later in this object's thread (in posting order).
    void post(std::function<void()> function);
    // Runs `function` in this object's thread and waits until it has run. It must not throw.
    void call(std::function<void()> function);

protected:
    bool event(QEvent* event) override;

private:
    std::mutex mutex_;
    std::vector<std::function<void()>> queue_;
};

}  // namespace headlight
