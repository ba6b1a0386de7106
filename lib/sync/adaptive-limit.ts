// Parallel replay sessions per NVR that settle at what the NVR accepts. Many NVRs allow one or two
// replay streams and refuse more with 429, 453 Not Enough Bandwidth or 503 (DESIGN.md §4): a
// refusal ('busy' RtspError kind) lowers the limit to the sessions that were running without it
// and remembers that as the NVR's ceiling; a run of successes raises it again, never above the
// ceiling learned. `learned` is what the engine stores in sync_status to start from next time.

export interface AdaptiveLimitOptions {
  /** Sessions to start with (the setting, or the value learned before). */
  initial: number;
  /** Never more than this (the user's Parallel setting). */
  max: number;
  /** Successes in a row before one more session is tried. Default 4. */
  raiseAfter?: number;
  /** The NVR's ceiling learned on an earlier pass (sync_status): never raised above it. */
  learned?: number;
}

export class AdaptiveLimit {
  private current: number;
  private active = 0;
  private streak = 0;
  private ceiling: number | undefined;
  private readonly waiting: Array<() => void> = [];
  private readonly raiseAfter: number;

  constructor(private readonly o: AdaptiveLimitOptions) {
    this.current = Math.max(1, Math.min(o.initial, o.max));
    this.raiseAfter = o.raiseAfter ?? 4;
    this.ceiling = o.learned !== undefined && o.learned >= 1 ? o.learned : undefined;
    if (this.ceiling !== undefined) this.current = Math.min(this.current, this.ceiling);
  }

  /** Sessions allowed now. */
  get limit(): number {
    return this.current;
  }

  /** The most sessions the NVR has accepted (after a refusal), to remember; undefined until one. */
  get learned(): number | undefined {
    return this.ceiling;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Wait for a free session slot. */
  async acquire(): Promise<void> {
    while (this.active >= this.current) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
  }

  /** Give the slot back; `outcome` says how the session went. */
  release(outcome: 'ok' | 'busy' | 'failed'): void {
    const runningWithMe = this.active;
    this.active = Math.max(0, this.active - 1);
    if (outcome === 'busy') {
      // The NVR refused this one while the others ran: it takes the others, not one more.
      const accepted = Math.max(1, runningWithMe - 1);
      this.ceiling = this.ceiling === undefined ? accepted : Math.min(this.ceiling, accepted);
      this.current = Math.min(this.current, accepted);
      this.streak = 0;
    } else if (outcome === 'ok') {
      this.streak++;
      const cap = Math.min(this.o.max, this.ceiling ?? this.o.max);
      if (this.streak >= this.raiseAfter && this.current < cap) {
        this.current++;
        this.streak = 0;
      }
    }
    this.wake();
  }

  private wake(): void {
    // Every waiter re-checks the limit in acquire(); the few that fit take a slot.
    for (const w of this.waiting.splice(0)) w();
  }

  /** Run `fn` in a slot; `kindOf` tells a refused session ('busy') from other failures. */
  async run<T>(fn: () => Promise<T>, kindOf: (e: unknown) => 'busy' | 'failed' = () => 'failed'): Promise<T> {
    await this.acquire();
    try {
      const v = await fn();
      this.release('ok');
      return v;
    } catch (e) {
      this.release(kindOf(e));
      throw e;
    }
  }
}
