// Fixture: Boost in the record layer.
#pragma once
#include <boost/math/tools/roots.hpp>
