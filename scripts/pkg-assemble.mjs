// Finishes pkg/: copies the model files the browser engine needs into pkg/models/ and writes
// pkg/models/manifest.json (the list comes from the wasm build's requiredModels, so the
// package ships exactly what the engine loads; each file's SHA-256 is checked), then writes
// pkg/files.json, every file of the package with its size and SHA-256 (the kiosk's service
// worker precaches from it).
//   node scripts/pkg-assemble.mjs OUT_DIR FLAVOUR
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
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

const files = [];
for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const path = relative(out, join(entry.parentPath, entry.name)).split("\\").join("/");
  if (path === "files.json") continue;
  const bytes = readFileSync(join(out, path));
  files.push({ path, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
}
files.sort((a, b) => a.path.localeCompare(b.path));
writeFileSync(join(out, "files.json"), JSON.stringify({ files }, null, 1) + "\n");
