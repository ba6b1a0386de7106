// Profile G client: which recordings exist (FindRecordings → GetRecordingSearchResults, polled to
// Completed, EndSearch always), which intervals of a recording hold data (FindEvents on
// RecordingHistory/Track/State, falling back to the tracks' DataFrom/DataTo), and the replay URI.
import type { TimeRange } from '../time/range';
import { OnvifError } from './errors';
import { soapCall, type Credentials } from './soap';
import { all, attr, child, escapeXml, path, text, type XmlValue } from './xml';
import type { DeviceServices } from './types';

export interface SearchCtx {
  credentials?: Credentials;
  clockOffsetMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** How long one search may stay unfinished (polls included). Default max(3 × timeoutMs, 30 s). */
  searchTimeoutMs?: number;
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
  /** Recording Source: SourceId is usually the video source token (the channel). */
  sourceId?: string;
  sourceName?: string;
  earliest?: Date;
  latest?: Date;
  status?: string;
  tracks: TrackInfo[];
}

/** A recorded interval of a track (see lib/time/range). */
export type TimeInterval = TimeRange;

const call = (url: string, body: string, c: SearchCtx) =>
  soapCall(url, body, { credentials: c.credentials, clockOffsetMs: c.clockOffsetMs, timeoutMs: c.timeoutMs, signal: c.signal });

function date(v: XmlValue): Date | undefined {
  const t = text(v);
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function needSearch(services: DeviceServices): string {
  if (!services.search) throw new OnvifError('protocol', 'the device has no search service (not ONVIF Profile G): it cannot list recordings');
  return services.search;
}

function parseRecording(r: XmlValue): RecordingInfo {
  const src = child(r, 'Source');
  return {
    token: text(child(r, 'RecordingToken')) ?? '',
    sourceId: text(child(src, 'SourceId')),
    sourceName: text(child(src, 'Name')),
    earliest: date(child(r, 'EarliestRecording')),
    latest: date(child(r, 'LatestRecording')),
    status: text(child(r, 'RecordingStatus')),
    tracks: all(r, 'Track').map((t) => ({
      token: text(child(t, 'TrackToken')) ?? '',
      type: text(child(t, 'TrackType')) ?? '',
      dataFrom: date(child(t, 'DataFrom')),
      dataTo: date(child(t, 'DataTo')),
    })),
  };
}

/**
 * Poll a search until the device says Completed; always end it, because NVRs allow only a few
 * concurrent searches and a leaked one blocks the next sync.
 */
async function drainSearch<T>(
  url: string,
  token: string,
  c: SearchCtx,
  op: 'GetRecordingSearchResults' | 'GetEventSearchResults',
  pick: (resultList: XmlValue) => T[],
): Promise<T[]> {
  const out: T[] = [];
  const budgetMs = c.searchTimeoutMs ?? Math.max(c.timeoutMs * 3, 30_000);
  const deadline = Date.now() + budgetMs;
  try {
    for (;;) {
      const polledAt = Date.now();
      const body =
        `<tse:${op}><tse:SearchToken>${escapeXml(token)}</tse:SearchToken><tse:MinResults>1</tse:MinResults>` +
        `<tse:MaxResults>100</tse:MaxResults><tse:WaitTime>PT1S</tse:WaitTime></tse:${op}>`;
      const list = path(await call(url, body, c), `${op}Response`, 'ResultList');
      const page = pick(list);
      out.push(...page);
      const state = text(child(list, 'SearchState'));
      if (state === 'Completed') return out;
      if (state === undefined) throw new OnvifError('protocol', `${op}: reply without SearchState`);
      if (Date.now() > deadline) throw new OnvifError('timeout', `${op}: search still "${state}" after ${budgetMs} ms; gave up`);
      if (c.signal?.aborted) throw new OnvifError('timeout', `${op}: aborted`);
      const early = EMPTY_POLL_DELAY_MS - (Date.now() - polledAt);
      if (page.length === 0 && early > 0) await new Promise((r) => setTimeout(r, Math.min(early, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    await call(url, `<tse:EndSearch><tse:SearchToken>${escapeXml(token)}</tse:SearchToken></tse:EndSearch>`, c).catch(() => undefined);
  }
}

export async function findRecordings(services: DeviceServices, c: SearchCtx): Promise<RecordingInfo[]> {
  const url = needSearch(services);
  const r = await call(url, '<tse:FindRecordings><tse:Scope/><tse:KeepAliveTime>PT30S</tse:KeepAliveTime></tse:FindRecordings>', c);
  const token = text(path(r, 'FindRecordingsResponse', 'SearchToken'));
  if (!token) throw new OnvifError('protocol', 'FindRecordings: no SearchToken in the reply');
  return drainSearch(url, token, c, 'GetRecordingSearchResults', (list) => all(list, 'RecordingInformation').map(parseRecording));
}

interface StateEvent {
  time: Date;
  present: boolean;
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
  for (const e of sorted) {
    if (e.present && !open) open = e.time < from ? from : e.time;
    else if (!e.present) {
      const start = open ?? (out.length === 0 ? from : undefined); // first event "false": data ran up to it
      if (start && e.time > start) out.push({ start, end: e.time > to ? to : e.time });
      open = undefined;
    }
  }
  if (open && open < to) out.push({ start: open, end: to });
  return out.filter((i) => i.end > i.start);
}

/**
 * Intervals of `recording` with data inside [from, to). FindEvents first; when the device has no
 * event search (or returns nothing), the video track's DataFrom/DataTo as one interval.
 */
export async function findRecordedIntervals(services: DeviceServices, c: SearchCtx, recording: RecordingInfo, from: Date, to: Date): Promise<TimeInterval[]> {
  const url = needSearch(services);
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
        return time && present !== undefined ? [{ time, present }] : [];
      }),
    );
    if (events.length) return pairStateEvents(events, from, to);
  } catch (e) {
    if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew' || e.code === 'unreachable' || e.code === 'timeout')) throw e;
    // Event search unsupported or broken: fall through to the track span.
  }
  const video = recording.tracks.find((t) => /video/i.test(t.type)) ?? recording.tracks[0];
  const start = video?.dataFrom ?? recording.earliest;
  const end = video?.dataTo ?? recording.latest;
  if (!start || !end) return [];
  const s = start < from ? from : start;
  const e = end > to ? to : end;
  return e > s ? [{ start: s, end: e }] : [];
}

export async function getReplayUri(services: DeviceServices, c: SearchCtx, recordingToken: string): Promise<string> {
  if (!services.replay) throw new OnvifError('protocol', 'the device has no replay service (not ONVIF Profile G): it cannot replay recordings');
  const body =
    '<trp:GetReplayUri><trp:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trp:StreamSetup>' +
    `<trp:RecordingToken>${escapeXml(recordingToken)}</trp:RecordingToken></trp:GetReplayUri>`;
  const uri = text(path(await call(services.replay, body, c), 'GetReplayUriResponse', 'Uri'));
  if (!uri) throw new OnvifError('protocol', `GetReplayUri(${recordingToken}): no Uri in the reply`);
  return rebaseHost(uri, services.replay);
}

/** Devices behind NAT/Docker hand out their inside address: keep their port, use the host we reached. */
function rebaseHost(uri: string, reachedVia: string): string {
  try {
    const u = new URL(uri);
    u.hostname = new URL(reachedVia).hostname;
    return u.toString();
  } catch {
    return uri;
  }
}
