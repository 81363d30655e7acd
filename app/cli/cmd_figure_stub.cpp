// `study figure` in a build without the GUI (HEADLIGHT_BUILD_GUI=OFF): it needs headlight_ui.
#include "app/cli/cli_common.h"
#include "core/base/error.h"

namespace headlight::cli {

std::unique_ptr<QCoreApplication> makeApplication(int& argc, char** argv) {
    return std::make_unique<QCoreApplication>(argc, argv);
}

int runStudyFigure(const QStringList&) {
    throw Error("study figure: this headlight-cli was built without the GUI (HEADLIGHT_BUILD_GUI=OFF)");
}

}  // namespace headlight::cli
