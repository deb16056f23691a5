/**
 * The pull-style API's queue: messages wait here for `for await (const message of ws)`, and the
 * connection stops reading from the socket while it is full, so a reader that falls behind slows
 * the peer down instead of growing memory.
 * @module
 */

/** A message as the application sees it: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/** Messages waiting to be read, as a stream with room for `capacity` of them. */
export class MessageQueue {
  /** The messages, for the application to read. */
  readonly readable: ReadableStream<Message>;
  #controller: ReadableStreamDefaultController<Message> | null = null;
  #wakeWriter: (() => void) | null = null;

  /** A queue that counts as full once `capacity` messages wait unread. */
  constructor(capacity: number) {
    this.readable = new ReadableStream<Message>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#wake(),
      cancel: () => {
        // The reader wants no more: later messages are dropped, and reading goes on.
        this.#controller = null;
        this.#wake();
      },
    }, { highWaterMark: capacity });
  }

  /** Whether `capacity` messages (or more) wait unread. False once closed. */
  get isFull(): boolean {
    const controller = this.#controller;
    return controller !== null && (controller.desiredSize ?? 1) <= 0;
  }

  /** Whether something has started reading. */
  get isRead(): boolean {
    return this.readable.locked;
  }

  /** Adds a message (even to a full queue: the caller stops reading instead of dropping). */
  push(message: Message): void {
    this.#controller?.enqueue(message);
  }

  /** Resolves when a reader wants more, or the queue closed. */
  room(): Promise<void> {
    if (this.#controller === null) return Promise.resolve();
    return new Promise((resolve) => this.#wakeWriter = resolve);
  }

  /** No more messages: the reader sees the end after the ones still queued. */
  close(): void {
    const controller = this.#controller;
    if (controller === null) return;
    this.#controller = null;
    try {
      controller.close();
    } catch {
      // Already cancelled by the reader.
    }
    this.#wake();
  }

  #wake(): void {
    const wake = this.#wakeWriter;
    this.#wakeWriter = null;
    wake?.();
  }
}
