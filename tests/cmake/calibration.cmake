# SPDX-License-Identifier: MIT
#
# Naive comparators (Argo Rollouts / Flagger thresholds, re-checked fixed
# tests, Kayenta's Mann-Whitney) and the A/A calibration API. Both include
# simulations with Clopper-Pearson tolerances (label `calibration`: run in
# the optimised builds, excluded from the sanitizer presets for time).
canarygate_add_test(test_naive LABELS calibration)
canarygate_add_test(test_calibration LABELS calibration)
