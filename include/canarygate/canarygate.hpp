// SPDX-License-Identifier: MIT
/// \file
/// Umbrella header: everything in the core library. Optional integrations
/// (json.hpp needs nlohmann-json; prometheus.hpp) and the testing kit are
/// included separately.
#pragma once

#include "canarygate/attribution.hpp"
#include "canarygate/clock.hpp"
#include "canarygate/codec.hpp"
#include "canarygate/collector.hpp"
#include "canarygate/config.hpp"
#include "canarygate/gates.hpp"
#include "canarygate/histogram.hpp"
#include "canarygate/metrics.hpp"
#include "canarygate/outcome.hpp"
#include "canarygate/policy.hpp"
#include "canarygate/pricing.hpp"
#include "canarygate/recorder.hpp"
#include "canarygate/snapshot.hpp"
#include "canarygate/version.hpp"
