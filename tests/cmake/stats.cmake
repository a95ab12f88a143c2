# Statistical primitives (layer 4): anytime-valid e-processes and confidence
# sequences, checked against quadrature, SciPy references
# (tools/stats_reference.py) and simulation.
foreach(name IN ITEMS beta_binomial normal_mixture betting quantile_bound srm ks fixed_sample)
    canarygate_add_test(test_stats_${name})
endforeach()
