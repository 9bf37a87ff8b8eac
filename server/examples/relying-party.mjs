// What a relying party's backend checks before it acts on a liveproof verdict, in Node with
// `jose` (the Rust twin is relying_party.rs). The SDK's tests run checkVerdict on real verdicts
// from the server and on expired, misaddressed and replayed ones.
//
//   node server/examples/relying-party.mjs http://127.0.0.1:8080 SESSION_ID NONCE AUDIENCE < verdict.jws
//
// The checks, in order: the JWS type and algorithm; the signature with the key the server
// publishes at /.well-known/jwks.json (by kid); iss; aud is you; exp (verdicts live minutes) and
// iat; sub and nonce are the session *you* created; jti never seen before (a verdict is
// accepted once); and only then the decision: label REAL with the challenges checked by the
// server. PASSIVE_ONLY (no recording) and FAKE are not a pass.
import { createLocalJWKSet, jwtVerify } from 'jose';

export const VERDICT_TYPE = 'liveproof-verdict+jws';

export class VerdictRejected extends Error {
  /** @param {'invalid'|'other_session'|'replayed'|'not_live'} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Checks a verdict; resolves with its payload when the person was verified live.
 * @param {string} token the compact JWS from the server's answer (`verdict`)
 * @param {{keys: object[]}} jwks the server's /.well-known/jwks.json
 * @param {{issuer: string, audience: string, sessionId: string, nonce: string}} expected
 *   your own session and your identity as the server names it (the sub of the token that
 *   created the session)
 * @param {{jtiIsNew: (jti: string) => boolean | Promise<boolean>, currentDate?: Date}} options
 *   jtiIsNew records the jti and says whether it was unseen (a database insert in practice)
 */
export async function checkVerdict(token, jwks, expected, { jtiIsNew, currentDate } = {}) {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      algorithms: ['EdDSA'],
      typ: VERDICT_TYPE,
      issuer: expected.issuer,
      audience: expected.audience,
      requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub', 'jti'],
      clockTolerance: 5,
      currentDate,
    }));
  } catch (e) {
    throw new VerdictRejected('invalid', `invalid verdict token: ${e.code ?? ''} ${e.message}`);
  }
  if (payload.sub !== expected.sessionId) throw new VerdictRejected('other_session', 'the verdict is about another session (sub)');
  if (payload.nonce !== expected.nonce) throw new VerdictRejected('other_session', 'the verdict is about another session (nonce)');
  if (typeof jtiIsNew !== 'function' || !(await jtiIsNew(payload.jti))) {
    throw new VerdictRejected('replayed', `this verdict (jti ${payload.jti}) was already used`);
  }
  const live = payload.label === 'REAL' && payload.checks?.pad === 'server' && payload.checks?.challenges === 'server';
  if (!live) throw new VerdictRejected('not_live', `not live: ${payload.label} (${JSON.stringify(payload.failure)})`);
  return payload;
}

// As a command: fetch the JWKS from the server and check a verdict read from stdin.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [base, sessionId, nonce, audience] = process.argv.slice(2);
  if (!audience) {
    console.error('usage: relying-party.mjs SERVER_URL SESSION_ID NONCE AUDIENCE < verdict.jws');
    process.exit(2);
  }
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const jwks = await (await fetch(new URL('/.well-known/jwks.json', base))).json();
  const seen = new Set();
  try {
    const v = await checkVerdict(Buffer.concat(chunks).toString().trim(), jwks, { issuer: 'liveproof-server', audience, sessionId, nonce }, {
      jtiIsNew: (jti) => !seen.has(jti) && !!seen.add(jti),
    });
    console.log(`verified live: ${v.passed.join(', ')}`);
  } catch (e) {
    console.error(`rejected: ${e.message}`);
    process.exit(1);
  }
}
