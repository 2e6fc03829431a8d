/**
 * The terminal side of `trace --live`: the alternate screen, a hidden cursor,
 * keys read one at a time (cbreak mode: Ctrl-C still raises SIGINT), and one
 * `close()` that puts every one of them back, on every end, including an exit
 * that skips it (an `unload` listener is the safety net).
 * @module
 */

/** Enter the alternate screen, hide the cursor. */
const ENTER = "\x1b[?1049h\x1b[?25l";
/** Show the cursor, leave the alternate screen (restores what was there). */
const LEAVE = "\x1b[?25h\x1b[?1049l";
/** Cursor home. */
const HOME = "\x1b[H";
/** Erase to the end of the line, to the end of the screen. */
const EOL = "\x1b[K";
const EOS = "\x1b[J";

/** A full-screen terminal session, closed (idempotently) on dispose. */
export class LiveTerminal {
  #open = false;
  #raw = false;
  #encoder = new TextEncoder();
  #onKey: (key: string) => void;
  #onResize = () => this.#resized?.();
  #resized: (() => void) | null = null;
  #unload = () => this.close();

  /**
   * Takes over the terminal: alternate screen, no cursor, keys one at a time.
   * @param onKey called with each key pressed (one character)
   * @param onResize called when the terminal changes size
   */
  constructor(onKey: (key: string) => void, onResize?: () => void) {
    this.#onKey = onKey;
    this.#resized = onResize ?? null;
    this.#write(ENTER);
    this.#open = true;
    globalThis.addEventListener("unload", this.#unload);
    try {
      Deno.addSignalListener("SIGWINCH", this.#onResize);
    } catch {
      // no SIGWINCH: the next redraw picks up the size
    }
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(true, { cbreak: true });
      this.#raw = true;
      this.#readKeys();
    }
  }

  /** The terminal's size now (80x24 when it cannot be read). */
  size(): { columns: number; rows: number } {
    try {
      return Deno.consoleSize();
    } catch {
      return { columns: 80, rows: 24 };
    }
  }

  /**
   * Redraws the whole screen in place.
   * @param lines the screen's lines, already safe for a terminal and cut to its width
   */
  draw(lines: string[]): void {
    if (!this.#open) return;
    this.#write(HOME + lines.map((l) => l + EOL).join("\r\n") + EOS);
  }

  /** Puts the terminal back as it was: cooked mode, cursor, main screen. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    globalThis.removeEventListener("unload", this.#unload);
    try {
      Deno.removeSignalListener("SIGWINCH", this.#onResize);
    } catch {
      // never added
    }
    if (this.#raw) {
      try {
        Deno.stdin.setRaw(false);
      } catch {
        // stdin went away: nothing to restore
      }
      this.#raw = false;
    }
    this.#write(LEAVE);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let done = 0;
    try {
      while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
    } catch {
      // the terminal is gone
    }
  }

  async #readKeys(): Promise<void> {
    const buf = new Uint8Array(64);
    const dec = new TextDecoder();
    while (this.#open) {
      let n: number | null;
      try {
        n = await Deno.stdin.read(buf);
      } catch {
        return;
      }
      if (n === null || !this.#open) return;
      for (const ch of dec.decode(buf.subarray(0, n))) this.#onKey(ch);
    }
  }
}
