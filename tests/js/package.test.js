// The package as published: version agreement, the exports map, `npm pack` contents, and
// the types (the hand-written .d.ts files against a usage file, and the JS sources under
// `checkJs --strict`), with the TypeScript 5 compiler from the dev dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, PKG, pkg } from './helpers.js';

const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));

test('package.json: name, version, licence, ESM; VERSION agrees', async () => {
  assert.equal(manifest.name, 'liveproof');
  assert.equal(manifest.version, '0.1.0');
  assert.equal(manifest.license, 'Apache-2.0');
  assert.equal(manifest.type, 'module');
  assert.equal((await pkg()).VERSION, manifest.version);
  assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
});

test('every exports target exists in the built package', () => {
  for (const [key, target] of Object.entries(manifest.exports)) {
    if (key.includes('*')) continue;
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const t of targets) assert.ok(existsSync(join(PKG, t)), `${key} → ${t}`);
  }
});

test('npm pack ships the code, types, wasm and models, nothing else', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', PKG], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['index.js', 'index.d.ts', 'element.js', 'element.d.ts', 'kiosk.js', 'kiosk.d.ts', 'worker.js', 'engine-host.js', 'README.md', 'package.json', 'models/manifest.json', 'files.json', 'wasm/liveproof_simd.js', 'wasm/liveproof_simd_bg.wasm']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  const models = JSON.parse(readFileSync(join(PKG, 'models', 'manifest.json'), 'utf8')).models;
  for (const m of models) assert.ok(files.includes(`models/${m.file}`), m.file);
  assert.deepEqual(files.filter((f) => !/^(?:[\w-]+\.(?:js|d\.ts)|README\.md|package\.json|files\.json|models\/[\w.-]+\.(?:onnx|json)|wasm\/liveproof_\w+(?:_bg\.wasm|\.js|\.d\.ts|_bg\.wasm\.d\.ts))$/.test(f)), []);
});

test('types: the .d.ts files type-check a usage file, and the JS sources pass checkJs --strict', () => {
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  assert.ok(existsSync(tsc), 'run `npm ci` at the repo root (TypeScript is a dev dependency)');
  execFileSync(tsc, ['-p', join(ROOT, 'tests', 'js', 'tsconfig.json')], { encoding: 'utf8' });
  execFileSync(tsc, ['-p', join(ROOT, 'tests', 'js', 'tsconfig.sources.json')], { encoding: 'utf8' });
});

test('the packed tarball installs and works by package name (exports map, inline engine)', { timeout: 240000 }, async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-consumer-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir, PKG], { cwd: ROOT, encoding: 'utf8' });
  const tgz = join(dir, JSON.parse(out)[0].filename);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tgz], { cwd: dir, encoding: 'utf8' });
  writeFileSync(join(dir, 'app.js'), `
    import { Liveness, LivenessError, VERSION } from 'liveproof';
    import { DeviceKey, ResultQueue } from 'liveproof/kiosk';
    import { EngineHost } from 'liveproof/engine-host';
    import pkgJson from 'liveproof/package.json' with { type: 'json' };
    const lv = await Liveness.create({ transport: 'inline', challenges: { script: ['LOOK_UP'] } });
    const r = await lv.process({ data: new Uint8Array(120 * 90 * 4), width: 120, height: 90 }, 0);
    console.log(JSON.stringify({ script: lv.script, version: VERSION, pkg: pkgJson.version, guidance: r.record.guidance,
      kiosk: typeof DeviceKey + typeof ResultQueue + typeof EngineHost, err: new LivenessError('closed', 'x').code, wasm: lv.stats().wasm }));
    lv.close();
  `);
  const res = JSON.parse(execFileSync(process.execPath, ['--no-warnings', 'app.js'], { cwd: dir, encoding: 'utf8' }).trim());
  assert.deepEqual(res, { script: ['LOOK UP'], version: '0.1.0', pkg: '0.1.0', guidance: ['no_face'], kiosk: 'functionfunctionfunction', err: 'closed', wasm: 'simd' });
});

test('the wrapper\'s copies of the core\'s limits match the wasm build\'s', async () => {
  const { CORE_DEFAULT_TIMEOUT_MS, CORE_MAX_TIMEOUT_MS, MAX_DETECT_EVERY, QUALITY_KEYS, ACTION_THRESHOLD_KEYS, EVIDENCE_KEYS } = await pkg('options.js');
  const glue = await pkg('wasm/liveproof_simd.js');
  glue.initSync({ module: readFileSync(join(PKG, 'wasm', 'liveproof_simd_bg.wasm')) });
  const d = glue.sessionDefaults();
  assert.equal(CORE_DEFAULT_TIMEOUT_MS, d.challenge.timeout_ms);
  assert.equal(CORE_MAX_TIMEOUT_MS, d.max_timeout_ms);
  assert.equal(MAX_DETECT_EVERY, d.max_detect_every);
  assert.deepEqual([...QUALITY_KEYS].sort(), Object.keys(d.engine.quality).sort());
  assert.deepEqual([...ACTION_THRESHOLD_KEYS].sort(), Object.keys(d.challenge.thresholds).sort());
  assert.deepEqual([...EVIDENCE_KEYS].sort(), Object.keys(d.evidence).sort());
});

