// Errors the catalog throws on purpose, each with a code callers can branch on and a message a
// user can act on.

export type CatalogErrorCode = 'newer-version' | 'corrupt' | 'read-only' | 'open-failed' | 'name-taken' | 'duplicate-download' | 'invalid-input' | 'not-found';

export class CatalogError extends Error {
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CatalogError';
  }
}

/** A source name is already saved for another nvr-source node. */
export class SourceNameTakenError extends CatalogError {
  constructor(
    readonly sourceName: string,
    readonly ownerNodeId: string | null,
  ) {
    super('name-taken', `an NVR source named "${sourceName}" already exists (owned by another node)`);
    this.name = 'SourceNameTakenError';
  }
}
