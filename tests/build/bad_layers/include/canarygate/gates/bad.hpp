// Fixture: another layer's detail header, Boost below stats, nlohmann outside integration, an umbrella.
#pragma once
#include <boost/math/special_functions/beta.hpp>
#include <nlohmann/json.hpp>

#include "canarygate/canarygate.hpp"
#include "canarygate/stats/fine.hpp"
#include "canarygate/window/detail/internal.hpp"
