// SPDX-License-Identifier: MIT
/// \file
/// Umbrella for an inference server: everything needed on the request path
/// and to turn it into snapshots (layers core, record and window), without
/// the statistics or Boost. Include `canarygate/canarygate.hpp` in the
/// process that judges a rollout.
#pragma once

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/core/wide_uint.hpp"
#include "canarygate/record/attribution.hpp"
#include "canarygate/record/event.hpp"
#include "canarygate/record/feedback_tracker.hpp"
#include "canarygate/record/metrics.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/record/pricing.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/record/series.hpp"
#include "canarygate/version.hpp"
#include "canarygate/window/codec.hpp"
#include "canarygate/window/collector.hpp"
#include "canarygate/window/event_window.hpp"
#include "canarygate/window/snapshot.hpp"
