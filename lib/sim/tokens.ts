// Token and path names the simulator's SOAP services and RTSP server both use, so a URI handed out
// by GetStreamUri/GetReplayUri resolves to the right camera. Index is 0-based camera position.
export const videoSourceToken = (i: number): string => `VS_${i + 1}`;
export const profileToken = (i: number): string => `PROFILE_${i + 1}_MAIN`;
export const recordingToken = (i: number): string => `REC_${i + 1}`;
export const trackToken = (i: number): string => `VIDEO_${i + 1}`;
export const livePath = (i: number): string => `/live/${profileToken(i)}`;
export const replayPath = (i: number): string => `/replay/${recordingToken(i)}`;

/** Camera index from a token or RTSP path produced above, or -1. */
export function cameraIndexOf(tokenOrPath: string): number {
  const m = /(?:VS|PROFILE|REC|VIDEO)_(\d+)/.exec(tokenOrPath);
  return m ? Number(m[1]) - 1 : -1;
}
