// Main-thread lag as the longest gap between timer ticks (a timer due every `periodMs` that fires
// late shows how long the event loop was held). monitorEventLoopDelay sampled too coarsely to see
// single long stalls, so the gap is measured directly.
import { performance } from 'node:perf_hooks';

export function timerGapProbe(periodMs = 2): { stop(): number } {
  let max = 0;
  let last = performance.now();
  const t = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - periodMs);
    last = now;
  }, periodMs);
  // A probe never keeps a process alive: a bench child whose replay failed must exit (with its
  // error) instead of ticking until the parent's timeout.
  t.unref();
  return {
    stop: () => {
      clearInterval(t);
      // The interval still pending counts too (a block at the very end).
      return Math.max(max, performance.now() - last - periodMs);
    },
  };
}

/** CPU seconds (user + system, every thread of this process) since `from`. */
export function cpuSecSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

export const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;
