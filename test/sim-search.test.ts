// Profile G on the simulator: recordings, paged searches that clients must poll, recorded intervals
// as RecordingHistory events matching the camera's timeline, search limits, replay URIs.
import assert from 'node:assert/strict';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { RecordingTimeline } from '../lib/sim/timeline';
import { attrOf, faultSubcodes, findAll, first, serviceUrlOf, soapCall, textOf, type Xml } from './sim-helpers';

const TSE = 'xmlns="http://www.onvif.org/ver10/search/wsdl"';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function findRecordings(search: string, keepAlive = 'PT10S'): Promise<{ status: number; token: string; doc: Xml }> {
  const r = await soapCall(search, `<FindRecordings ${TSE}><Scope/><KeepAliveTime>${keepAlive}</KeepAliveTime></FindRecordings>`);
  return { status: r.status, token: first(r.doc, 'SearchToken'), doc: r.doc };
}

async function endSearch(search: string, token: string): Promise<Xml> {
  return (await soapCall(search, `<EndSearch ${TSE}><SearchToken>${token}</SearchToken></EndSearch>`)).doc;
}

interface StateEvent {
  time: string;
  present: string;
  startState: string;
  recording: string;
}

/** FindEvents + poll GetEventSearchResults until Completed; returns the events and the poll count. */
async function findStateEvents(search: string, recording: string, start: Date, end: Date, opts: { maxResults?: number; includeStartState?: boolean } = {}) {
  const find = await soapCall(
    search,
    `<FindEvents ${TSE}><StartPoint>${start.toISOString()}</StartPoint><EndPoint>${end.toISOString()}</EndPoint>` +
      `<Scope><tt:IncludedRecordings>${recording}</tt:IncludedRecordings></Scope>` +
      '<SearchFilter><tt:TopicExpression Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RecordingHistory/Track/State</tt:TopicExpression></SearchFilter>' +
      `<IncludeStartState>${opts.includeStartState ?? false}</IncludeStartState><KeepAliveTime>PT10S</KeepAliveTime></FindEvents>`,
  );
  assert.equal(find.status, 200, find.xml);
  const token = first(find.doc, 'SearchToken');
  const events: StateEvent[] = [];
  let polls = 0;
  for (;;) {
    polls++;
    assert.ok(polls < 100, 'search never completed');
    const max = opts.maxResults ? `<MaxResults>${opts.maxResults}</MaxResults>` : '';
    const r = await soapCall(
      search,
      `<GetEventSearchResults ${TSE}><SearchToken>${token}</SearchToken>${max}<WaitTime>PT1S</WaitTime></GetEventSearchResults>`,
    );
    assert.equal(r.status, 200, r.xml);
    const results = findAll(r.doc, 'Result');
    if (opts.maxResults) assert.ok(results.length <= opts.maxResults);
    for (const res of results) {
      const item = findAll(findAll(res, 'Data')[0], 'SimpleItem')[0];
      assert.equal(attrOf(item, 'Name'), 'IsDataPresent');
      assert.equal(first(res, 'Topic'), 'tns1:RecordingHistory/Track/State');
      events.push({
        time: first(res, 'Time'),
        present: attrOf(item, 'Value') ?? '',
        startState: first(res, 'StartStateEvent'),
        recording: first(res, 'RecordingToken'),
      });
    }
    const state = first(r.doc, 'SearchState');
    if (state === 'Completed') break;
    assert.equal(state, 'Searching');
  }
  await endSearch(search, token);
  return { events, polls };
}

