// SPDX-License-Identifier: MIT
/// \file
/// Umbrella: every header without an optional dependency. That is the
/// recorder side (canarygate/record.hpp), the statistics, gates, policies and
/// A/A calibration, the rollout layer (router, controller, paired shadow
/// test, A/B comparison) and the Prometheus text exposition. Not included: the
/// JSON integration (`canarygate/integration/json.hpp`, needs nlohmann-json:
/// CMake target canarygate::json) and the testing kit (`canarygate/testing/`).
#pragma once

#include "canarygate/gates/calibration.hpp"
#include "canarygate/gates/default_policy.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/mean_gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/gates/quantile_gate.hpp"
#include "canarygate/gates/rate_gate.hpp"
#include "canarygate/gates/shape_gate.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/integration/prometheus.hpp"
#include "canarygate/record.hpp"
#include "canarygate/rollout/ab_test.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/rollout/murmur3.hpp"
#include "canarygate/rollout/router.hpp"
#include "canarygate/rollout/shadow_pairs.hpp"
#include "canarygate/stats/beta_binomial.hpp"
#include "canarygate/stats/betting.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "canarygate/stats/invert.hpp"
#include "canarygate/stats/normal_mixture.hpp"
#include "canarygate/stats/quantile_bound.hpp"
#include "canarygate/stats/sequential_ks.hpp"
#include "canarygate/stats/srm.hpp"
