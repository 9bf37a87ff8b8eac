// Copies the model files the browser engine needs into pkg/models/ and writes
// pkg/models/manifest.json. The list comes from the wasm build (requiredModels), so the
// package always ships exactly what the engine loads; each file's SHA-256 is checked.
//   node scripts/pkg-models.mjs OUT_DIR FLAVOUR
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [out, flavour] = process.argv.slice(2);
const glue = await import(pathToFileURL(resolve(out, "wasm", `liveproof_${flavour}.js`)).href);
glue.initSync({ module: readFileSync(resolve(out, "wasm", `liveproof_${flavour}_bg.wasm`)) });

// The browser engine: no age/gender (server-side only), no CelebA-Spoof model (licence).
const config = { age_gender: false, celeba_pad: false };
const entries = glue.requiredModels(config);
const listed = [];
for (const e of entries) {
  const bytes = readFileSync(join("models", e.file));
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== e.sha256) {
    throw new Error(`${e.file}: sha256 ${sha}, manifest ${e.sha256}; run scripts/setup-models.sh`);
  }
  writeFileSync(join(out, "models", e.file), bytes);
  listed.push({ role: e.role, file: e.file, sha256: e.sha256, bytes: e.bytes, licence: e.licence, source: e.source });
}
writeFileSync(join(out, "models", "manifest.json"), JSON.stringify({ engine: config, models: listed }, null, 2) + "\n");
console.log(`   models: ${listed.map((m) => m.file).join(", ")}`);
