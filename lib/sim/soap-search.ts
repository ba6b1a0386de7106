// Search service (tse, Profile G): recordings and recorded intervals, answered from each camera's
// RecordingTimeline. Find* opens a search; Get*SearchResults pages through it; EndSearch closes it.
import { serviceUrl, type DeviceContext, type SoapService } from './soap-context';
import { children, esc, invalidArg, parseXsDateTime, parseXsDuration, text, textAt, xsDateTime, type SoapRequest, type XmlNode } from './soap-envelope';
import type { RecordingTimeline } from './timeline';
import { cameraIndexOf, recordingToken, trackToken, videoSourceToken } from './tokens';
import { cameraOfRecording, foreignSourceId, listedRecordings, recordingCount } from './recordings';

export const RECORDING_STATE_TOPIC = 'tns1:RecordingHistory/Track/State';
const DEFAULT_KEEPALIVE_MS = 60_000;

/** Recording index for a recording token (lib/sim/recordings.ts), or a NoRecording fault. */
export function cameraForRecording(ctx: DeviceContext, token: string): number {
  const i = cameraIndexOf(token);
  if (i < 0 || i >= recordingCount(ctx) || recordingToken(i) !== token) {
    throw invalidArg(`No recording with token "${token}"`, 'ter:NoRecording');
  }
  return i;
}

function isRecording(ctx: DeviceContext, tl: RecordingTimeline): boolean {
  return !tl.spec.end || tl.spec.end > ctx.now();
}

/** tt:RecordingSourceInformation content of recording r, shared with the recording service. */
export function recordingSourceXml(ctx: DeviceContext, r: number): string {
  const i = cameraOfRecording(ctx, r);
  const c = ctx.spec.cameras[i];
  return (
    // Quirk empty-source-id: Axis SD-card recordings name no source (gBillal/ex_onvif get_recordings.xml).
    (ctx.quirks?.has('empty-source-id')
      ? `<tt:SourceId></tt:SourceId><tt:Name>Recording ${r + 1}</tt:Name>`
      : ctx.quirks?.has('foreign-source-id')
        ? `<tt:SourceId>${esc(foreignSourceId(ctx, r))}</tt:SourceId><tt:Name>Recording ${r + 1}</tt:Name>`
        : `<tt:SourceId>${videoSourceToken(i)}</tt:SourceId><tt:Name>${esc(c.name)}</tt:Name>`) +
    `<tt:Location>${esc(ctx.spec.location)}</tt:Location><tt:Description>${esc(`${c.name} (${c.codec} ${c.width}x${c.height})`)}</tt:Description>` +
    `<tt:Address>${esc(serviceUrl(ctx, 'device'))}</tt:Address>`
  );
}

function recordingInformationXml(ctx: DeviceContext, r: number): string {
  const c = ctx.spec.cameras[cameraOfRecording(ctx, r)];
  const tl = ctx.timelines[cameraOfRecording(ctx, r)];
  const i = r;
  // Quirk epoch-dates: an unset start, as a Milesight MS-C8165-PE reports (1970-01-01T00:03:15Z).
  const from = ctx.quirks?.has('epoch-dates') ? '1970-01-01T00:03:15Z' : xsDateTime(tl.dataFrom());
  const to = xsDateTime(tl.dataTo());
  return (
    `<tt:RecordingToken>${recordingToken(i)}</tt:RecordingToken>` +
    `<tt:Source>${recordingSourceXml(ctx, i)}</tt:Source>` +
    `<tt:EarliestRecording>${from}</tt:EarliestRecording><tt:LatestRecording>${to}</tt:LatestRecording>` +
    `<tt:Content>${esc(`Recording of ${c.name}${r >= ctx.spec.cameras.length ? ' (sub stream)' : ''}`)}</tt:Content>` +
    `<tt:Track><tt:TrackToken>${trackToken(i)}</tt:TrackToken><tt:TrackType>Video</tt:TrackType>` +
    `<tt:Description>Video track</tt:Description><tt:DataFrom>${from}</tt:DataFrom><tt:DataTo>${to}</tt:DataTo></tt:Track>` +
    `<tt:RecordingStatus>${isRecording(ctx, tl) ? 'Recording' : 'Stopped'}</tt:RecordingStatus>`
  );
}

function keepAliveOf(body: XmlNode): number {
  return parseXsDuration(textAt(body, 'KeepAliveTime')) ?? DEFAULT_KEEPALIVE_MS;
}

function maxMatchesOf(body: XmlNode): number {
  const n = Number(textAt(body, 'MaxMatches'));
  return Number.isFinite(n) && n > 0 ? n : Infinity;
}

/** Recording indexes selected by a SearchScope (IncludedSources / IncludedRecordings); all when empty. */
function scopedCameras(ctx: DeviceContext, body: XmlNode): number[] {
  const scope = children(body, 'Scope')[0];
  const sources = children(scope, 'IncludedSources').map((s) => textAt(s, 'Token') || text(s));
  const recordings = children(scope, 'IncludedRecordings').map((r) => text(r));
  return listedRecordings(ctx).filter(
    (r) =>
      (sources.length === 0 || sources.includes(videoSourceToken(cameraOfRecording(ctx, r)))) &&
      (recordings.length === 0 || recordings.includes(recordingToken(r))),
  );
}

