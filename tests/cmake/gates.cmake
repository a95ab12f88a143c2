# Gates (layer 5): decisions on simulated rollouts, and a reduced calibration
# run (label `calibration`: excluded from the sanitizer presets for time).
canarygate_add_test(test_gates)
canarygate_add_test(test_gates_calibration LABELS calibration)
canarygate_add_test(test_gates_batch)
