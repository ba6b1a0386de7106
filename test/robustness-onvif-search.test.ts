// Robustness of the Profile G search client against broken NVRs: a search that never completes
// keeps what arrived, is marked partial and still sends EndSearch; garbage events and an unsupported
// FindEvents fall back to the track span; nothing escapes as an uncaught error.
import { strict as assert } from 'node:assert';
import type { Socket } from 'node:net';
import { findRecordedRanges, findRecordings, getReplayUri, searchRecordings, type RecordingInfo, type SearchCtx } from '../lib/onvif/search';
import type { DeviceServices } from '../lib/onvif/types';
import {
  EscapeWatch,
  httpReply,
  settleWithin,
  soapEnvelope,
  soapOperation,
  startHostileServer,
  type HostileServer,
  type RawRequest,
} from './support/hostile-peers';

const watch = new EscapeWatch();
let server: HostileServer | undefined;

const fault = (reason: string, sub = 'ter:ActionNotSupported') =>
  soapEnvelope(
    `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>${sub}</s:Value></s:Subcode></s:Code><s:Reason><s:Text>${reason}</s:Text></s:Reason></s:Fault>`,
  );

/** A search service answering by operation name; unknown operations get an ActionNotSupported fault. */
async function nvr(answers: Record<string, (req: RawRequest) => string>): Promise<{ services: DeviceServices; ops: string[] }> {
  const ops: string[] = [];
  server = await startHostileServer((sock: Socket, req) => {
    const op = soapOperation(req.body);
    ops.push(op);
    const a = answers[op];
    sock.end(a ? httpReply(200, soapEnvelope(a(req))) : httpReply(400, fault(`${op} not supported`)));
  });
  const base = `http://127.0.0.1:${server.port}/onvif`;
  return { services: { device: `${base}/device_service`, search: `${base}/search_service`, replay: `${base}/replay_service`, profileG: true }, ops };
}

const ctx = (o: Partial<SearchCtx> = {}): SearchCtx => ({ clockOffsetMs: 0, timeoutMs: 1000, ...o });

const recording: RecordingInfo = {
  token: 'rec0',
  tracks: [{ token: 'VIDEO001', type: 'Video', dataFrom: new Date('2026-01-01T10:00:00Z'), dataTo: new Date('2026-01-01T11:00:00Z') }],
};
const from = new Date('2026-01-01T10:15:00Z');
const to = new Date('2026-01-01T10:45:00Z');

