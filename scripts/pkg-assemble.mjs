// Finishes pkg/: copies the model files the browser engine needs into pkg/models/ and writes
// pkg/models/manifest.json (the list comes from the wasm build's requiredModels, so the
// package ships exactly what the engine loads: `models` with the engine, `on_demand` when a
// session needs them; each file's SHA-256 is checked), then writes
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

// The browser engine: no age/gender (server-side only), no CelebA-Spoof model (licence), the
// compact weight files (derived into models/ by `liveproof models --write-compact`), and the
// emotion model on demand (only a script with a smile loads it).
const config = { age_gender: false, celeba_pad: false, weights: "compact", emotion: false };
const entries = glue.requiredModels(config);
const onDemand = glue.requiredModels({ ...config, emotion: true }).filter((e) => !entries.some((d) => d.file === e.file));

function ship(e) {
  const bytes = readFileSync(join("models", e.file));
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== e.sha256) {
    throw new Error(`${e.file}: sha256 ${sha}, manifest ${e.sha256}; run scripts/setup-models.sh (and \`liveproof models --write-compact\`)`);
  }
  writeFileSync(join(out, "models", e.file), bytes);
  return { role: e.role, file: e.file, sha256: e.sha256, bytes: e.bytes, weights: e.weights ?? "original", licence: e.licence, source: e.source };
}
const listed = entries.map(ship);
const later = onDemand.map(ship);
writeFileSync(
  join(out, "models", "manifest.json"),
  JSON.stringify({ engine: config, models: listed, on_demand: later }, null, 2) + "\n",
);
console.log(`   models: ${listed.map((m) => m.file).join(", ")}; on demand: ${later.map((m) => m.file).join(", ")}`);

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
