// One vendor download as a job of the replay worker pool (lib/media/replay-to-files.ts): the HTTP
// download (Digest, lockout detection, size and time limits: ./http), the PS / DHAV demux and the
// MP4 mux all run on the thread that calls runVendorDownload — a worker, so Node-RED's event loop
// does not carry tens of MB/s of demuxing. The job is plain data (it crosses to the worker by
// structured clone): the connection with its credentials (never logged), what the session learned
// of the device (clock, channel numbering, download method), and the range. Failures are
// ReplayToFilesError with the kind the sync runner retries by, the VendorError as cause.
import { VendorHttp, type VendorConnection } from './http';
import { VendorError } from './errors';
import { asDownloadError } from './download-errors';
import { HikvisionClient, type HikDownloadState, type HikRecording } from './hikvision';
import { DahuaClient, type DahuaDownloadState } from './dahua';
import { cutToRange, framesToFiles, type VendorFrame } from './frames';
import { ReplayToFilesError, type ReplayProgress, type ReplayToFilesOptions, type WrittenFile } from '../media/replay-types';
import { fileNamer } from '../sync/naming';

/** The range and the naming rule as replayToFiles takes them (the worker names the files itself). */
interface VendorJobCommon extends Pick<ReplayToFilesOptions, 'from' | 'to' | 'naming'> {
  connection: VendorConnection;
  /** Overall bound: the range at real-time speed times this, plus deadlineSlackMs (default 2, 60 s). */
  deadlineFactor?: number;
  deadlineSlackMs?: number;
}

/** Hikvision: the recordings the session's search listed in the range, downloaded in order. */
export type HikvisionDownloadJob = VendorJobCommon & { kind: 'hikvision'; recordings: HikRecording[]; state: HikDownloadState };
/** Dahua: a camera by its 0-based ChannelTitle index. */
export type DahuaDownloadJob = VendorJobCommon & { kind: 'dahua'; index: number; state: DahuaDownloadState };
export type VendorDownloadJob = HikvisionDownloadJob | DahuaDownloadJob;

/** What a download found out about the NVR that later downloads should start from. */
export interface VendorLearned {
  /** Hikvision: GET was refused and POST worked. */
  downloadMethod: 'GET' | 'POST';
}

export interface VendorJobCallbacks {
  onFileWritten?(f: WrittenFile): void;
  /** Each `.part` path just before the file is created (FramesToFilesOptions.onPartFile). */
  onPartFile?(path: string): void;
  onProgress?(p: ReplayProgress): void;
  /** Called (before the job settles) when the download learned something of the NVR. */
  onLearned?(l: VendorLearned): void;
  signal?: AbortSignal;
}

/** Runs the job on this thread with its own HTTP client (a fresh Digest handshake: a nonce is not
 * shared with another thread's client, whose nonce counts would collide). */
export async function runVendorDownload(job: VendorDownloadJob, o: VendorJobCallbacks): Promise<WrittenFile[]> {
  let hik: HikvisionClient | undefined;
  try {
    return await runDownload(job, o, (signal) => {
      const http = new VendorHttp({ ...job.connection, signal });
      if (job.kind === 'hikvision') {
        const c = (hik = HikvisionClient.withState(http, job.state));
        return (async function* () {
          for (const rec of job.recordings) yield* c.download(rec, job.from.getTime(), job.to.getTime(), signal);
        })();
      }
      return DahuaClient.withState(http, job.state).download(job.index, job.from.getTime(), job.to.getTime(), signal);
    });
  } finally {
    // Even after a failure: the next download need not be refused the same way first.
    if (job.kind === 'hikvision' && hik && hik.downloadMethodInUse !== job.state.downloadMethod) o.onLearned?.({ downloadMethod: hik.downloadMethodInUse });
  }
}

const PROGRESS_EVERY_MS = 250;

/** Frames → files with progress, an overall deadline, and errors as ReplayToFilesError. */
async function runDownload(job: VendorDownloadJob, o: VendorJobCallbacks, frames: (signal: AbortSignal) => AsyncIterable<VendorFrame>): Promise<WrittenFile[]> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const rangeMs = job.to.getTime() - job.from.getTime();
  const deadlineMs = rangeMs * (job.deadlineFactor ?? 2) + (job.deadlineSlackMs ?? 60_000);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, deadlineMs);
  let bytes = 0;
  let count = 0;
  let last = 0;
  const progress = async function* (src: AsyncIterable<VendorFrame>): AsyncGenerator<VendorFrame> {
    for await (const f of src) {
      bytes += f.data.length;
      count++;
      const now = Date.now();
      if (o.onProgress && now - last >= PROGRESS_EVERY_MS) {
        last = now;
        o.onProgress({ bytes, frames: count, mediaTime: new Date(Math.round(f.timeMs)) });
      }
      yield f;
    }
  };
  try {
    if (o.signal?.aborted) throw new VendorError('aborted', 'aborted');
    const files = await framesToFiles(progress(cutToRange(frames(ac.signal), job.from.getTime(), job.to.getTime())), {
      finalPath: fileNamer(job.naming),
      onFileWritten: o.onFileWritten,
      onPartFile: o.onPartFile,
      signal: ac.signal,
    });
    o.onProgress?.({ bytes, frames: count, mediaTime: files.length ? files[files.length - 1].end : job.from });
    return files;
  } catch (e) {
    const completed = (e as { completed?: WrittenFile[] }).completed ?? [];
    if (timedOut)
      throw new ReplayToFilesError(
        `download did not finish within its deadline (${Math.round(deadlineMs / 1000)} s for ${Math.round(rangeMs / 1000)} s of video)`,
        completed,
        'timeout',
        e,
      );
    if (o.signal?.aborted) throw new ReplayToFilesError('download aborted', completed, 'aborted', e);
    throw asDownloadError(e, completed);
  } finally {
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
