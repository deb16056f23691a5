/**
 * A queue that runs its tasks one at a time, in the order they were pushed; a task may be async,
 * and the next one starts when it has finished. permessage-deflate uses it to keep messages in
 * order around asynchronous (de)compression.
 * @module
 */

/** Runs pushed tasks in order with `run`, one at a time. */
export class SerialQueue<T> {
  readonly #run: (task: T) => void | Promise<void>;
  #tasks: T[] = [];
  #running = false;
  #stopped = false;

  /** Creates a queue whose tasks are carried out by `run`. */
  constructor(run: (task: T) => void | Promise<void>) {
    this.#run = run;
  }

  /** Whether a task is being run (later work must queue behind it). */
  get running(): boolean {
    return this.#running;
  }

  /** Queues a task, and starts running if idle. Ignored once stopped. */
  push(task: T): void {
    if (this.#stopped) return;
    this.#tasks.push(task);
    if (!this.#running) this.#drain();
  }

  /** Drops the queued tasks; the one running finishes, nothing after it starts. */
  stop(): void {
    this.#stopped = true;
    this.#tasks = [];
  }

  async #drain(): Promise<void> {
    this.#running = true;
    let next = 0;
    while (next < this.#tasks.length && !this.#stopped) {
      const task = this.#tasks[next++];
      // Drop the finished head now and then, so a long busy queue does not keep it all.
      if (next > 64 && next * 2 > this.#tasks.length) {
        this.#tasks = this.#tasks.slice(next);
        next = 0;
      }
      const result = this.#run(task);
      // Synchronous tasks run back to back, without a microtask in between.
      if (result !== undefined) await result;
    }
    this.#tasks = [];
    this.#running = false;
  }
}
