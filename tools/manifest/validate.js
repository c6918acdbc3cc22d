#!/usr/bin/env node
// Validates Teams app manifest and localization files against Microsoft's official JSON
// schema named by each file's "$schema", with the validator of @microsoft/app-manifest.
// The schemas come from that package only: a file whose schema it does not ship fails
// instead of being fetched, so the check never needs the network.
//
//   node tools/manifest/validate.js build/package/manifest.json build/package/sv.json …
//
// Prints one line per file ("ok …" or "FAIL …" and the schema's complaints) and exits 1
// when any file fails.
"use strict";

const fs = require("fs");
const path = require("path");
const { AppManifestUtils } = require("@microsoft/app-manifest");
const AjvDraft04 = require("ajv-draft-04");
const addFormats = require("ajv-formats");

const PACKAGE_DIR = path.dirname(require.resolve("@microsoft/app-manifest/package.json"));
const SCHEMA_HOST = /^https:\/\/developer\.microsoft\.com\/(?:[a-z]{2}(?:-[a-z]{2})?\/)?(json-schemas\/teams\/[^?#]+)$/i;

function localSchema(url) {
  const match = SCHEMA_HOST.exec(url || "");
  if (!match) {
    throw new Error(`"$schema" is not a Microsoft Teams schema address: ${url}`);
  }
  const file = path.join(PACKAGE_DIR, "build", match[1]);
  if (!fs.existsSync(file)) {
    throw new Error(`@microsoft/app-manifest does not ship ${match[1]}`);
  }
  return { file: match[1], schema: JSON.parse(fs.readFileSync(file, "utf8")) };
}

// Every Localization schema since v1.8 has a pattern with an unescaped "]"
// (activities.activityTypes[…]), which JavaScript refuses in Unicode mode, so
// AppManifestUtils cannot compile it (MicrosoftDocs/msteams-docs#8858). This is the same
// validator with the same options (draft-04, allErrors, uri/email/regex formats) except
// that patterns are compiled as plain JavaScript regular expressions, where a lone "]"
// means itself, as the schema's authors meant.
function validateWithoutUnicodePatterns(document, schema) {
  const ajv = new AjvDraft04({ allErrors: true, strictTypes: false, unicodeRegExp: false });
  addFormats(ajv, ["uri", "email", "regex"]);
  const check = ajv.compile(schema);
  if (check(document)) return [];
  return check.errors.map(
    (error) => `${error.instancePath} ${error.message || ""}. Details: ${JSON.stringify(error.params)}`,
  );
}

async function validate(file) {
  const document = JSON.parse(fs.readFileSync(file, "utf8"));
  const { file: schemaFile, schema } = localSchema(document.$schema);
  try {
    const failures = await AppManifestUtils.validateAgainstSchema(document, schema);
    return { schemaFile, failures, note: "" };
  } catch (error) {
    if (!/Invalid regular expression/.test(error.message) || schema.$schema?.includes("2020-12")) {
      throw error;
    }
    const failures = validateWithoutUnicodePatterns(document, schema);
    return { schemaFile, failures, note: " [patterns compiled without the u flag: msteams-docs#8858]" };
  }
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: validate.js FILE.json …");
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    try {
      const { schemaFile, failures, note } = await validate(file);
      if (failures.length === 0) {
        console.log(`ok ${file} (${schemaFile})${note}`);
      } else {
        failed += 1;
        console.log(`FAIL ${file} (${schemaFile})${note}`);
        for (const failure of failures) console.log(`  ${failure}`);
      }
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${file}: ${error.message}`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
