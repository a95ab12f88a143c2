// SPDX-License-Identifier: MIT
// schema/policy.schema.json under a real JSON Schema validator (ajv, draft
// 2020-12, strict mode; pinned in tests/rollout/ecosystem/package.json):
//
//   node check_schema.mjs SCHEMA EXAMPLES VALID INVALID READER_ONLY
//
// - the schema compiles in strict mode (no unknown keywords, formats or
//   types left ambiguous);
// - every EXAMPLES/*.json validates: a policy document, or a flagd flag file
//   (a top-level "flags" object) each of whose flags' variants does;
// - every VALID/*.json validates (documents at the boundaries of the ranges);
// - every INVALID/*.json fails (the C++ reader refuses each at the path
//   INVALID/expected.json names: run_checks.cmake checks that side);
// - every READER_ONLY/*.json validates: the rules only the reader can check,
//   each refused by the reader (READER_ONLY/expected.json) and not by the
//   schema, which documents exactly where the schema is weaker.
// Each directory's expected.json must name exactly the .json files present.
//
// Run from the directory that holds node_modules (the build tree's
// ecosystem directory). Exit status 0 only when every check holds.
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";

const [schemaPath, examplesDir, validDir, invalidDir, readerOnlyDir] = process.argv.slice(2);
if (!readerOnlyDir) {
    console.error("usage: node check_schema.mjs SCHEMA EXAMPLES VALID INVALID READER_ONLY");
    process.exit(2);
}

let failures = 0;
function fail(message) {
    console.error(`FAIL ${message}`);
    ++failures;
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
let validate;
try {
    validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
} catch (e) {
    console.error(`FAIL ${schemaPath} does not compile in strict mode: ${e.message}`);
    process.exit(1);
}

const errorsText = () => ajv.errorsText(validate.errors, { separator: "; " });
const jsonFiles = (dir) =>
    readdirSync(dir)
        .filter((f) => f.endsWith(".json") && f !== "expected.json")
        .sort();
const load = (file) => JSON.parse(readFileSync(file, "utf8"));

// The manifest names exactly the files present (the C++ side reads it too).
function checkManifest(dir) {
    const manifest = load(join(dir, "expected.json"));
    const files = jsonFiles(dir);
    for (const f of files) if (!(f in manifest)) fail(`${dir}/${f} is not in expected.json`);
    for (const f of Object.keys(manifest))
        if (!files.includes(f)) fail(`${dir}/expected.json names ${f}, which does not exist`);
    if (files.length === 0) fail(`${dir} holds no documents`);
    return files;
}

function expectValid(label, doc) {
    if (validate(doc)) {
        console.log(`ok   ${label} validates`);
    } else {
        fail(`${label} should validate: ${errorsText()}`);
    }
}

// Examples: policy documents and flag files.
let examples = 0;
for (const f of jsonFiles(examplesDir)) {
    const doc = load(join(examplesDir, f));
    if (doc && typeof doc === "object" && "flags" in doc && !("format" in doc)) {
        for (const [key, flag] of Object.entries(doc.flags)) {
            const variants = Object.entries(flag.variants ?? {});
            if (variants.length === 0) fail(`${f}: flag ${key} has no variants`);
            for (const [name, variant] of variants) {
                expectValid(`${f} flags.${key}.variants.${name}`, variant);
                ++examples;
            }
        }
    } else {
        expectValid(f, doc);
        ++examples;
    }
}
if (examples < 5) fail(`${examplesDir}: only ${examples} policy documents (expected at least 5)`);

for (const f of jsonFiles(validDir)) expectValid(`valid/${f}`, load(join(validDir, f)));

for (const f of checkManifest(invalidDir)) {
    if (validate(load(join(invalidDir, f)))) {
        fail(`invalid/${f} validates, but the reader refuses it: the schema is missing a rule`);
    } else {
        console.log(`ok   invalid/${f} refused: ${errorsText()}`);
    }
}

const readerOnly = basename(readerOnlyDir);
for (const f of checkManifest(readerOnlyDir)) {
    if (validate(load(join(readerOnlyDir, f)))) {
        console.log(`ok   ${readerOnly}/${f} validates (only the reader refuses it)`);
    } else {
        fail(
            `${readerOnly}/${f} is refused by the schema (${errorsText()}): ` +
                "move it to invalid/, the schema now checks its rule",
        );
    }
}

if (failures > 0) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log("all schema checks passed");
