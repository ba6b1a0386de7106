// RTSP URLs: credentials are taken out before use and never printed.
import type { UserPassword } from '../credentials';

export interface ParsedRtspUrl extends UserPassword {
  /** The URL without user:password. */
  url: string;
  host: string;
  port: number;
}

export function parseRtspUrl(raw: string): ParsedRtspUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`not a valid RTSP URL: ${maskUrl(raw)}`);
  }
  if (u.protocol !== 'rtsp:') throw new Error(`not an rtsp:// URL: ${maskUrl(raw)}`);
  const user = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  return { url: u.toString(), host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 554, user, password };
}

/** The URL with any user:password replaced by "***" (for logs and error messages). */
export function maskUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}
