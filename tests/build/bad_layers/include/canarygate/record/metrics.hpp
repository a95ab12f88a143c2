// Fixture: the upward include the old metrics.hpp had.
#pragma once
#include "canarygate/window/snapshot.hpp"
