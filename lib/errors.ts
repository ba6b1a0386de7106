// Turning whatever a `catch` caught into text or an Error: a throw may carry any value.

/** The message of an Error, else the thrown value as text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The thrown value as an Error (wrapped when it is not one). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** A per-source opt-in that a refusal names (SOAP, RTSP and vendor HTTP all word it the same way). */
export type OptIn = 'acceptSelfSigned' | 'allowBasicAuth';

/** Which opt-in would let a refused request through, read from its message; undefined: none. */
export function optInNeeded(message: string): OptIn | undefined {
  if (/accept self-signed certificate/i.test(message)) return 'acceptSelfSigned';
  if (/allow Basic authentication/i.test(message)) return 'allowBasicAuth';
  return undefined;
}
