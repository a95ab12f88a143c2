// SPDX-License-Identifier: MIT
// GENERATED FILE -- do not edit. Regenerate from the repository root with:
//     /usr/bin/python3 tools/stats_reference.py > tests/generated/stats_reference_values.hpp
// (python 3.11.2, scipy 1.10.1)
#pragma once

#include <cstdint>
#include <limits>

namespace canarygate_test::reference {

struct beta_binomial_case {
    std::uint64_t successes;
    std::uint64_t trials;
    double p0;
    double a;
    double b;
    double log_e;
};
inline constexpr beta_binomial_case beta_binomial_cases[] = {
    {0u, 10u, 0.01, 0.5, 49.5, -0.14220637307510753},
    {1u, 10u, 0.01, 0.5, 49.5, 0.7036315876706645},
    {5u, 100u, 0.01, 0.5, 49.5, 3.0083956524722915},
    {12u, 400u, 0.01, 0.5, 49.5, 4.234685090810842},
    {30u, 1000u, 0.01, 0.5, 49.5, 11.661153029033912},
    {100u, 3000u, 0.01, 0.5, 49.5, 49.00473912971065},
    {0u, 3000u, 0.01, 0.5, 49.5, -3.716938800369978},
    {3000u, 3000u, 0.01, 0.5, 49.5, 13563.922815468075},
    {10u, 10u, 0.01, 0.5, 49.5, 20.59209783174654},
    {50u, 100u, 0.5, 0.5, 0.5, -2.530876403977105},
    {100u, 100u, 0.5, 0.5, 0.5, 67.1316652058439},
    {0u, 100u, 0.5, 0.5, 0.5, -5.066607964341584},
    {3u, 1000u, 1e-06, 0.5, 499999.5, 3.8447255501937487},
    {0u, 1000u, 1e-06, 0.5, 499999.5, -0.001523776992142345},
    {0u, 1000000u, 0.01, 0.5, 49.5, -9.49419928701872},
    {5000u, 1000000u, 0.01, 0.5, 49.5, -8.801348822150747},
    {9000u, 1000000u, 0.01, 0.5, 49.5, -7.201190764810861},
    {10100u, 1000000u, 0.01, 0.5, 49.5, -3.639267578118317},
    {10000000u, 1000000000u, 0.01, 0.5, 49.5, -8.112074087451063},
    {10010000u, 1000000000u, 0.01, 0.5, 49.5, -2.3712424539017265},
    {9000000u, 1000000000u, 0.01, 0.5, 49.5, -14.099280382620208},
    {0u, 1000000000u, 0.01, 0.5, 49.5, -16.401855674849063},
    {10000000000u, 1000000000000u, 0.01, 0.5, 49.5, -11.56587148886511},
    {10000500000u, 1000000000000u, 0.01, 0.5, 49.5, 1.7533076316205998},
    {5u, 20u, 0.999, 0.5, 0.0005005005005005009, -10.307203985392452},
    {20u, 20u, 0.999, 0.5, 0.0005005005005005009, 0.02000004648081255},
    {0u, 20u, 0.999, 0.5, 0.0005005005005005009, -10.59518308897316},
    {50u, 50u, 0.999999999, 0.5, 4.999999863590342e-10, 4.999999703159119e-08},
    {0u, 1000000u, 1e-09, 0.5, 499999999.5, -0.0015237756570378735},
    {2u, 1000000u, 1e-09, 0.5, 499999999.5, 2.204171103666642},
    {7u, 100u, 0.02, 0.5, 24.5, 2.993110792568358},
    {4u, 30u, 0.0196078431372549, 0.5, 25.0, 3.0069948292711},
    {5u, 100u, 0.01, 1.0, 1.0, 1.2381740418849307},
    {12u, 400u, 0.01, 2.0, 30.0, 3.8757825017468894},
    {0u, 1000000u, 0.01, 1.0, 1.0, -13.815511557963774},
    {40u, 60u, 0.3, 3.0, 0.7, 15.221051229489447},
};

struct one_sided_mixture_case {
    double s;
    double v;
    double rho;
    double log_e;
};
inline constexpr one_sided_mixture_case one_sided_mixture_cases[] = {
    {0.0, 10.0, 1.0, -1.1989476363991853},
    {3.0, 10.0, 1.0, -0.2986496731024155},
    {-3.0, 10.0, 1.0, -1.7957650577421518},
    {10.0, 100.0, 5.0, -0.5327167096148414},
    {50.0, 100.0, 5.0, 11.075647334685364},
    {-40.0, 100.0, 5.0, -3.1672474981373444},
    {1000.0, 100000.0, 2000.0, 3.6283240686051292},
    {0.5, 0.0, 0.1, 1.884539677175535},
    {-200.0, 100.0, 1.0, -5.52661797517208},
};

struct mixture_boundary_case {
    double v;
    double v_opt;
    double alpha;
    double rho_one_sided;
    double rho_two_sided;
    double one_sided;
    double two_sided;
};
inline constexpr mixture_boundary_case mixture_boundary_cases[] = {
    {0.0, 100.0, 0.05, 15.80063490685053, 12.60056097925634, 8.55938090857938, 8.688832739838338},
    {10.0, 100.0, 0.05, 15.80063490685053, 12.60056097925634, 11.492681796259564, 12.1907531463415},
    {100.0, 100.0, 0.05, 15.80063490685053, 12.60056097925634, 27.6607088306732, 30.35208990376253},
    {10000.0, 100.0, 0.05, 15.80063490685053, 12.60056097925634, 332.7971567836293, 356.16410409188995},
    {1000000.0, 10000.0, 0.001, 665.4843740680326, 605.6500413804196, 4445.000070081191, 4608.489923105314},
    {3.0, 1.0, 0.4, 1.2265623014293787, 0.34797496727469, 2.8064916427195956, 3.7034020315365836},
};

}  // namespace canarygate_test::reference
#include "canarygate/stats/quantile_bound.hpp"
namespace canarygate_test::reference {
struct quantile_rank_case {
    double p;
    double alpha;
    double t_opt;
    canarygate::stats::quantile_bound_side side;
    std::uint64_t t;
    std::uint64_t lower;
    std::uint64_t upper;
};
inline constexpr quantile_rank_case quantile_rank_cases[] = {
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 1u, 0u, 2u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 10u, 0u, 11u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 50u, 0u, 51u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 100u, 0u, 101u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 1000u, 0u, 1001u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 12345u, 0u, 12256u},
    {0.99, 0.025, 10000.0, canarygate::stats::quantile_bound_side::upper, 1000000u, 0u, 990355u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1u, 0u, 2u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 10u, 0u, 11u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 50u, 33u, 51u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 100u, 80u, 101u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1000u, 942u, 1000u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 12345u, 12040u, 12258u},
    {0.99, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1000000u, 988066u, 990386u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1u, 0u, 2u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 10u, 0u, 11u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 50u, 9u, 42u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 100u, 31u, 70u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1000u, 452u, 549u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 12345u, 5991u, 6355u},
    {0.5, 0.05, 1000.0, canarygate::stats::quantile_bound_side::both, 1000000u, 498066u, 501935u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 1u, 0u, 2u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 10u, 0u, 11u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 50u, 0u, 51u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 100u, 0u, 101u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 1000u, 750u, 991u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 12345u, 10881u, 11249u},
    {0.9, 0.01, 100000.0, canarygate::stats::quantile_bound_side::both, 1000000u, 898124u, 901127u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 1u, 0u, 2u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 10u, 0u, 11u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 50u, 0u, 51u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 100u, 1u, 101u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 1000u, 74u, 1001u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 12345u, 1131u, 12346u},
    {0.1, 0.05, 500.0, canarygate::stats::quantile_bound_side::lower, 1000000u, 98876u, 1000001u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 1u, 0u, 2u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 10u, 0u, 11u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 50u, 26u, 51u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 100u, 72u, 101u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 1000u, 902u, 972u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 12345u, 11552u, 11805u},
    {0.95, 0.05, 2000.0, canarygate::stats::quantile_bound_side::both, 1000000u, 948111u, 950824u},
};