/**
 * The "Defaults to …" sentences of a .d.ts file, by the dotted path of the field each documents
 * (`LivenessOptions.challenges.count`, `ActionThresholds.yaw_deg`): `{text, value, doc}` where
 * `text` is the sentence after "Defaults to " and `value` its literal (number, boolean,
 * `'string'`, `{}`; a trailing parenthesis ignored), or undefined when it is prose.
 * @param {string} dts
 */
function statedDefaults(dts) {
  const out = new Map();
  const scope = [];
  let doc = null;
  let inDoc = false;
  for (const raw of dts.split('\n')) {
    const line = raw.trim();
    if (inDoc || line.startsWith('/**')) {
      const text = line.replace(/^\/\*\*/, '').replace(/\*\/$/, '').replace(/^\*(?!\/)\s?/, '').trim();
      doc = inDoc ? `${doc} ${text}` : text;
      inDoc = !line.endsWith('*/');
      continue;
    }
    if (line.startsWith('}')) scope.pop();
    const field = /^(?:readonly\s+)?([A-Za-z_$][\w$]*)\??\s*:/.exec(line);
    const block = /^export\s+(?:declare\s+)?(?:interface|class)\s+(\w+)/.exec(line);
    const name = block ? block[1] : field ? field[1] : null;
    const m = doc && /Defaults to (.*?)\.(?=\s|$)/.exec(doc);
    if (m) {
      assert.ok(name, `a "Defaults to" sentence documents no declaration: ${doc}`);
      const path = [...scope, name].join('.');
      assert.ok(!out.has(path), `${path}: stated twice`);
      const t = m[1].replace(/\s*\([^()]*\)$/, '');
      let value;
      if (/^-?\d+(?:\.\d+)?$/.test(t)) value = Number(t);
      else if (t === 'true' || t === 'false') value = t === 'true';
      else if (/^`'[^']*'`$/.test(t)) value = t.slice(2, -2);
      else if (t === '`{}`') value = {};
      out.set(path, { text: m[1], value, doc });
    }
    if (name && line.endsWith('{')) scope.push(name);
    doc = null;
  }
  assert.equal(scope.length, 0, 'the .d.ts parse ends inside a block');
  return out;
}

