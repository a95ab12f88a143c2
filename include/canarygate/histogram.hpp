// SPDX-License-Identifier: MIT
/// \file
/// Forwarding header kept for one release: this path was released in 0.1.0.
/// Include "canarygate/core/histogram.hpp"; this file goes away in 0.3.0.
#pragma once

#include "canarygate/core/histogram.hpp"
