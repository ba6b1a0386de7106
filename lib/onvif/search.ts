// Profile G client: which recordings exist (FindRecordings → GetRecordingSearchResults, polled to
// Completed, EndSearch always), which intervals of a recording hold data (FindEvents on
// RecordingHistory/Track/State, falling back to the tracks' DataFrom/DataTo), and the replay URI.
import { connect } from 'node:net';
import type { TimeRange } from '../time/range';
import { OnvifError } from './errors';
import { soapCall } from './soap';
import type { Credentials } from '../credentials';
import { all, attr, child, escapeXml, path, text, type XmlValue } from './xml';
import type { DeviceServices } from './types';

export interface SearchCtx {
  credentials?: Credentials;
  clockOffsetMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** How long one search may stay unfinished (polls included). Default max(3 × timeoutMs, 30 s). */
  searchTimeoutMs?: number;
  /** Most result pages read from one search. Default 1000 (a device paging forever). */
  maxPages?: number;
  acceptSelfSigned?: boolean;
  /** Current time (tests); default Date.now. */
  now?: () => number;
  /** Whether host:port accepts a TCP connection (replay URI check); default a 1.5 s connect. */
  reachable?: (host: string, port: number) => Promise<boolean>;
}

// A device that answers "Searching" at once, without results, is polled no faster than this
// (WaitTime asks it to hold the reply; some ignore that and would be hammered).
const EMPTY_POLL_DELAY_MS = 200;

export interface TrackInfo {
  token: string;
  type: string;
  dataFrom?: Date;
  dataTo?: Date;
}

export interface RecordingInfo {
  token: string;
  /** Problems with what the device said about this recording (implausible dates, ...). */
  warnings?: string[];
  /** Recording Source: SourceId is usually the video source token (the channel). */
  sourceId?: string;
  sourceName?: string;
  /** Source Address (a URI: some devices put the profile or stream address there). */
  sourceAddress?: string;
  /** The recording's Content description ("Recording of Front Door (sub stream)"), shown to the user picking one. */
  content?: string;
  earliest?: Date;
  latest?: Date;
  status?: string;
  tracks: TrackInfo[];
}

/** A recorded interval of a track (see lib/time/range). */
export type TimeInterval = TimeRange;

const call = (url: string, body: string, c: SearchCtx) =>
  soapCall(url, body, {
    credentials: c.credentials,
    clockOffsetMs: c.clockOffsetMs,
    timeoutMs: c.timeoutMs,
    signal: c.signal,
    acceptSelfSigned: c.acceptSelfSigned,
  });