describe('robustness: Profile G search against broken NVRs (loopback)', function () {
  this.timeout(10_000);
  before(() => watch.install());
  after(() => watch.uninstall());
  afterEach(async () => {
    await server?.close();
    server = undefined;
    watch.assertNone();
  });

  it('a recording search that stays "Searching" forever keeps the results received, is partial, polls gently, and sends EndSearch', async () => {
    const { services, ops } = await nvr({
      FindRecordings: () => '<tse:FindRecordingsResponse><tse:SearchToken>s1</tse:SearchToken></tse:FindRecordingsResponse>',
      GetRecordingSearchResults: () =>
        '<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>Searching</tt:SearchState>' +
        (ops.filter((o) => o === 'GetRecordingSearchResults').length === 1
          ? '<tt:RecordingInformation><tt:RecordingToken>R1</tt:RecordingToken></tt:RecordingInformation>'
          : '') +
        '</tse:ResultList></tse:GetRecordingSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const r = await settleWithin(4000, searchRecordings(services, ctx({ searchTimeoutMs: 1200 })), 'searchRecordings');
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(
      r.value.recordings.map((x) => x.token),
      ['R1'],
      'the results that arrived are kept',
    );
    assert.equal(r.value.partial, true);
    assert.match(r.value.warnings[0], /search still "Searching" after 1200 ms; kept the 1 result/);
    assert.equal(ops.at(-1), 'EndSearch', 'the search is always ended');
    const polls = ops.filter((o) => o === 'GetRecordingSearchResults').length;
    assert.ok(polls >= 2 && polls <= 10, `an NVR answering at once is not hammered (${polls} polls in 1.2 s)`);
  });

  it('a recording search that pages the same results forever stops after maxPages, deduplicated and partial, with EndSearch', async () => {
    const { services, ops } = await nvr({
      FindRecordings: () => '<tse:FindRecordingsResponse><tse:SearchToken>s1</tse:SearchToken></tse:FindRecordingsResponse>',
      GetRecordingSearchResults: () =>
        '<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>Searching</tt:SearchState>' +
        '<tt:RecordingInformation><tt:RecordingToken>R1</tt:RecordingToken></tt:RecordingInformation></tse:ResultList></tse:GetRecordingSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const res = await searchRecordings(services, ctx({ maxPages: 5, searchTimeoutMs: 60_000 }));
    assert.deepEqual(
      res.recordings.map((x) => x.token),
      ['R1'],
    );
    assert.equal(res.partial, true);
    assert.equal(ops.filter((o) => o === 'GetRecordingSearchResults').length, 5);
    assert.equal(ops.at(-1), 'EndSearch');
  });

  it('a results reply without SearchState → protocol error naming it, and EndSearch', async () => {
    const { services, ops } = await nvr({
      FindRecordings: () => '<tse:FindRecordingsResponse><tse:SearchToken>s1</tse:SearchToken></tse:FindRecordingsResponse>',
      GetRecordingSearchResults: () => '<tse:GetRecordingSearchResultsResponse><tse:ResultList/></tse:GetRecordingSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const r = await settleWithin(3000, findRecordings(services, ctx()));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, /reply without SearchState/);
    assert.equal(ops.at(-1), 'EndSearch');
  });

  it('FindRecordings without a SearchToken → protocol error', async () => {
    const { services } = await nvr({ FindRecordings: () => '<tse:FindRecordingsResponse/>' });
    const r = await settleWithin(3000, findRecordings(services, ctx()));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, /FindRecordings: no SearchToken/);
  });

  it('garbage recording entries are parsed into harmless values (empty tokens, no dates), not thrown on', async () => {
    const { services } = await nvr({
      FindRecordings: () => '<tse:FindRecordingsResponse><tse:SearchToken>s1</tse:SearchToken></tse:FindRecordingsResponse>',
      GetRecordingSearchResults: () =>
        '<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>Completed</tt:SearchState>' +
        '<tt:RecordingInformation><tt:RecordingToken><x>1</x></tt:RecordingToken><tt:EarliestRecording>yesterday</tt:EarliestRecording>' +
        '<tt:Track><tt:DataFrom>0000-99-99</tt:DataFrom></tt:Track><tt:Track/></tt:RecordingInformation>' +
        '<tt:RecordingInformation>just text</tt:RecordingInformation></tse:ResultList></tse:GetRecordingSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const recs = await findRecordings(services, ctx());
    assert.equal(recs.length, 2);
    assert.equal(recs[0].earliest, undefined);
    assert.equal(recs[0].tracks[0].dataFrom, undefined);
    assert.equal(recs[1].token, '');
  });

  it('FindEvents unsupported (fault) → the video track span, clipped to the asked range', async () => {
    const { services, ops } = await nvr({});
    const r = await findRecordedRanges(services, ctx(), recording, from, to);
    assert.deepEqual(r.intervals, [{ start: from, end: to }]);
    assert.equal(r.gapsVisible, false, 'without recording events, gaps cannot be seen');
    assert.match(r.warnings.join(' '), /gaps cannot be seen on this device/);
    assert.deepEqual(ops, ['FindEvents']);
  });

  it('GetEventSearchResults with garbage events → ignored, falls back to the track span, EndSearch sent', async () => {
    const { services, ops } = await nvr({
      FindEvents: () => '<tse:FindEventsResponse><tse:SearchToken>e1</tse:SearchToken></tse:FindEventsResponse>',
      GetEventSearchResults: () =>
        '<tse:GetEventSearchResultsResponse><tse:ResultList><tt:SearchState>Completed</tt:SearchState>' +
        '<tt:Result><tt:Time>not a time</tt:Time><tt:Event><x><SimpleItem Name="IsDataPresent" Value="true"/></x></tt:Event></tt:Result>' +
        '<tt:Result><tt:Time>2026-01-01T10:20:00Z</tt:Time><tt:Event>text only</tt:Event></tt:Result>' +
        '<tt:Result><tt:TrackToken>AUDIO9</tt:TrackToken><tt:Time>2026-01-01T10:20:00Z</tt:Time><tt:Event><SimpleItem Name="IsDataPresent" Value="true"/></tt:Event></tt:Result>' +
        '<tt:Result/>just text</tse:ResultList></tse:GetEventSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const ivs = (await findRecordedRanges(services, ctx(), recording, from, to)).intervals;
    assert.deepEqual(ivs, [{ start: from, end: to }]);
    assert.ok(ops.includes('EndSearch'));
  });

  it('an event search that never completes → partial, the track span as fallback with gapsVisible false, EndSearch sent', async () => {
    const { services, ops } = await nvr({
      FindEvents: () => '<tse:FindEventsResponse><tse:SearchToken>e1</tse:SearchToken></tse:FindEventsResponse>',
      GetEventSearchResults: () =>
        '<tse:GetEventSearchResultsResponse><tse:ResultList><tt:SearchState>Searching</tt:SearchState></tse:ResultList></tse:GetEventSearchResultsResponse>',
      EndSearch: () => '<tse:EndSearchResponse/>',
    });
    const r = await findRecordedRanges(services, ctx({ maxPages: 3 }), recording, from, to);
    assert.deepEqual(r.intervals, [{ start: from, end: to }]);
    assert.equal(r.partial, true);
    assert.equal(r.gapsVisible, false);
    assert.equal(ops.at(-1), 'EndSearch');
  });

  it('GetReplayUri with no Uri, or a Uri that is not a URL → clear error / kept as given, no throw', async () => {
    const { services } = await nvr({ GetReplayUri: () => '<trp:GetReplayUriResponse xmlns:trp="http://www.onvif.org/ver10/replay/wsdl"/>' });
    const r = await settleWithin(3000, getReplayUri(services, ctx(), 'rec0'));
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, /GetReplayUri\(rec0\): no Uri in the reply/);
    await server?.close();
    const second = await nvr({
      GetReplayUri: () => '<trp:GetReplayUriResponse xmlns:trp="http://www.onvif.org/ver10/replay/wsdl"><trp:Uri>%%%</trp:Uri></trp:GetReplayUriResponse>',
    });
    assert.equal(await getReplayUri(second.services, ctx(), 'rec0'), '%%%');
  });
});