struct dkw_case {
    std::uint64_t t;
    double alpha;
    double sequential;
    double fixed;
};
inline constexpr dkw_case dkw_cases[] = {
    {1u, 0.05, 1.0, 1.0},
    {2u, 0.05, 1.0, 0.9603227913199207},
    {3u, 0.05, 1.0, 0.7841002756996854},
    {10u, 0.05, 0.8276865444589954, 0.4294694083467376},
    {31u, 0.05, 0.3907066946441292, 0.24392223291761475},
    {100u, 0.05, 0.25150140185759123, 0.13581015157406195},
    {1000u, 0.05, 0.07323709247159801, 0.04294694083467376},
    {1023u, 0.05, 0.07159051072492476, 0.042461410541778134},
    {1024u, 0.05, 0.10184359975812936, 0.04244067236689436},
    {12345u, 0.05, 0.024293890935806344, 0.012223249785656724},
    {1000000u, 0.05, 0.0024557716468827234, 0.0013581015157406195},
    {1000000000000u, 0.05, 2.6230630879223837e-06, 1.3581015157406194e-06},
    {1u, 0.01, 1.0, 1.0},
    {2u, 0.01, 1.0, 1.0},
    {3u, 0.01, 1.0, 0.9397089413348544},
    {10u, 0.01, 0.9012029391878439, 0.5146997846583985},
    {31u, 0.01, 0.4241916680833012, 0.2923298337811533},
    {100u, 0.01, 0.27197489423551696, 0.16276236307187292},
    {1000u, 0.01, 0.07889875280157813, 0.05146997846583985},
    {1023u, 0.01, 0.07712488054895222, 0.05088809223054194},
    {1024u, 0.01, 0.10961234362308386, 0.05086323845996029},
    {12345u, 0.01, 0.026086977966332234, 0.014649015529934948},
    {1000000u, 0.01, 0.0026287488705264727, 0.0016276236307187293},
    {1000000000000u, 0.01, 2.7928003397351986e-06, 1.6276236307187293e-06},
};

