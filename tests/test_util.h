// Helpers shared by the Qt Test executables.
#pragma once

#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QStringList>
#include <QTest>

namespace headlight::test {

// A path under the shared fixtures folder (HEADLIGHT_FIXTURES at configure time).
inline QString fixture(const QString& relative) {
    return QDir(QStringLiteral(HEADLIGHT_FIXTURES_DIR)).filePath(relative);
}

}  // namespace headlight::test

// Fails the test (not skips it) when a fixture is missing: a missing fixture must never turn a test green.
#define HL_REQUIRE_FIXTURE(path) \
    QVERIFY2(QFileInfo::exists(path), qPrintable(QStringLiteral("missing fixture: ") + (path)))

// Runs `statement` and checks that it throws headlight::Error whose message contains every needle (const char* or QString).
#define HL_EXPECT_ERROR(statement, ...)                                                                  \
    do {                                                                                                 \
        bool thrown_ = false;                                                                            \
        try {                                                                                            \
            statement;                                                                                   \
        } catch (const headlight::Error& e_) {                                                           \
            thrown_ = true;                                                                              \
            const QString msg_ = QString::fromStdString(e_.what());                                      \
            for (const QString& needle_ : QStringList{__VA_ARGS__})                                      \
                QVERIFY2(msg_.contains(needle_),                                                         \
                         qPrintable(QStringLiteral("message '") + msg_ + QStringLiteral("' lacks '") +   \
                                    needle_ + QStringLiteral("'")));                                     \
        }                                                                                                \
        QVERIFY2(thrown_, "expected headlight::Error from: " #statement);                                \
    } while (0)
