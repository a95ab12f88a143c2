# SPDX-License-Identifier: MIT
#
# Recorder (layer 2: the per-request hot path) and collector (layer 3: slots,
# windows, snapshots). One file per behaviour; stress tests are labelled
# `concurrency` (CI runs them under TSan; each stays a few seconds there).
canarygate_add_test(test_recorder_basic)
canarygate_add_test(test_recorder_rejects)
canarygate_add_test(test_recorder_user_metric)
canarygate_add_test(test_recorder_no_alloc)
canarygate_add_test(test_recorder_layout)
canarygate_add_test(test_recorder_noexcept)
canarygate_add_test(test_recorder_thread_local)
canarygate_add_test(test_recorder_concurrency LABELS concurrency)
canarygate_add_test(test_collector_windows)
canarygate_add_test(test_collector_config)
canarygate_add_test(test_collector_background LABELS concurrency)
canarygate_add_test(test_recorder_index)