struct srm_two_case {
    std::uint64_t n_candidate;
    std::uint64_t n_baseline;
    double rho;
    double kappa;
    double log_bf;
};
inline constexpr srm_two_case srm_two_cases[] = {
    {0u, 1u, 0.01, 100.0, 2.1026951223961299e-19},
    {1u, 0u, 0.01, 100.0, -2.0816681711721685e-17},
    {10u, 990u, 0.01, 100.0, -1.27244307990198},
    {20u, 980u, 0.01, 100.0, 2.0304762366937332},
    {130u, 9870u, 0.01, 100.0, 1.5985813088984238},
    {500u, 500u, 0.5, 100.0, -1.2012203220415492},
    {600u, 400u, 0.5, 100.0, 17.0989404164511},
    {10000000u, 990000000u, 0.01, 100.0, -8.140117751363704},
    {10050000u, 989950000u, 0.01, 100.0, 117.91223460868012},
    {5u, 5u, 0.2, 10.0, 0.6661549582300988},
};

struct srm_multi_case {
    std::uint64_t arms;
    std::uint64_t c0;
    std::uint64_t c1;
    std::uint64_t c2;
    std::uint64_t c3;
    double w0;
    double w1;
    double w2;
    double w3;
    double kappa;
    double log_bf;
};
inline constexpr srm_multi_case srm_multi_cases[] = {
    {2u, 10u, 990u, 0u, 0u, 1.0, 99.0, 0.0, 0.0, 100.0, -1.27244307990198},
    {3u, 120u, 130u, 750u, 0u, 1.0, 1.0, 6.0, 0.0, 100.0, -2.227744696638474},
    {3u, 0u, 0u, 5u, 0u, 1.0, 2.0, 3.0, 0.0, 50.0, 0.18367715500512097},
    {4u, 100u, 100u, 100u, 100u, 1.0, 1.0, 1.0, 1.0, 100.0, -2.4241561663089906},
    {4u, 1000u, 1300u, 1000u, 1000u, 1.0, 1.0, 1.0, 1.0, 100.0, 23.760880656212088},
};

