// SPDX-License-Identifier: MIT
// A policy flag file under flagd's own evaluator (@openfeature/flagd-core,
// pinned in tests/rollout/ecosystem/package.json):
//
//   node check_flagd.mjs FLAGS OUT_DIR INVALID_FLAGS
//
// - flagd-core loads FLAGS (examples/policies/flags.json) with its schema
//   validation on (flagd's flags.json and targeting schemas) and resolves
//   flag "chat-rollout-policy" to its default variant "rollout", statically;
//   the resolved value is written to OUT_DIR/resolved-rollout.json, and, after
//   flipping defaultVariant to "rollback" in the text, to
//   OUT_DIR/resolved-rollback.json. run_checks.cmake then has canarygate's
//   reader compare them with its own reading of FLAGS, byte for byte in
//   canonical form;
// - every INVALID_FLAGS/*.json whose expected.json entry says "flagd":
//   "refuses" is refused by flagd-core's validating load; those marked
//   "accepts" (flag files flagd serves but canarygate refuses: a missing or
//   null defaultVariant, a targeting rule, a disabled flag) are loaded by it.
//
// Validation: FlagdCore.setConfigurations(text) in flagd-core 4.0.1 takes no
// second argument and calls its storage without one, so flagd's schema is
// only logged at debug level, never enforced, whatever the caller passes.
// The validating load is MemoryStorage.setConfigurations(text, true) (the
// `strictValidation` parameter), on a storage the FlagdCore then evaluates.
//
// Run from the directory that holds node_modules. Exit status 0 only when
// every check holds.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FlagdCore, MemoryStorage } from "@openfeature/flagd-core";

const [flagsPath, outDir, invalidDir] = process.argv.slice(2);
if (!invalidDir) {
    console.error("usage: node check_flagd.mjs FLAGS OUT_DIR INVALID_FLAGS");
    process.exit(2);
}
const flagKey = "chat-rollout-policy";

let failures = 0;
function fail(message) {
    console.error(`FAIL ${message}`);
    ++failures;
}

const messages = [];
const logger = {
    error: (...a) => messages.push(["error", a.join(" ")]),
    warn: (...a) => messages.push(["warn", a.join(" ")]),
    info: (...a) => messages.push(["info", a.join(" ")]),
    debug: (...a) => messages.push(["debug", a.join(" ")]),
};

// A refusal in one line: flagd-core's message carries its schema errors as
// JSON after the first ": ".
function summary(error) {
    const at = error.message.indexOf(": ");
    try {
        const errors = JSON.parse(error.message.slice(at + 2));
        const first = errors
            .slice(0, 2)
            .map((e) => `${e.instancePath || "/"} ${e.message}`)
            .join("; ");
        return `${error.message.slice(0, at)}: ${first}${errors.length > 2 ? "; ..." : ""}`;
    } catch {
        const cause = error.cause ? ` (${String(error.cause.message).split("\n")[0]})` : "";
        return error.message.split("\n")[0] + cause;
    }
}

// flagd-core with its schema validation enforced (see the file comment).
function load(text) {
    const storage = new MemoryStorage(logger);
    storage.setConfigurations(text, true);
    return new FlagdCore(storage, logger);
}

function resolve(text, expectedVariant) {
    let core;
    try {
        core = load(text);
    } catch (e) {
        fail(`flagd-core refuses the flag file (${expectedVariant}): ${e.message}`);
        return undefined;
    }
    const r = core.resolveObjectEvaluation(flagKey, {}, {}, logger);
    if (r.errorCode !== undefined) fail(`${flagKey}: ${r.errorCode} ${r.errorMessage}`);
    if (r.variant !== expectedVariant)
        fail(`${flagKey} resolves to variant ${r.variant}, expected ${expectedVariant}`);
    if (r.reason !== "STATIC") fail(`${flagKey} resolves with reason ${r.reason}, expected STATIC`);
    if (r.value === null || typeof r.value !== "object" || Array.isArray(r.value))
        fail(`${flagKey} resolves to ${JSON.stringify(r.value)}, not a policy object`);
    console.log(`ok   ${flagKey} resolves to variant ${r.variant} (${r.reason})`);
    return r.value;
}

const text = readFileSync(flagsPath, "utf8");
const file = JSON.parse(text);
mkdirSync(outDir, { recursive: true });

const rollout = resolve(text, "rollout");
if (rollout !== undefined) {
    const expected = file.flags[flagKey].variants.rollout;
    if (JSON.stringify(rollout) !== JSON.stringify(expected))
        fail("the resolved value differs from the file's rollout variant");
    writeFileSync(join(outDir, "resolved-rollout.json"), JSON.stringify(rollout, null, 2) + "\n");
}
// The flip a team makes: defaultVariant "rollout" -> "rollback".
const flipped = text.replace('"defaultVariant": "rollout"', '"defaultVariant": "rollback"');
if (flipped === text) fail(`${flagsPath} has no '"defaultVariant": "rollout"' to flip`);
const rollback = resolve(flipped, "rollback");
if (rollback !== undefined) {
    if (rollback.action !== "roll_back")
        fail(`the rollback variant's action is ${rollback.action}, expected roll_back`);
    writeFileSync(join(outDir, "resolved-rollback.json"), JSON.stringify(rollback, null, 2) + "\n");
}

// Invalid flag files.
const manifest = JSON.parse(readFileSync(join(invalidDir, "expected.json"), "utf8"));
const files = readdirSync(invalidDir).filter((f) => f.endsWith(".json") && f !== "expected.json");
for (const f of files) if (!(f in manifest)) fail(`${invalidDir}/${f} is not in expected.json`);
for (const [f, expected] of Object.entries(manifest)) {
    if (!files.includes(f)) {
        fail(`${invalidDir}/expected.json names ${f}, which does not exist`);
        continue;
    }
    const body = readFileSync(join(invalidDir, f), "utf8");
    let refusal;
    try {
        load(body);
    } catch (e) {
        refusal = summary(e);
    }
    if (expected.flagd === "refuses") {
        if (refusal === undefined) fail(`invalid-flags/${f}: flagd-core loads it, expected a refusal`);
        else console.log(`ok   invalid-flags/${f} refused by flagd-core: ${refusal}`);
    } else if (expected.flagd === "accepts") {
        if (refusal !== undefined) fail(`invalid-flags/${f}: flagd-core refuses it (${refusal})`);
        else console.log(`ok   invalid-flags/${f} loaded by flagd-core (canarygate refuses it)`);
    } else {
        fail(`invalid-flags/expected.json: ${f} has flagd = ${expected.flagd}`);
    }
}

// The trap this script avoids, checked so that an upgrade that changes it is
// noticed: FlagdCore.setConfigurations(text, true) does not validate.
{
    const notAnObject = join(invalidDir, "variant-not-an-object.json");
    let threw = false;
    try {
        new FlagdCore(undefined, logger).setConfigurations(readFileSync(notAnObject, "utf8"), true);
    } catch {
        threw = true;
    }
    console.log(
        threw
            ? "note FlagdCore.setConfigurations(text, true) now validates: the MemoryStorage detour may go"
            : "note FlagdCore.setConfigurations(text, true) loaded variant-not-an-object.json: it " +
                  "ignores its second argument (flagd-core 4.0.1), hence MemoryStorage",
    );
}

if (failures > 0) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log("all flagd checks passed");
