// QCustomPlot's header uses Qt's keywords (signals, foreach), which this project turns off
// (QT_NO_KEYWORDS: libtorch uses the word `slots`). Include QCustomPlot through this header only.
#pragma once

#include <QtGlobal>

#pragma push_macro("signals")
#pragma push_macro("slots")
#pragma push_macro("emit")
#pragma push_macro("foreach")
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#pragma pop_macro("foreach")
#pragma pop_macro("emit")
#pragma pop_macro("slots")
#pragma pop_macro("signals")
