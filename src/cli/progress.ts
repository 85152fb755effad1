/**
 * One live progress line: rewritten in place on a terminal, printed at most every few seconds
 * otherwise (so logs captured to files stay short).
 */
const NON_TTY_INTERVAL_MS = 5_000;
const TTY_INTERVAL_MS = 200;

export class ProgressLine {
  private last = 0;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(text: string): void {
    const now = Date.now();
    const tty = this.out.isTTY === true;
    if (now - this.last < (tty ? TTY_INTERVAL_MS : NON_TTY_INTERVAL_MS)) return;
    this.last = now;
    if (tty) {
      this.out.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the live line with a message on its own line; the next update starts a new live line at once. */
  done(text: string): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
    this.last = 0;
    this.out.write(`${text}\n`);
  }
}