function date(v: XmlValue): Date | undefined {
  const t = text(v);
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const EARLIEST_PLAUSIBLE = Date.UTC(2000, 0, 1);
const FUTURE_SLACK_MS = 24 * 3600_000;

/**
 * A recording date we can plan from, or undefined. Dates before 2000 or more than a day ahead are
 * a device's "unset" value — a Milesight MS-C8165-PE reports DataFrom 1970-01-01T00:03:15Z and a
 * Uniview recorder GetRecordingSummary DataFrom 1970-01-01 (gBillal/ex_onvif fixtures) — and
 * planning from them would ask for 55 years of video.
 */
export function plausibleDate(d: Date | undefined, what: string, warnings: string[], now = Date.now()): Date | undefined {
  if (!d) return undefined;
  if (d.getTime() < EARLIEST_PLAUSIBLE || d.getTime() > now + FUTURE_SLACK_MS) {
    warnings.push(`${what} ${d.toISOString()} is implausible; treated as unknown`);
    return undefined;
  }
  return d;
}

/** Result of a search that may have been cut short (a device stuck in Searching or paging forever). */
export interface SearchPage<T> {
  items: T[];
  /** The search did not reach Completed: what arrived is kept, but more may exist. */
  partial: boolean;
  why?: string;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function needSearch(services: DeviceServices): string {
  if (!services.search) throw new OnvifError('protocol', 'the device has no search service (not ONVIF Profile G): it cannot list recordings');
  return services.search;
}

export function parseRecording(r: XmlValue, now = Date.now()): RecordingInfo {
  const src = child(r, 'Source');
  const token = text(child(r, 'RecordingToken')) ?? '';
  const warnings: string[] = [];
  const d = (v: XmlValue, what: string) => plausibleDate(date(v), `recording ${token}: ${what}`, warnings, now);
  const info: RecordingInfo = {
    token,
    sourceId: text(child(src, 'SourceId')) || undefined, // empty SourceId (Axis SD card) = none
    sourceName: text(child(src, 'Name')) || undefined,
    sourceAddress: text(child(src, 'Address')) || undefined,
    content: text(child(r, 'Content')) || undefined,
    earliest: d(child(r, 'EarliestRecording'), 'EarliestRecording'),
    latest: d(child(r, 'LatestRecording'), 'LatestRecording'),
    status: text(child(r, 'RecordingStatus')),
    tracks: all(r, 'Track').map((t) => ({
      token: text(child(t, 'TrackToken')) ?? '',
      type: text(child(t, 'TrackType')) ?? '',
      dataFrom: d(child(t, 'DataFrom'), `track ${text(child(t, 'TrackToken')) ?? ''} DataFrom`),
      dataTo: d(child(t, 'DataTo'), `track ${text(child(t, 'TrackToken')) ?? ''} DataTo`),
    })),
  };
  if (warnings.length) info.warnings = warnings;
  return info;
}

/**
 * Poll a search until the device says Completed; always end it, because NVRs allow only a few
 * concurrent searches and a leaked one blocks the next sync. A search that never completes (stays
 * "Searching", or pages forever) keeps what arrived and is marked partial instead of failing.
 */
async function drainSearch<T>(
  url: string,
  token: string,
  c: SearchCtx,
  op: 'GetRecordingSearchResults' | 'GetEventSearchResults',
  pick: (resultList: XmlValue) => T[],
): Promise<SearchPage<T>> {
  const out: T[] = [];
  const budgetMs = c.searchTimeoutMs ?? Math.max(c.timeoutMs * 3, 30_000);
  const maxPages = c.maxPages ?? 1000;
  const deadline = Date.now() + budgetMs;
  try {
    for (let pageNo = 1; ; pageNo++) {
      const polledAt = Date.now();
      const body =
        `<tse:${op}><tse:SearchToken>${escapeXml(token)}</tse:SearchToken><tse:MinResults>1</tse:MinResults>` +
        `<tse:MaxResults>100</tse:MaxResults><tse:WaitTime>PT1S</tse:WaitTime></tse:${op}>`;
      const list = path(await call(url, body, c), `${op}Response`, 'ResultList');
      const page = pick(list);
      out.push(...page);
      const state = text(child(list, 'SearchState'));
      if (state === 'Completed') return { items: out, partial: false };
      if (state === undefined) throw new OnvifError('protocol', `${op}: reply without SearchState`);
      if (Date.now() > deadline)
        return { items: out, partial: true, why: `search still "${state}" after ${budgetMs} ms; kept the ${out.length} result(s) received` };
      if (pageNo >= maxPages)
        return { items: out, partial: true, why: `search still "${state}" after ${maxPages} pages; kept the ${out.length} result(s) received` };
      if (c.signal?.aborted) throw new OnvifError('timeout', `${op}: aborted`);
      const early = EMPTY_POLL_DELAY_MS - (Date.now() - polledAt);
      if (page.length === 0 && early > 0) await new Promise((r) => setTimeout(r, Math.min(early, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    await call(url, `<tse:EndSearch><tse:SearchToken>${escapeXml(token)}</tse:SearchToken></tse:EndSearch>`, c).catch(() => undefined);
  }
}

export interface RecordingSearch {
  recordings: RecordingInfo[];
  /** The search did not complete: some recordings may be missing. */
  partial: boolean;
  warnings: string[];
}

/** FindRecordings → GetRecordingSearchResults (→ EndSearch), keeping a cut-short search's results. */
export async function searchRecordings(services: DeviceServices, c: SearchCtx): Promise<RecordingSearch> {
  const url = needSearch(services);
  const r = await call(url, '<tse:FindRecordings><tse:Scope/><tse:KeepAliveTime>PT30S</tse:KeepAliveTime></tse:FindRecordings>', c);
  const token = text(path(r, 'FindRecordingsResponse', 'SearchToken'));
  if (!token) throw new OnvifError('protocol', 'FindRecordings: no SearchToken in the reply');
  const now = (c.now ?? Date.now)();
  const res = await drainSearch(url, token, c, 'GetRecordingSearchResults', (list) => all(list, 'RecordingInformation').map((x) => parseRecording(x, now)));
  // A device paging forever repeats itself: one entry per token.
  const seen = new Set<string>();
  const recordings = res.items.filter((x) => !x.token || (seen.has(x.token) ? false : (seen.add(x.token), true)));
  const warnings = recordings.flatMap((x) => x.warnings ?? []);
  if (res.why) warnings.unshift(`FindRecordings: ${res.why}`);
  return { recordings, partial: res.partial, warnings };
}

export async function findRecordings(services: DeviceServices, c: SearchCtx): Promise<RecordingInfo[]> {
  return (await searchRecordings(services, c)).recordings;
}

interface StateEvent {
  time: Date;
  present: boolean;
  /** IncludeStartState's synthetic event: the state at the search start, not a change. */
  startState?: boolean;
}

function findDataPresent(v: XmlValue): boolean | undefined {
  // The event payload nests NotificationMessage/Message/Message/Data; search for the item by name.
  if (v === undefined || typeof v === 'string') return undefined;
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = findDataPresent(x);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  for (const item of all(v, 'SimpleItem')) {
    if (attr(item, 'Name') === 'IsDataPresent') return attr(item, 'Value') === 'true';
  }
  for (const [k, sub] of Object.entries(v)) {
    if (k.startsWith('@_') || k === '#text') continue;
    const r = findDataPresent(sub);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Pair IsDataPresent true/false events into intervals within [from, to). */
export function pairStateEvents(events: StateEvent[], from: Date, to: Date): TimeInterval[] {
  const sorted = [...events].sort((a, b) => a.time.getTime() - b.time.getTime());
  const out: TimeInterval[] = [];
  let open: Date | undefined;
  let sawStartState = false;
  for (const e of sorted) {
    if (e.startState) sawStartState = true;
    if (e.present && !open) open = e.time < from ? from : e.time;
    else if (!e.present && e.startState) {
      // "No data at the search start" (a Profile G recorder in onvif/specs#380 sends this): not the end of an interval.
      open = undefined;
    } else if (!e.present) {
      // Without a start state, a first "false" means data ran up to it.
      const start = open ?? (out.length === 0 && !sawStartState ? from : undefined);
      if (start && e.time > start) out.push({ start, end: e.time > to ? to : e.time });
      open = undefined;
    }
  }
  if (open && open < to) out.push({ start: open, end: to });
  return out.filter((i) => i.end > i.start);
}

export interface RecordedRanges {
  intervals: TimeInterval[];
  /**
   * false: the device gave no recording events (FindEvents unsupported or refused, e.g.
   * InvalidArgVal), so the intervals are DataFrom..DataTo and gaps in motion recording cannot be seen.
   */
  gapsVisible: boolean;
  partial: boolean;
  warnings: string[];
}

/**
 * Intervals of `recording` with data inside [from, to). FindEvents first; when the device has no
 * event search (or returns nothing), the video track's DataFrom/DataTo as one interval. An
 * unknown start (implausible DataFrom) starts at `from` when that is itself plausible.
 */
export async function findRecordedRanges(services: DeviceServices, c: SearchCtx, recording: RecordingInfo, from: Date, to: Date): Promise<RecordedRanges> {
  const url = needSearch(services);
  const warnings: string[] = [];
  let why: string | undefined;
  let partial = false;
  try {
    const body =
      `<tse:FindEvents><tse:StartPoint>${iso(from)}</tse:StartPoint><tse:EndPoint>${iso(to)}</tse:EndPoint>` +
      `<tse:Scope><tt:IncludedRecordings>${escapeXml(recording.token)}</tt:IncludedRecordings></tse:Scope>` +
      '<tse:SearchFilter><tt:TopicExpression Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" ' +
      'xmlns:tns1="http://www.onvif.org/ver10/topics">tns1:RecordingHistory/Track/State</tt:TopicExpression></tse:SearchFilter>' +
      '<tse:IncludeStartState>true</tse:IncludeStartState><tse:KeepAliveTime>PT30S</tse:KeepAliveTime></tse:FindEvents>';
    const token = text(path(await call(url, body, c), 'FindEventsResponse', 'SearchToken'));
    if (!token) throw new OnvifError('protocol', 'FindEvents: no SearchToken in the reply');
    const videoTracks = new Set(recording.tracks.filter((t) => /video/i.test(t.type)).map((t) => t.token));
    const events = await drainSearch(url, token, c, 'GetEventSearchResults', (list) =>
      all(list, 'Result').flatMap((r) => {
        const track = text(child(r, 'TrackToken'));
        if (track && videoTracks.size && !videoTracks.has(track)) return [];
        const time = date(child(r, 'Time'));
        const present = findDataPresent(child(r, 'Event'));
        return time && present !== undefined ? [{ time, present, startState: text(child(r, 'StartStateEvent')) === 'true' }] : [];
      }),
    );
    if (events.why) warnings.push(`FindEvents: ${events.why}`);
    if (events.items.length) return { intervals: pairStateEvents(events.items, from, to), gapsVisible: true, partial: events.partial, warnings };
    partial = events.partial;
    why = events.partial ? 'FindEvents did not complete' : 'FindEvents returned no recording events';
  } catch (e) {
    if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew' || e.code === 'unreachable' || e.code === 'timeout')) throw e;
    // Event search unsupported or refused (InvalidArgVal): fall through to the track span.
    why = `FindEvents unusable (${e instanceof Error ? e.message : String(e)})`;
  }
  warnings.push(`${why}: recorded range taken from DataFrom/DataTo; gaps cannot be seen on this device`);
  const video = recording.tracks.find((t) => /video/i.test(t.type)) ?? recording.tracks[0];
  let start = video?.dataFrom ?? recording.earliest;
  const end = video?.dataTo ?? recording.latest;
  if (!start && end && from.getTime() >= Date.UTC(2000, 0, 1)) {
    warnings.push(`recording ${recording.token}: start unknown; planned from ${from.toISOString()}`);
    start = from;
  }
  if (!start || !end)
    return { intervals: [], gapsVisible: false, partial, warnings: [...warnings, `recording ${recording.token}: recorded range unknown; nothing planned`] };
  const s = start < from ? from : start;
  const e = end > to ? to : end;
  return { intervals: e > s ? [{ start: s, end: e }] : [], gapsVisible: false, partial, warnings };
}

/** GetRecordingSummary: the device's whole recorded span (dates checked like DataFrom/DataTo). */
export async function getRecordingSummary(services: DeviceServices, c: SearchCtx): Promise<{ from?: Date; to?: Date; count?: number; warnings: string[] }> {
  const url = needSearch(services);
  const sum = path(await call(url, '<tse:GetRecordingSummary/>', c), 'GetRecordingSummaryResponse', 'Summary');
  const warnings: string[] = [];
  const now = (c.now ?? Date.now)();
  const n = Number(text(child(sum, 'NumberRecordings')));
  return {
    from: plausibleDate(date(child(sum, 'DataFrom')), 'GetRecordingSummary DataFrom', warnings, now),
    to: plausibleDate(date(child(sum, 'DataUntil')), 'GetRecordingSummary DataUntil', warnings, now),
    count: Number.isFinite(n) ? n : undefined,
    warnings,
  };
}

export interface RecordingJob {
  recordingToken: string;
  /** Token of what the job records from: a media profile or a receiver/video source. */
  sourceToken: string;
  /** SourceToken Type URI, e.g. http://www.onvif.org/ver10/schema/Profile. */
  sourceType?: string;
}

/** GetRecordingJobs on the recording service: which profile/source feeds each recording. */
export async function getRecordingJobs(services: DeviceServices, c: SearchCtx): Promise<RecordingJob[]> {
  if (!services.recording) return [];
  const r = child(await call(services.recording, '<trc:GetRecordingJobs/>', c), 'GetRecordingJobsResponse');
  return all(r, 'JobItem').flatMap((j) => {
    const cfg = child(j, 'JobConfiguration');
    const rec = text(child(cfg, 'RecordingToken'));
    return all(cfg, 'Source').flatMap((src) => {
      const st = child(src, 'SourceToken');
      const tok = text(child(st, 'Token'));
      return rec && tok ? [{ recordingToken: rec, sourceToken: tok, sourceType: attr(st, 'Type') }] : [];
    });
  });
}

export async function getReplayUri(services: DeviceServices, c: SearchCtx, recordingToken: string): Promise<string> {
  if (!services.replay) throw new OnvifError('protocol', 'the device has no replay service (not ONVIF Profile G): it cannot replay recordings');
  const body =
    '<trp:GetReplayUri><trp:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trp:StreamSetup>' +
    `<trp:RecordingToken>${escapeXml(recordingToken)}</trp:RecordingToken></trp:GetReplayUri>`;
  const uri = text(path(await call(services.replay, body, c), 'GetReplayUriResponse', 'Uri'));
  if (!uri) throw new OnvifError('protocol', `GetReplayUri(${recordingToken}): no Uri in the reply`);
  return (await resolveReplayUri(uri, services.replay, c.reachable)).uri;
}

/** Recording service GetRecordings: every recording with its source and tracks (no data ranges). */
export async function getRecordings(services: DeviceServices, c: SearchCtx): Promise<RecordingInfo[]> {
  if (!services.recording) return [];
  const r = child(await call(services.recording, '<trc:GetRecordings/>', c), 'GetRecordingsResponse');
  return all(r, 'RecordingItem').map((it) => {
    const src = path(it, 'Configuration', 'Source');
    return {
      token: text(child(it, 'RecordingToken')) ?? '',
      sourceId: text(child(src, 'SourceId')) || undefined,
      sourceName: text(child(src, 'Name')) || undefined,
      sourceAddress: text(child(src, 'Address')) || undefined,
      content: text(path(it, 'Configuration', 'Content')) || undefined,
      tracks: all(child(it, 'Tracks'), 'Track').map((t) => ({
        token: text(child(t, 'TrackToken')) ?? '',
        type: text(path(t, 'Configuration', 'TrackType')) ?? '',
      })),
    };
  });
}

/** A TCP connect within timeoutMs. */
export function tcpReachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * The replay URI as advertised when it is reachable. Devices behind NAT/Docker hand out their inside
 * address: then the host we reached the device on, with their port (NAT maps it 1:1 more often
 * than not), and only when that port is closed too, RTSP's default 554.
 */
export async function resolveReplayUri(
  uri: string,
  reachedVia: string,
  reachable: (host: string, port: number) => Promise<boolean> = tcpReachable,
): Promise<{ uri: string; rewritten?: string }> {
  let u: URL;
  let ours: string;
  try {
    u = new URL(uri);
    ours = new URL(reachedVia).hostname;
  } catch {
    return { uri };
  }
  const port = Number(u.port || 554);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === ours.replace(/^\[|\]$/g, '') || (await reachable(host, port))) return { uri };
  const ourHost = ours.replace(/^\[|\]$/g, '');
  if (await reachable(ourHost, port)) {
    u.hostname = ours;
    return { uri: u.toString(), rewritten: `advertised host ${host} unreachable: using ${ourHost}:${port}` };
  }
  if (port !== 554 && (await reachable(ourHost, 554))) {
    u.hostname = ours;
    u.port = '';
    return { uri: u.toString(), rewritten: `advertised ${host}:${port} unreachable, and port ${port} on ${ourHost} too: using ${ourHost}:554` };
  }
  // Nothing answers: keep ours with their port, so the replay error names an address we tried.
  u.hostname = ours;
  return { uri: u.toString(), rewritten: `advertised host ${host} unreachable; ${ourHost}:${port} did not answer either` };
}
