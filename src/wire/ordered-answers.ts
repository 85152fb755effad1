/**
 * The answers of one bidi stream, written in request order when some come later than others: a
 * push held by a cut (ADR 0040) is answered once the cut releases it, and the answers of the
 * requests after it on the same stream wait for it. While nothing is pending an answer is
 * written at once, so a stream that never meets a hold pays nothing.
 *
 * ```ts
 * const answers = new OrderedAnswers<Buffer>((frame) => stream.write(frame));
 * answers.add(serve(req));          // a value, or a promise that never rejects
 * answers.afterAll(() => stream.end());
 * ```
 */
export class OrderedAnswers<T> {
  private tail: Promise<void> | null = null;

  constructor(private readonly write: (answer: T) => void) {}

  /** Writes `answer` now when nothing is pending, else after every answer added before it. */
  add(answer: T | Promise<T>): void {
    if (this.tail === null && !(answer instanceof Promise)) {
      this.write(answer);
      return;
    }
    const next: Promise<void> = (this.tail ?? Promise.resolve()).then(() => answer).then((a) => this.write(a));
    this.tail = next;
    const settled = (): void => { if (this.tail === next) this.tail = null; };
    next.then(settled, settled);
  }

  /** Runs `fn` once every answer added so far is written (at once when none is pending). */
  afterAll(fn: () => void): void {
    if (this.tail === null) fn();
    else this.tail.then(fn, fn);
  }
}