struct clopper_pearson_case {
    std::uint64_t successes;
    std::uint64_t trials;
    double alpha;
    double lower;
    double upper;
};
inline constexpr clopper_pearson_case clopper_pearson_cases[] = {
    {0u, 10u, 0.05, 0.0, 0.3084971078187608},
    {10u, 10u, 0.05, 0.6915028921812392, 1.0},
    {3u, 10u, 0.05, 0.06673951117773447, 0.6524528500599973},
    {1u, 1000u, 0.05, 2.5317487491294045e-05, 0.005558924279826672},
    {50u, 100u, 0.01, 0.36886143735892407, 0.6311385626410759},
    {999u, 1000u, 0.1, 0.9952650064245002, 0.999948708021091},
    {123456u, 1000000u, 0.05, 0.12281184162962971, 0.12410234027680267},
};

}  // namespace canarygate_test::reference
#include "canarygate/stats/fixed_sample.hpp"
namespace canarygate_test::reference {
struct fieller_case {
    double mean_num;
    double var_num;
    double mean_den;
    double var_den;
    double alpha;
    canarygate::stats::fieller_kind kind;
    double lower;
    double upper;
};
inline constexpr fieller_case fieller_cases[] = {
    {12.0, 1.0, 10.0, 0.5, 0.05, canarygate::stats::fieller_kind::bounded, 0.9628868384797862, 1.4841134150612438},
    {1.0, 0.04, 0.3, 0.04, 0.05, canarygate::stats::fieller_kind::exclusive, -10.671197293977322, 1.245882730413788},
    {1.0, 0.04, 0.1, 0.04, 0.05, canarygate::stats::fieller_kind::exclusive, -3.2211503555714485, 1.828958421978947},
    {-5.0, 2.0, 4.0, 1.0, 0.1, canarygate::stats::fieller_kind::bounded, -2.3930448417723817, -0.61572801493549},
    {0.1, 1.0, 0.1, 1.0, 0.05, canarygate::stats::fieller_kind::unbounded, -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()},
};

inline constexpr double mw_x[] = {1.2, 3.4, 3.4, 5.0, 7.7, 2.2, 9.1, 3.4, 6.0, 0.5, 4.4, 4.4};
inline constexpr double mw_y[] = {2.0, 3.4, 8.8, 10.1, 4.4, 12.0, 6.5, 7.0, 9.9, 3.3, 11.0};
inline constexpr double mw_big_x[] = {1.5, 1.3, 0.7, 0.5, 0.9, 2.1, 2.2, 1.7, 1.2, 2.6, 2.1, 0.9, 0.5, 0.8, 0.8, 1.5, 0.3, 0.9, 2.7, 0.6, 0.6, 1.0, 0.4, 0.9, 1.0, 1.0, 0.6, 0.8, 1.5, 0.7, 1.4, 1.5, 0.4, 0.7, 1.5, 1.3, 1.1, 0.8, 1.1, 3.1, 0.9, 1.4, 0.8, 0.9, 1.5, 0.6, 0.9, 0.7, 0.6, 1.1, 2.1, 1.1, 0.8, 0.4, 1.6, 1.1, 0.7, 1.7, 2.6, 0.4};
inline constexpr double mw_big_y[] = {1.7, 2.0, 1.7, 3.2, 1.8, 0.7, 11.9, 1.3, 3.0, 4.0, 2.1, 0.4, 0.4, 0.8, 1.2, 0.5, 0.7, 0.9, 0.9, 1.4, 1.3, 1.2, 0.8, 0.7, 0.4, 2.6, 1.4, 1.5, 0.4, 1.9, 1.2, 2.2, 0.8, 2.2, 2.9, 1.1, 1.0, 1.0, 1.3, 6.3, 1.2, 1.8, 0.5, 0.3, 1.3, 1.2, 2.5, 0.3, 1.6, 0.4, 3.5, 1.9, 0.7, 1.9, 2.1, 1.3, 3.1, 2.2, 1.2, 0.9, 1.9, 0.8, 0.3, 1.0, 0.4, 2.2, 1.3, 1.7, 2.5, 1.2, 1.2, 1.6, 5.1, 1.1, 1.0};
inline constexpr double mw_centre_x[] = {1.0, 4.0};
inline constexpr double mw_centre_y[] = {2.0, 3.0};

struct mann_whitney_case {
    std::uint64_t sample;
    canarygate::stats::alternative alt;
    bool continuity;
    double u;
    double p_value;
};
inline constexpr mann_whitney_case mann_whitney_cases[] = {
    {0u, canarygate::stats::alternative::two_sided, true, 36.5, 0.07328821662368075},
    {0u, canarygate::stats::alternative::two_sided, false, 36.5, 0.06846841460294721},
    {0u, canarygate::stats::alternative::less, true, 36.5, 0.036644108311840375},
    {0u, canarygate::stats::alternative::less, false, 36.5, 0.034234207301473606},
    {0u, canarygate::stats::alternative::greater, true, 36.5, 0.96804386539645},
    {0u, canarygate::stats::alternative::greater, false, 36.5, 0.9657657926985264},
    {1u, canarygate::stats::alternative::two_sided, true, 1724.5, 0.019916625860718577},
    {1u, canarygate::stats::alternative::two_sided, false, 1724.5, 0.019799180562567683},
    {1u, canarygate::stats::alternative::less, true, 1724.5, 0.009958312930359288},
    {1u, canarygate::stats::alternative::less, false, 1724.5, 0.009899590281283841},
    {1u, canarygate::stats::alternative::greater, true, 1724.5, 0.9901588297862376},
    {1u, canarygate::stats::alternative::greater, false, 1724.5, 0.9901004097187162},
    {2u, canarygate::stats::alternative::two_sided, true, 2.0, 1.0},
    {2u, canarygate::stats::alternative::two_sided, false, 2.0, 1.0},
    {2u, canarygate::stats::alternative::less, true, 2.0, 0.6507323208483307},
    {2u, canarygate::stats::alternative::less, false, 2.0, 0.5},
    {2u, canarygate::stats::alternative::greater, true, 2.0, 0.6507323208483307},
    {2u, canarygate::stats::alternative::greater, false, 2.0, 0.5},
};

struct z_test_case {
    double mean;
    double se;
    double mu0;
    double z;
    double p_value;
};
inline constexpr z_test_case z_test_cases[] = {
    {1.0, 0.5, 0.0, 2.0, 0.04550026389635839},
    {-3.0, 1.0, 0.0, -3.0, 0.0026997960632601866},
    {10.0, 2.0, 10.0, 0.0, 1.0},
    {0.0, 0.1, 4.0, -40.0, 0.0},
};

}  // namespace canarygate_test::reference
