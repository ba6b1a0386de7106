// A fixed "now" for specs that run several passes and expect the later ones to plan nothing new.
// Each pass reads the NVR's clock anew, in whole seconds (±1 s against ours), so a horizon within a
// second of a slot's end lets one pass see that slot closed and an earlier one not. The instant
// returned is at most 2·slack before the real now and keeps the horizon `slackMs` clear of an edge.
export function nowClearOfSlotEdge(segmentMinutes: number, safetyMarginSec: number, slackMs = 2000, real = Date.now()): Date {
  const slotMs = segmentMinutes * 60_000;
  const phase = (real - safetyMarginSec * 1000) % slotMs;
  const back = phase < slackMs ? phase + slackMs : phase > slotMs - slackMs ? slackMs : 0;
  return new Date(real - back);
}