function getServiceCapabilities(): string {
  return '<tse:GetServiceCapabilitiesResponse><tse:Capabilities MetadataSearch="false" GeneralStartEvents="false"/></tse:GetServiceCapabilitiesResponse>';
}

function getRecordingSummary(ctx: DeviceContext): string {
  const froms = ctx.timelines.map((t) => t.dataFrom().getTime());
  const tos = ctx.timelines.map((t) => t.dataTo().getTime());
  const from = froms.length ? new Date(Math.min(...froms)) : ctx.now();
  const to = tos.length ? new Date(Math.max(...tos)) : ctx.now();
  return (
    '<tse:GetRecordingSummaryResponse><tse:Summary>' +
    `<tt:DataFrom>${xsDateTime(from)}</tt:DataFrom><tt:DataUntil>${xsDateTime(to)}</tt:DataUntil>` +
    `<tt:NumberRecordings>${recordingCount(ctx)}</tt:NumberRecordings>` +
    '</tse:Summary></tse:GetRecordingSummaryResponse>'
  );
}

function getRecordingInformation(ctx: DeviceContext, req: SoapRequest): string {
  const i = cameraForRecording(ctx, textAt(req.body, 'RecordingToken'));
  return `<tse:GetRecordingInformationResponse><tse:RecordingInformation>${recordingInformationXml(ctx, i)}</tse:RecordingInformation></tse:GetRecordingInformationResponse>`;
}

function findRecordings(ctx: DeviceContext, req: SoapRequest): string {
  const cams = scopedCameras(ctx, req.body).slice(0, maxMatchesOf(req.body));
  const results = cams.map((i) => `<tt:RecordingInformation>${recordingInformationXml(ctx, i)}</tt:RecordingInformation>`);
  const s = ctx.searches.open('recordings', results, keepAliveOf(req.body), ctx.now());
  return `<tse:FindRecordingsResponse><tse:SearchToken>${s.token}</tse:SearchToken></tse:FindRecordingsResponse>`;
}

function maxResultsOf(body: XmlNode): number | undefined {
  const n = Number(textAt(body, 'MaxResults'));
  return textAt(body, 'MaxResults') && Number.isFinite(n) && n > 0 ? n : undefined;
}

function resultsPage(ctx: DeviceContext, req: SoapRequest, kind: 'recordings' | 'events', op: string): string {
  const s = ctx.searches.get(textAt(req.body, 'SearchToken'), kind);
  const page = ctx.searches.nextPage(s, maxResultsOf(req.body));
  // Quirk search-stuck: a recording search that never says Completed.
  const stuck = kind === 'recordings' && ctx.quirks?.has('search-stuck') === true;
  const state = page.complete && !stuck ? 'Completed' : 'Searching';
  return `<tse:${op}Response><tse:ResultList><tt:SearchState>${state}</tt:SearchState>${page.items.join('')}</tse:ResultList></tse:${op}Response>`;
}

export interface RecordingStateEvent {
  time: Date;
  isDataPresent: boolean;
  /** Synthetic event describing the state at the search start (IncludeStartState). */
  startState: boolean;
}

/**
 * IsDataPresent changes of one timeline within [from, to]: true where an interval starts, false
 * where it ends (not where it is only cut by the search range or by "now" while still recording).
 */
export function recordingStateEvents(tl: RecordingTimeline, from: Date, to: Date, includeStartState: boolean): RecordingStateEvent[] {
  const out: RecordingStateEvent[] = [];
  if (includeStartState) out.push({ time: from, isDataPresent: tl.has(from), startState: true });
  const intervals = tl.intervals(from, new Date(to.getTime() + 1));
  for (const iv of intervals) {
    const startsHere = !tl.has(new Date(iv.start.getTime() - 1));
    if (startsHere && iv.start.getTime() <= to.getTime()) {
      if (!(includeStartState && iv.start.getTime() === from.getTime())) out.push({ time: iv.start, isDataPresent: true, startState: false });
    }
    // A real end: the recording stopped or a motion gap began (not the range cut or the live edge).
    const endsHere = iv.end.getTime() <= to.getTime() && isClosed(tl, iv.end);
    if (endsHere) out.push({ time: iv.end, isDataPresent: false, startState: false });
  }
  return out;
}

/** Whether data stopped at `t` for good or for a gap, rather than `t` being the live edge. */
function isClosed(tl: RecordingTimeline, t: Date): boolean {
  if (tl.spec.end && tl.spec.end.getTime() <= t.getTime()) return true;
  const g = tl.spec.gaps;
  if (!g || g.offSec <= 0) return false;
  // With gaps, an interval that ends on its scheduled on-period boundary is a real end.
  const period = (g.onSec + g.offSec) * 1000;
  const into = (t.getTime() - tl.spec.start.getTime()) % period;
  return into === g.onSec * 1000;
}

