// SPDX-License-Identifier: MIT
/// \file
/// The library version. A test checks these numbers against the version in the
/// top-level CMakeLists.txt, so the two cannot drift apart.
#pragma once

#include "canarygate/core/config.hpp"

#define CANARYGATE_VERSION_MAJOR 0
#define CANARYGATE_VERSION_MINOR 1
#define CANARYGATE_VERSION_PATCH 0

/// Single integer for preprocessor comparisons: major * 10000 + minor * 100 + patch.
#define CANARYGATE_VERSION \
    (CANARYGATE_VERSION_MAJOR * 10000 + CANARYGATE_VERSION_MINOR * 100 + CANARYGATE_VERSION_PATCH)

CANARYGATE_NAMESPACE_BEGIN

struct version_info {
    int major;
    int minor;
    int patch;
};

/// The version of the headers in use.
inline constexpr version_info version{CANARYGATE_VERSION_MAJOR, CANARYGATE_VERSION_MINOR,
                                      CANARYGATE_VERSION_PATCH};

CANARYGATE_NAMESPACE_END