test('every default the .d.ts files state is the wasm build\'s (core) or the wrapper\'s (SDK) actual default', async () => {
  const { ACTIONS, ACTION_THRESHOLD_KEYS, EVIDENCE_KEYS, DEFAULTS, normalizeOptions, sessionPlan } = await pkg('options.js');
  const glue = await pkg('wasm/liveproof_simd.js');
  glue.initSync({ module: readFileSync(join(PKG, 'wasm', 'liveproof_simd_bg.wasm')) });
  const d = glue.sessionDefaults();
  const base = 'file:///pkg/';
  const n = normalizeOptions(undefined, base);
  const plan = sessionPlan(n.challenges, n);
  // A core number, as the wasm build returns it (an f32 field comes back as its f32 value).
  const sameNumber = (stated, core, path) => {
    assert.equal(typeof stated, 'number', `${path}: the stated default is not a number`);
    assert.ok(core === stated || core === Math.fround(stated), `${path}: stated ${stated}, the core's default is ${core}`);
  };

  // The core's defaults: stated in index.d.ts, compared with sessionDefaults() (src/wasm.rs).
  // The wrapper must not send these fields unless asked, so the core's value is what applies.
  /** @type {Record<string, (s: {value: any, text: string, doc: string}, path: string) => void>} */
  const core = {
    'LivenessOptions.challenges.count': (s, p) => sameNumber(s.value, d.challenge.count, p),
    'LivenessOptions.challenges.timeoutMs': (s, p) => sameNumber(s.value, d.challenge.timeout_ms, p),
    'LivenessOptions.challenges.actions': (s, p) => {
      assert.match(s.text, /^all six \(/, p);
      assert.deepEqual(d.challenge.actions, [...ACTIONS], p);
    },
    'LivenessOptions.thresholds.pad': (s, p) => {
      sameNumber(s.value, d.challenge.pad_threshold, p);
      sameNumber(s.value, d.engine.pad_threshold, `${p} (engine)`);
    },
    'LivenessOptions.thresholds.identity': (s, p) => {
      sameNumber(s.value, d.challenge.identity_threshold, p);
      const angle = /within (\d+)° of frontal/.exec(s.doc);
      assert.ok(angle, `${p}: the doc no longer states the compared frames' angle`);
      sameNumber(Number(angle[1]), d.challenge.identity_max_angle, `${p} (identity_max_angle)`);
    },
  };
  for (const k of ACTION_THRESHOLD_KEYS) core[`ActionThresholds.${k}`] = (s, p) => sameNumber(s.value, d.challenge.thresholds[k], p);
  for (const k of EVIDENCE_KEYS) core[`EvidenceOptions.${k}`] = (s, p) => sameNumber(s.value, d.evidence[k], p);
  assert.deepEqual(plan.sessionOptions.challenge, {}, 'without options the core\'s challenge defaults apply');
  assert.deepEqual(plan.sessionOptions.live.evidence, {}, 'without options the core\'s evidence defaults apply');
  assert.deepEqual(n.engine, { age_gender: false }, 'without options the core\'s engine defaults apply (but the age/gender model)');

  // The SDK's own defaults (the core has no such setting, or the SDK picks its own value:
  // detectEvery is 3 in the browser, the core's LiveConfig analyses every frame), compared with
  // what normalizeOptions makes of no options (from options.js DEFAULTS).
  /** @type {Record<string, (s: {value: any, text: string}, path: string) => void>} */
  const sdk = {
    'LivenessOptions.challenges.script': (s, p) => { assert.equal(s.text, 'none', p); assert.equal(n.challenges.script, null, p); },
    'LivenessOptions.challenges.seed': (s, p) => {
      assert.match(s.text, /^32 random bytes from `crypto\.getRandomValues`$/, p);
      assert.equal(n.challenges.seed, null, p);
      assert.match(plan.nonce, /^[\w-]{43}$/, 'the nonce: base64url of 32 bytes');
    },
    'LivenessOptions.accessibility.noSmile': (s, p) => assert.equal(n.challenges.noSmile, s.value, p),
    'LivenessOptions.accessibility.longerTimeouts': (s, p) => assert.equal(n.challenges.longerTimeouts, s.value, p),
    'LivenessOptions.camera.deviceId': (s, p) => { assert.match(s.text, /^none\b/, p); assert.equal(n.camera.deviceId, undefined, p); },
    'LivenessOptions.camera.facingMode': (s, p) => assert.equal(n.camera.facingMode, s.value, p),
    'LivenessOptions.camera.width': (s, p) => assert.equal(n.camera.width, s.value, p),
    'LivenessOptions.camera.height': (s, p) => assert.equal(n.camera.height, s.value, p),
    'LivenessOptions.camera.frameRate': (s, p) => assert.equal(n.camera.frameRate, s.value, p),
    'LivenessOptions.detectEvery': (s, p) => {
      assert.equal(n.detectEvery, s.value, p);
      assert.equal(plan.sessionOptions.live.detect_every, s.value, 'the wrapper always sends its detectEvery');
    },
    'LivenessOptions.maxAnalysisSide': (s, p) => assert.equal(n.maxAnalysisSide, s.value, p),
    'LivenessOptions.recordClip': (s, p) => {
      assert.equal(s.text, 'true with a server `session`, false otherwise', p);
      assert.equal(n.recordClip, false, p);
      const session = { session_id: 's', nonce: 'n', session_key: 'a'.repeat(43), challenges: ['BLINK'] };
      assert.equal(normalizeOptions({ session }, base).recordClip, true);
    },
    'LivenessOptions.landmarks': (s, p) => assert.equal(n.landmarks, s.value, p),
    'LivenessOptions.evidence': (s, p) => { assert.equal(s.value, true, p); assert.deepEqual(n.evidence, {}, p); },
    'LivenessOptions.wasm': (s, p) => assert.equal(n.wasm, s.value, p),
    'LivenessOptions.baseUrl': (s, p) => { assert.match(s.text, /^the package directory/, p); assert.equal(n.baseUrl, base, p); },
    'LivenessOptions.models': (s, p) => assert.deepEqual(n.models, s.value, p),
    'LivenessOptions.cacheModels': (s, p) => assert.equal(n.cacheModels, s.value, p),
    'LivenessOptions.session': (s, p) => { assert.match(s.text, /^none\b/, p); assert.equal(n.session, null, p); },
    'LivenessOptions.transport': (s, p) => assert.equal(n.transport, s.value, p),
    'LivenessOptions.light': (s, p) => assert.equal(n.light, s.value, p),
  };

  const stated = statedDefaults(readFileSync(join(PKG, 'index.d.ts'), 'utf8'));
  // Exactly the checked fields: a stated default without a check here, or a check whose
  // sentence is gone (renamed, reworded), fails; so does a parse that finds nothing.
  assert.deepEqual([...stated.keys()].sort(), [...Object.keys(core), ...Object.keys(sdk)].sort());
  assert.equal(Object.keys(core).length, 17);
  assert.equal(stated.size, 38);
  for (const [path, s] of stated) {
    if (/the core's default/.test(s.text)) assert.ok(path in core, `${path} says it is the core's default`);
    (core[path] ?? sdk[path])(s, path);
  }
  // The SDK's defaults are DEFAULTS' entries (normalizeOptions reads them from there).
  for (const k of ['detectEvery', 'maxAnalysisSide', 'landmarks', 'wasm', 'cacheModels', 'transport', 'light']) assert.equal(n[k], DEFAULTS[k], k);
  assert.deepEqual(n.camera, { ...DEFAULTS.camera });
  assert.equal(statedDefaults(readFileSync(join(PKG, 'element.d.ts'), 'utf8')).size, 0, 'element.d.ts states a default: check it here');
});
