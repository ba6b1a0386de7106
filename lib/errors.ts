// Turning whatever a `catch` caught into text or an Error: a throw may carry any value.

/** The message of an Error, else the thrown value as text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The thrown value as an Error (wrapped when it is not one). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
