// Real-device behaviours the simulator can reproduce (`vtrack-onvif sim --quirk NAME`), each from
// a public capture or report (DESIGN.md §4, test/fixtures/devices/README.md), so the demo, the
// doctor and the specs can show what our client does about it.

export const QUIRKS = {
  'clock-auth': 'GetSystemDateAndTime demands authentication (401 with an HTML body; several vendors, DESIGN.md §4)',
  'bare-encoder': 'Media1 encoder configurations without Encoding/Resolution and no Media2 profiles (12-channel Dahua-firmware NVR)',
  'empty-source-id': 'recordings with an empty SourceId, tied to cameras only by GetRecordingJobs (Axis SD card)',
  'foreign-source-id':
    'recordings (and recording jobs) whose source id names no video source or profile, listed in reverse channel order: only the order is left, and it is wrong (Milestone note on SourceId misuse)',
  'several-recordings': 'each camera also has a sub-stream recording (640x360) under the same SourceId: two candidates per camera',
  'search-stuck': 'recording searches never reach Completed (results once, then "Searching" forever)',
  'no-find-events': 'FindEvents refused with InvalidArgVal: gaps cannot be seen',
  'epoch-dates': 'recordings report DataFrom/EarliestRecording 1970-01-01 (Milesight, Uniview)',
  'strict-clock': 'PLAY with a fractional clock= range gets 457 Invalid Range',
  'refuse-onvif-replay': '551 to Require: onvif-replay, replays correctly without it',
  'no-abac': 'replay RTP without the 0xABAC extension (frame times only from an RTCP sender report)',
  'real-time': 'ignores Rate-Control: no and replays in real time',
  'busy-453': 'the first two replay PLAYs get 453 Not Enough Bandwidth (one-stream limit)',
  'basic-auth': 'SOAP and RTSP accept only HTTP/RTSP Basic authentication (the password in clear; older or budget firmware)',
} as const;

export type QuirkName = keyof typeof QUIRKS;

export function isQuirk(name: string): name is QuirkName {
  return Object.prototype.hasOwnProperty.call(QUIRKS, name);
}

export function parseQuirks(names: readonly string[]): Set<QuirkName> {
  const out = new Set<QuirkName>();
  for (const raw of names
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean)) {
    if (!isQuirk(raw)) throw new Error(`unknown quirk "${raw}"; known: ${Object.keys(QUIRKS).join(', ')}`);
    out.add(raw);
  }
  return out;
}

/** The `--help` lines. */
export function quirkHelp(): string {
  return Object.entries(QUIRKS)
    .map(([k, v]) => `      ${k.padEnd(20)} ${v}`)
    .join('\n');
}
