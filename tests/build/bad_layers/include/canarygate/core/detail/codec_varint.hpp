// Fixture: the old detail/codec_varint.hpp reached up to snapshot.hpp.
#pragma once
#include "canarygate/window/snapshot.hpp"
