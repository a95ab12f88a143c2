// Fixture: the upward include the old attribution.hpp had.
#pragma once
#include "canarygate/window/snapshot.hpp"
