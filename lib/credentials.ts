// The one shape of a device login. Handed in-process only: never in flows.json, messages, logs,
// SQLite or printed URLs. Options that may carry a login (an anonymous device has none) take
// Partial<Credentials>.

export interface Credentials {
  user: string;
  password: string;
  /**
   * Answer a device that offers only HTTP Basic (the password base64-encoded, i.e. in clear on
   * the wire). Off by default: a per-source opt-in (see SECURITY.md). Digest and WS-Security
   * never need it.
   */
  allowBasicAuth?: boolean;
}

/** The part of a login a URL or a Node-RED node's credential store holds (the Basic opt-in is a
 * setting of the source, not a secret). */
export type UserPassword = Pick<Partial<Credentials>, 'user' | 'password'>;
