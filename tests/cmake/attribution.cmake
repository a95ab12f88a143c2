# SPDX-License-Identifier: MIT
#
# Late-feedback attribution (canarygate/attribution.hpp) and price tables
# (canarygate/pricing.hpp).
canarygate_add_test(test_attribution_hash)
canarygate_add_test(test_attribution_map)
canarygate_add_test(test_attribution_alloc)
canarygate_add_test(test_attribution_stress LABELS concurrency)
canarygate_add_test(test_pricing)
