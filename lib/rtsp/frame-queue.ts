// Frames waiting for an async consumer, bounded in frames and bytes. Past either bound the source
// is paused (for the replay: the socket stops being read, TCP's window fills and the server's
// writes block), and resumed once the consumer has taken everything, so memory stays bounded
// whatever the length of the stream.

export interface QueuedFrame {
  data: Uint8Array;
}

export interface FrameQueueOptions<F extends QueuedFrame> {
  /** Called per frame in order; a returned promise is awaited before the next frame. */
  consume(frame: F): void | Promise<void>;
  /** Pause when more than this many frames are waiting. */
  maxFrames: number;
  /** Pause when more than this many bytes are waiting. */
  maxBytes: number;
  /** Stop the source (called once per pause). */
  pause(): void;
  /** Start the source again. */
  resume(): void;
  /** The consumer has taken every frame given so far. */
  drained(): void;
  /** The consumer threw or rejected: the queue is closed, nothing more is delivered. */
  failed(err: unknown): void;
}

export class FrameQueue<F extends QueuedFrame> {
  /** Frames and bytes the consumer has taken. */
  delivered = { frames: 0, bytes: 0 };
  private items: F[] = [];
  private bytes = 0;
  private pumping = false;
  private paused = false;
  private closed = false;

  constructor(private readonly o: FrameQueueOptions<F>) {}

  /** The consumer has frames in hand or the source is paused: the source's silence is ours, not its own. */
  get busy(): boolean {
    return this.pumping || this.paused;
  }

  /** Frames waiting (not yet given to the consumer). */
  get length(): number {
    return this.items.length;
  }

  push(frame: F): void {
    if (this.closed) return;
    this.items.push(frame);
    this.bytes += frame.data.length;
    if (!this.paused && (this.bytes > this.o.maxBytes || this.items.length > this.o.maxFrames)) {
      this.paused = true;
      this.o.pause();
    }
    if (!this.pumping) void this.pump();
  }

  /** Resumes a paused source without waiting for the consumer (it must keep reading, e.g. for a TEARDOWN reply). */
  release(): void {
    if (!this.paused) return;
    this.paused = false;
    this.o.resume();
  }

  /** Drops what is waiting; nothing more is delivered or resumed. */
  close(): void {
    this.closed = true;
    this.items = [];
    this.bytes = 0;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.items.length > 0 && !this.closed) {
      const f = this.items.shift() as F;
      this.bytes -= f.data.length;
      try {
        const r = this.o.consume(f);
        if (r) await r;
      } catch (e) {
        this.pumping = false;
        this.close();
        this.o.failed(e);
        return;
      }
      this.delivered.frames++;
      this.delivered.bytes += f.data.length;
    }
    this.pumping = false;
    if (this.closed) return;
    if (this.paused) {
      this.paused = false;
      this.o.resume();
    }
    this.o.drained();
  }
}
