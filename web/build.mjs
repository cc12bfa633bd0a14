// Bundles src/vendor.js into the page's static folder, deterministically, and records its SHA-256.
// `node build.mjs --check` builds in memory and fails unless the committed bundle and its hash match:
// CI runs it after `npm ci`, so the committed file is exactly what the lock file's packages build.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "client", "scmfit", "web", "static", "vendor");
const outFile = join(outDir, "scmfit-vendor.js");
const sumsFile = join(outDir, "SHA256SUMS");

const result = await build({
  entryPoints: [join(here, "src", "vendor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "eof",
  write: false,
  logLevel: "warning",
});
const bytes = result.outputFiles[0].contents;
const digest = createHash("sha256").update(bytes).digest("hex");
const line = `${digest}  scmfit-vendor.js\n`;

if (process.argv.includes("--check")) {
  let committed, sums;
  try {
    committed = readFileSync(outFile);
    sums = readFileSync(sumsFile, "utf8");
  } catch (error) {
    console.error(`web/build.mjs --check: ${error.message}; run \`npm ci && npm run build\` in web/ and commit`);
    process.exit(1);
  }
  const actual = createHash("sha256").update(committed).digest("hex");
  if (actual !== digest || sums !== line) {
    console.error(
      `web/build.mjs --check: the committed bundle (${actual}) or SHA256SUMS does not match a fresh build ` +
        `(${digest}); run \`npm ci && npm run build\` in web/ and commit both`,
    );
    process.exit(1);
  }
  console.log(`vendor bundle matches a fresh build: ${digest}`);
} else {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(outFile, bytes);
  writeFileSync(sumsFile, line);
  console.log(`wrote ${outFile} (${bytes.length} bytes), sha256 ${digest}`);
}