describe('simulator search, recording and replay services', () => {
  let sim: RunningSimulator;
  let nvr: RunningSimulator;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, historyMinutes: 60, rtsp: false, discovery: false });
    nvr = await startSimulator({ preset: 'nvr', channels: 4, basePort: 0, rtsp: false, discovery: false });
  });
  after(async () => {
    await sim.stop();
    await nvr.stop();
  });

  it('GetRecordingSummary covers every recording', async () => {
    const r = await soapCall(serviceUrlOf(nvr.devices[0].xaddr, 'search'), `<GetRecordingSummary ${TSE}/>`);
    assert.equal(first(r.doc, 'NumberRecordings'), '4');
    assert.equal(new Date(first(r.doc, 'DataFrom')).getTime(), nvr.devices[0].spec.cameras[0].recording.start.getTime());
  });

  it('FindRecordings → GetRecordingSearchResults polled page by page → EndSearch', async () => {
    const search = serviceUrlOf(nvr.devices[0].xaddr, 'search');
    const { token } = await findRecordings(search);
    assert.match(token, /^\S+$/);
    const states: string[] = [];
    const infos: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await soapCall(
        search,
        `<GetRecordingSearchResults ${TSE}><SearchToken>${token}</SearchToken><MinResults>1</MinResults><MaxResults>1</MaxResults><WaitTime>PT1S</WaitTime></GetRecordingSearchResults>`,
      );
      states.push(first(r.doc, 'SearchState'));
      infos.push(...findAll(r.doc, 'RecordingInformation'));
      if (states[states.length - 1] === 'Completed') break;
    }
    assert.deepEqual(states, ['Searching', 'Searching', 'Searching', 'Completed']);
    assert.deepEqual(
      infos.map((x) => first(x, 'RecordingToken')),
      ['REC_1', 'REC_2', 'REC_3', 'REC_4'],
    );
    const info = infos[1];
    const cam = nvr.devices[0].spec.cameras[1];
    const source = findAll(info, 'Source')[0];
    assert.equal(first(source, 'SourceId'), 'VS_2');
    assert.equal(first(source, 'Name'), cam.name);
    assert.equal(first(source, 'Location'), 'loopback');
    assert.ok(first(source, 'Description').length > 0);
    const track = findAll(info, 'Track')[0];
    assert.equal(first(track, 'TrackToken'), 'VIDEO_2');
    assert.equal(first(track, 'TrackType'), 'Video');
    assert.equal(new Date(first(track, 'DataFrom')).getTime(), cam.recording.start.getTime());
    assert.ok(Math.abs(new Date(first(track, 'DataTo')).getTime() - Date.now()) < 5000);
    assert.equal(first(info, 'EarliestRecording'), first(track, 'DataFrom'));
    assert.equal(first(info, 'RecordingStatus'), 'Recording');

    const ended = await endSearch(search, token);
    assert.ok(!Number.isNaN(new Date(first(ended, 'Endpoint')).getTime()));
    const again = await soapCall(search, `<EndSearch ${TSE}><SearchToken>${token}</SearchToken></EndSearch>`);
    assert.equal(again.status, 400);
    assert.deepEqual(faultSubcodes(again.doc).slice(0, 2), ['s:Sender', 'ter:InvalidArgVal']);
  });

  it('allows 4 concurrent searches; a 5th gets ter:ResourceProblem until one ends', async () => {
    const search = serviceUrlOf(nvr.devices[0].xaddr, 'search');
    const open = [];
    for (let i = 0; i < 4; i++) {
      const s = await findRecordings(search);
      assert.equal(s.status, 200);
      open.push(s.token);
    }
    const fifth = await findRecordings(search);
    assert.equal(fifth.status, 500);
    assert.deepEqual(faultSubcodes(fifth.doc), ['s:Receiver', 'ter:Action', 'ter:ResourceProblem']);
    await endSearch(search, open.pop() as string);
    const retry = await findRecordings(search);
    assert.equal(retry.status, 200);
    open.push(retry.token);
    for (const t of open) await endSearch(search, t);
  });

  it('a search expires after its KeepAliveTime without requests', async () => {
    const search = serviceUrlOf(nvr.devices[0].xaddr, 'search');
    const { token } = await findRecordings(search, 'PT0.5S');
    await sleep(700);
    const r = await soapCall(search, `<GetRecordingSearchResults ${TSE}><SearchToken>${token}</SearchToken></GetRecordingSearchResults>`);
    assert.equal(r.status, 400);
    assert.deepEqual(faultSubcodes(r.doc).slice(0, 2), ['s:Sender', 'ter:InvalidArgVal']);
  });

  it('FindEvents on the gapped Warehouse camera yields true/false pairs matching its timeline', async () => {
    const dev = sim.devices[2];
    assert.equal(dev.spec.name, 'Warehouse Camera');
    const tl = new RecordingTimeline(dev.spec.cameras[0].recording);
    const start = tl.dataFrom();
    const end = new Date(Date.now() - 30_000);
    const { events, polls } = await findStateEvents(serviceUrlOf(dev.xaddr, 'search'), 'REC_1', start, end, { maxResults: 3 });

    const expected: Array<[string, string]> = [];
    for (const iv of tl.intervals(start, end)) {
      expected.push([iv.start.toISOString(), 'true']);
      if (iv.end < end) expected.push([iv.end.toISOString(), 'false']);
    }
    assert.ok(expected.length >= 18, `60 minutes of 4-on/2-off motion recording, got ${expected.length} changes`);
    assert.deepEqual(
      events.map((e) => [new Date(e.time).toISOString(), e.present]),
      expected,
    );
    assert.ok(events.every((e) => e.recording === 'REC_1' && e.startState === 'false'));
    assert.equal(polls, Math.max(1, Math.ceil(expected.length / 3)), 'the last page comes with SearchState Completed');
    // Pairs: each true is followed by its false 240 s later (the camera's on-period).
    for (let i = 0; i + 1 < events.length; i += 2) {
      assert.equal(events[i].present, 'true');
      assert.equal(events[i + 1].present, 'false');
      assert.equal(new Date(events[i + 1].time).getTime() - new Date(events[i].time).getTime(), 240_000);
    }
  });

  it('a continuously recording camera has one start and no end while it is still recording', async () => {
    const dev = sim.devices[0];
    const start = dev.spec.cameras[0].recording.start;
    const { events } = await findStateEvents(serviceUrlOf(dev.xaddr, 'search'), 'REC_1', new Date(start.getTime() - 60_000), new Date(Date.now() + 60_000));
    assert.deepEqual(
      events.map((e) => [new Date(e.time).getTime(), e.present]),
      [[start.getTime(), 'true']],
    );
  });

  it('IncludeStartState reports the state at StartPoint first', async () => {
    const dev = sim.devices[2];
    const tl = new RecordingTimeline(dev.spec.cameras[0].recording);
    const mid = new Date(tl.dataFrom().getTime() + 60_000); // inside the first on-period
    const { events } = await findStateEvents(serviceUrlOf(dev.xaddr, 'search'), 'REC_1', mid, new Date(mid.getTime() + 10 * 60_000), {
      includeStartState: true,
    });
    assert.deepEqual(events[0], { time: mid.toISOString().replace('.000Z', 'Z'), present: 'true', startState: 'true', recording: 'REC_1' });
    assert.equal(events[1].present, 'false');
    assert.equal(events[1].startState, 'false');
  });

  it('GetRecordingInformation answers for a token and faults for an unknown one', async () => {
    const search = serviceUrlOf(sim.devices[1].xaddr, 'search');
    const r = await soapCall(search, `<GetRecordingInformation ${TSE}><RecordingToken>REC_1</RecordingToken></GetRecordingInformation>`);
    assert.equal(first(findAll(r.doc, 'Source')[0], 'Name'), 'Parking Lot Camera');
    const bad = await soapCall(search, `<GetRecordingInformation ${TSE}><RecordingToken>REC_9</RecordingToken></GetRecordingInformation>`);
    assert.deepEqual(faultSubcodes(bad.doc), ['s:Sender', 'ter:InvalidArgVal', 'ter:NoRecording']);
  });

  it('GetRecordings maps each recording to its source camera and video track', async () => {
    const r = await soapCall(serviceUrlOf(nvr.devices[0].xaddr, 'recording'), '<GetRecordings xmlns="http://www.onvif.org/ver10/recording/wsdl"/>');
    const items = findAll(r.doc, 'RecordingItem');
    assert.equal(items.length, 4);
    assert.equal(first(items[2], 'RecordingToken'), 'REC_3');
    assert.equal(first(findAll(items[2], 'Source')[0], 'SourceId'), 'VS_3');
    assert.equal(first(findAll(items[2], 'Track')[0], 'TrackToken'), 'VIDEO_3');
    assert.equal(first(findAll(items[2], 'Track')[0], 'TrackType'), 'Video');
  });

  it('GetReplayUri returns the RTSP replay path; replay capabilities say no reverse playback', async () => {
    const replay = serviceUrlOf(nvr.devices[0].xaddr, 'replay');
    const r = await soapCall(
      replay,
      '<GetReplayUri xmlns="http://www.onvif.org/ver10/replay/wsdl"><StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>' +
        '<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></StreamSetup><RecordingToken>REC_2</RecordingToken></GetReplayUri>',
    );
    assert.equal(first(r.doc, 'Uri'), `rtsp://127.0.0.1:${nvr.devices[0].rtspPort}/replay/REC_2`);
    const caps = await soapCall(replay, '<GetServiceCapabilities xmlns="http://www.onvif.org/ver10/replay/wsdl"/>');
    const c = findAll(caps.doc, 'Capabilities')[0];
    assert.equal(attrOf(c, 'ReversePlayback'), 'false');
    assert.match(attrOf(c, 'SessionTimeoutRange') ?? '', /^\d+ \d+$/);
    assert.equal(textOf(findAll(caps.doc, 'Fault')[0]), '');
  });
});
