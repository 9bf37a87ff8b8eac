/**
 * The SDK's module worker (created by `Liveness.create`; exported so bundlers and
 * self-hosters can locate it). Protocol: requests `{id, op, args}`, replies
 * `{id, ok: true, result}` or `{id, ok: false, error: {code, message}}`.
 */
export {};
