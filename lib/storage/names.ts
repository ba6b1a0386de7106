// Folder names for cameras: safe on every common filesystem, unique within a source (also on
// case-insensitive filesystems), and stable — a camera keeps its folder across saves.
import * as path from 'node:path';

/** Longest folder name we produce, in UTF-8 bytes (most filesystems allow 255). */
export const MAX_FOLDER_NAME_BYTES = 100;
const FALLBACK = 'camera';
// Windows device names stay reserved with any extension ("CON.txt"), in any case.
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\..*)?$/i;
// Path separators, characters Windows and SMB shares refuse, control characters (C0, DEL, C1),
// lone UTF-16 surrogates (no valid UTF-8 file name), and characters that POSIX shells or cmd.exe
// treat specially: file paths go into msg.payload.path, which flows often hand to an exec node
// (ffmpeg ...), so a camera named "$(reboot)" or "a & del *" must not become a command there.
const UNSAFE = /[/\\<>:"|?*\u0000-\u001f\u007f-\u009f`$;&'()!%^{}[\]#~]|\p{Cs}/gu;
// Invisible format characters (Unicode Cf): bidi embeddings, overrides and isolates (U+202E turns
// "exe.mp4" around on screen), LRM/RLM, zero-width space/non-joiner, word joiner, BOM, soft
// hyphen, tag characters. They make two names look alike or one name look like another, so they
// are dropped (not replaced). A zero-width joiner inside an emoji sequence stays: it is visible
// as one emoji and cannot disguise text. Also the invisible letters used the same way (Hangul
// fillers) and the combining grapheme joiner.
const INVISIBLE =
  // eslint-disable-next-line no-misleading-character-class -- the skin-tone modifiers stand alone on purpose (a ZWJ after them is kept)
  /(?<!\p{Extended_Pictographic}[\uFE0F\u{1F3FB}-\u{1F3FF}]?)\u200D|\u200D(?!\p{Extended_Pictographic})|[^\P{Cf}\u200D]|[\u034F\u115F\u1160\u3164\uFFA0]/gu;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Cuts `s` to at most `maxBytes` UTF-8 bytes without splitting a character (grapheme). */
export function truncateUtf8(s: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const { segment } of segmenter.segment(s)) {
    const b = Buffer.byteLength(segment, 'utf8');
    if (bytes + b > maxBytes) break;
    out += segment;
    bytes += b;
  }
  return out;
}

function trimEdges(s: string): string {
  // Leading dots would hide the folder (or make "." / ".."), a leading "-" reads as an option to
  // the command a path is handed to; trailing dots and spaces are dropped by Windows; edge
  // underscores are just noise left by replaced characters.
  return s.replace(/^[._\s-]+/, '').replace(/[._\s]+$/, '');
}

/**
 * A single safe path segment for a camera name: "Front Door Camera" → "Front_Door_Camera".
 * Invisible format characters (bidi controls, zero-width) are dropped; separators, control
 * characters, characters Windows refuses and shell-special ones become "_", leading dots and dashes go,
 * reserved device names get a "_" suffix, the result is at most MAX_FOLDER_NAME_BYTES bytes,
 * and an empty result becomes "camera".
 */
export function safeFolderName(name: string, maxBytes = MAX_FOLDER_NAME_BYTES): string {
  // Compose after dropping invisible characters: one between a letter and its accent would
  // otherwise keep them apart until a second pass (found by the fuzzer: not idempotent).
  let s = String(name ?? '')
    .replace(INVISIBLE, '')
    .normalize('NFC');
  s = s.replace(UNSAFE, '_').replace(/\s+/g, '_').replace(/_+/g, '_');
  s = trimEdges(truncateUtf8(trimEdges(s), maxBytes));
  if (s === '') return FALLBACK;
  if (RESERVED.test(s)) s = truncateUtf8(s, maxBytes - 1) + '_';
  return s;
}

/** True when `name` is one plain path segment (no separators, not "." or ".."). */
function isPlainSegment(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\u0000]/.test(name);
}

function withSuffix(base: string, n: number): string {
  const suffix = `_${n}`;
  return truncateUtf8(base, MAX_FOLDER_NAME_BYTES - Buffer.byteLength(suffix)) + suffix;
}

/**
 * Gives each camera a folder directly under `workingDir`. Keys already in `existing` keep their
 * folder name (moved under `workingDir` if the working directory changed); new keys get
 * safeFolderName(name), with "_2", "_3"... when that is taken. Names are compared
 * case-insensitively so two folders never collide on macOS or Windows.
 */
export function assignCameraFolders(
  workingDir: string,
  cameras: ReadonlyArray<{ key: string; name: string }>,
  existing: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const root = path.resolve(workingDir);
  const taken = new Set<string>();
  const out = new Map<string, string>();
  const fold = (s: string): string => s.normalize('NFC').toLowerCase();

  // Every existing folder stays reserved — also those of cameras not in this list (disabled
  // cameras keep their files), so a new camera never moves into an old camera's folder.
  for (const folder of existing.values()) taken.add(fold(path.basename(folder)));
  for (const { key } of cameras) {
    const folder = existing.get(key);
    if (folder === undefined) continue;
    const base = path.basename(folder);
    if (isPlainSegment(base)) out.set(key, path.join(root, base));
  }
  for (const { key, name } of cameras) {
    if (out.has(key)) continue;
    const base = safeFolderName(name);
    let candidate = base;
    for (let n = 2; taken.has(fold(candidate)); n++) candidate = withSuffix(base, n);
    taken.add(fold(candidate));
    out.set(key, path.join(root, candidate));
  }
  return out;
}
