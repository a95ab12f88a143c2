// SPDX-License-Identifier: MIT
// Assigns keys with flagd's own evaluator (@openfeature/flagd-core), for the
// conformance test of canarygate's router (conformance.cpp).
//
//   node flagd_fractional.js <vectors.json> <keys.hex> <out.txt>
//
// vectors.json: [{"flag": "<flag key>", "arms": [["baseline", 90], ["candidate", 10]]}, ...]
//   (arm order as flagd lists the variants).
// keys.hex: one key per line, the hex of its bytes. They are decoded as
//   Node decodes UTF-8 (Buffer#toString: WHATWG, U+FFFD for ill-formed bytes),
//   which is what a JavaScript gateway receives.
// out.txt: one line per key, one character per vector: 0 baseline,
//   1 candidate, as flagd resolves the flag (default variant: baseline).
'use strict';
const fs = require('fs');
const { FlagdCore, MemoryStorage } = require('@openfeature/flagd-core');

const [vectorsPath, keysPath, outPath] = process.argv.slice(2);
const vectors = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'));
const flags = {};
for (const v of vectors) {
  flags[v.flag] = {
    state: 'ENABLED',
    variants: { baseline: 0, candidate: 1 },
    defaultVariant: 'baseline',
    targeting: { fractional: v.arms },
  };
}
// Strict mode: a flag that flagd's schema refuses throws instead of being
// logged and half-used.
const logger = { error() {}, warn() {}, info() {}, debug() {} };
const storage = new MemoryStorage(logger);
storage.setConfigurations(JSON.stringify({ flags }), true);
const core = new FlagdCore(storage, logger);

const lines = fs.readFileSync(keysPath, 'utf8').split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const line of lines) {
  const key = Buffer.from(line, 'hex').toString('utf8');
  let row = '';
  for (const v of vectors) {
    const r = core.resolveNumberEvaluation(v.flag, -1, { targetingKey: key });
    if (r.value !== 0 && r.value !== 1) throw new Error(`flag ${v.flag}, key ${line}: value ${r.value}`);
    row += r.value;
  }
  out.push(row);
}
fs.writeFileSync(outPath, out.join('\n') + '\n');
