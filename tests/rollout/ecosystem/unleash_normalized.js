// SPDX-License-Identifier: MIT
// Unleash's Node SDK's normalizedHash of each key, for the conformance test
// of canarygate's router (conformance.cpp).
//
//   node unleash_normalized.js <group ids, comma-separated> <keys.hex> <out.txt>
//
// out.txt: one line per key, the space-separated normalizedStrategyValue
// (murmur3 of "groupId:key" % 100 + 1, in 1..100) for each group id. A
// flexible or gradual rollout at R % enables the key iff the value is <= R.
'use strict';
const fs = require('fs');
const { normalizedStrategyValue } = require('unleash-client/lib/strategy/util');
const FlexibleRolloutStrategy = require('unleash-client/lib/strategy/flexible-rollout-strategy').default;

const [groupList, keysPath, outPath] = process.argv.slice(2);
const groups = groupList.split(',');
const strategy = new FlexibleRolloutStrategy();
const lines = fs.readFileSync(keysPath, 'utf8').split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const out = [];
let checked = 0;
for (const [i, line] of lines.entries()) {
  const key = Buffer.from(line, 'hex').toString('utf8');
  const values = groups.map((g) => normalizedStrategyValue(key, g));
  // Every 97th key: the SDK's strategy object itself must agree with the
  // value at a rollout just below and at it, so that the value printed is
  // the one the SDK decides by.
  if (i % 97 === 0 && key !== '') {
    const v = values[0];
    const at = strategy.isEnabled({ rollout: String(v), stickiness: 'userId', groupId: groups[0] }, { userId: key });
    const below = strategy.isEnabled({ rollout: String(v - 1), stickiness: 'userId', groupId: groups[0] }, { userId: key });
    if (!at || below) throw new Error(`key ${line}: normalized ${v} but isEnabled(${v}) = ${at}, isEnabled(${v - 1}) = ${below}`);
    ++checked;
  }
  out.push(values.join(' '));
}
if (checked === 0) throw new Error('no key was checked through FlexibleRolloutStrategy');
fs.writeFileSync(outPath, out.join('\n') + '\n');
