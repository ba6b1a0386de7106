// Vendor failures as the sync runner reads download failures: ReplayToFilesError with the kind it
// retries by, the VendorError as cause. Its own small module: the main thread needs it without
// loading the download code (demuxers, muxer), which runs in a worker (./download-job.ts).
import { VendorError, type VendorErrorKind } from './errors';
import { ReplayToFilesError, type ReplayErrorKind, type WrittenFile } from '../media/replay-types';
import { errorMessage } from '../errors';

export const replayKindOf = (k: VendorErrorKind): ReplayErrorKind =>
  k === 'auth' || k === 'locked'
    ? 'auth'
    : k === 'timeout'
      ? 'timeout'
      : k === 'unreachable'
        ? 'network'
        : k === 'aborted'
          ? 'aborted'
          : k === 'busy'
            ? 'busy'
            : k === 'status'
              ? 'status'
              : 'protocol';

/** A failure before or around a download (search, state) as the runner expects it. */
export function asDownloadError(e: unknown, completed: WrittenFile[] = []): ReplayToFilesError {
  if (e instanceof ReplayToFilesError) return e;
  if (e instanceof VendorError) return new ReplayToFilesError(e.message, completed, replayKindOf(e.kind), e);
  return new ReplayToFilesError(`writing the download failed: ${errorMessage(e)}`, completed, 'write', e);
}
