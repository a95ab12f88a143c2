# SPDX-License-Identifier: MIT
#
# Policy files (integration/json_policy.hpp) against the real peers from
# npm: the JSON Schema (schema/policy.schema.json) under a real validator,
# and flag files under flagd's own evaluator.
