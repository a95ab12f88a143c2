// Fixture: the upward include the old calibration.hpp had.
#pragma once
#include "canarygate/testing/scenario.hpp"