function eventResultXml(i: number, e: RecordingStateEvent): string {
  const t = xsDateTime(e.time);
  return (
    `<tt:Result><tt:RecordingToken>${recordingToken(i)}</tt:RecordingToken><tt:TrackToken>${trackToken(i)}</tt:TrackToken>` +
    `<tt:Time>${t}</tt:Time><tt:Event>` +
    `<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${RECORDING_STATE_TOPIC}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${t}" PropertyOperation="${e.startState ? 'Initialized' : 'Changed'}">` +
    `<tt:Source><tt:SimpleItem Name="RecordingToken" Value="${recordingToken(i)}"/><tt:SimpleItem Name="Track" Value="${trackToken(i)}"/></tt:Source>` +
    `<tt:Data><tt:SimpleItem Name="IsDataPresent" Value="${e.isDataPresent}"/></tt:Data>` +
    '</tt:Message></wsnt:Message></tt:Event>' +
    `<tt:StartStateEvent>${e.startState}</tt:StartStateEvent></tt:Result>`
  );
}

/** Whether a SearchFilter asks for the recording-state topic (or for no topic in particular). */
function filterWantsRecordingState(body: XmlNode): boolean {
  const filter = children(body, 'SearchFilter')[0];
  if (!filter) return true;
  const topics = children(filter, 'TopicExpression').map((t) => text(t));
  if (topics.length === 0) return true;
  return topics.some((t) =>
    t.split('|').some((alt) => /(^|:)RecordingHistory\/Track\/State$|(^|:)RecordingHistory\/\/\.$|(^|:)RecordingHistory$/.test(alt.trim())),
  );
}

function findEvents(ctx: DeviceContext, req: SoapRequest): string {
  if (ctx.quirks?.has('no-find-events')) throw invalidArg('RecordingHistory/Track/State is not supported', 'ter:InvalidArgVal');
  const start = parseXsDateTime(textAt(req.body, 'StartPoint'));
  if (!start) throw invalidArg('StartPoint is missing or not an xs:dateTime', 'ter:InvalidStartPoint');
  const endText = textAt(req.body, 'EndPoint');
  const end = endText ? parseXsDateTime(endText) : ctx.now();
  if (!end) throw invalidArg('EndPoint is not an xs:dateTime', 'ter:InvalidEndPoint');
  const includeStart = textAt(req.body, 'IncludeStartState').toLowerCase() === 'true';
  const backwards = end < start;
  const [from, to] = backwards ? [end, start] : [start, end];
  let events: Array<{ i: number; e: RecordingStateEvent }> = [];
  if (filterWantsRecordingState(req.body)) {
    for (const i of scopedCameras(ctx, req.body)) {
      for (const e of recordingStateEvents(ctx.timelines[cameraOfRecording(ctx, i)], from, to, includeStart)) events.push({ i, e });
    }
  }
  // Start-state events come first, then everything in search direction.
  events.sort((a, b) => Number(b.e.startState) - Number(a.e.startState) || (a.e.time.getTime() - b.e.time.getTime()) * (backwards ? -1 : 1));
  events = events.slice(0, maxMatchesOf(req.body));
  const s = ctx.searches.open(
    'events',
    events.map(({ i, e }) => eventResultXml(i, e)),
    keepAliveOf(req.body),
    end,
  );
  return `<tse:FindEventsResponse><tse:SearchToken>${s.token}</tse:SearchToken></tse:FindEventsResponse>`;
}

function getSearchState(ctx: DeviceContext, req: SoapRequest): string {
  const s = ctx.searches.get(textAt(req.body, 'SearchToken'));
  const state = s.delivered >= s.results.length ? 'Completed' : 'Searching';
  return `<tse:GetSearchStateResponse><tse:State>${state}</tse:State></tse:GetSearchStateResponse>`;
}

function endSearch(ctx: DeviceContext, req: SoapRequest): string {
  const s = ctx.searches.end(textAt(req.body, 'SearchToken'));
  return `<tse:EndSearchResponse><tse:Endpoint>${xsDateTime(s.endpoint)}</tse:Endpoint></tse:EndSearchResponse>`;
}

export const searchService: SoapService = {
  name: 'search',
  operations: {
    GetServiceCapabilities: getServiceCapabilities,
    GetRecordingSummary: getRecordingSummary,
    GetRecordingInformation: getRecordingInformation,
    FindRecordings: findRecordings,
    GetRecordingSearchResults: (ctx, req) => resultsPage(ctx, req, 'recordings', 'GetRecordingSearchResults'),
    FindEvents: findEvents,
    GetEventSearchResults: (ctx, req) => resultsPage(ctx, req, 'events', 'GetEventSearchResults'),
    GetSearchState: getSearchState,
    EndSearch: endSearch,
  },
};
