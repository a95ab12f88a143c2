// SPDX-License-Identifier: MIT
/// \file
/// Umbrella header: everything in the core library (no optional integrations).
#pragma once

#include "canarygate/config.hpp"
#include "canarygate/histogram.hpp"
#include "canarygate/version.hpp"
