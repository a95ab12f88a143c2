// SPDX-License-Identifier: MIT
/// \file
/// Forwarding header kept for one release: this path was released in 0.1.0.
/// Include "canarygate/core/config.hpp" (and "canarygate/core/error.hpp" for
/// the error helpers); this file goes away in 0.3.0.
#pragma once

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
