/**
 * `trace --live`: ties a running trace session to the full-screen view: draws
 * it on every interval, on every key that changes the sort and on a resize,
 * and ends the trace on `q`.
 * @module
 */

import type { IntervalDocument } from "../../schema/mod.ts";
import type { TraceSession } from "../trace/mod.ts";
import { liveScreen, type LiveSort, type LiveState, SORT_KEYS } from "./_live_view.ts";
import { LiveTerminal } from "./_live_terminal.ts";

/** `--live`: the full-screen view of a running session, redrawn every interval. */
export class LiveView {
  #terminal: LiveTerminal;
  #session: TraceSession;
  #state: LiveState;
  #startedAt = performance.now();

  /**
   * Takes over the terminal and draws the first screen.
   * @param session the running trace
   * @param durationMs the trace's planned length, if any
   * @param quit called when the user presses q
   */
  constructor(session: TraceSession, durationMs: number | undefined, quit: () => void) {
    this.#session = session;
    const run = session.current();
    this.#state = {
      pids: run.meta.pids,
      comm: run.meta.comm,
      backend: run.meta.backend,
      elapsedS: 0,
      ...(durationMs !== undefined ? { durationS: durationMs / 1000 } : {}),
      last: null,
      total: null,
      unsupported: run.meta.unsupported,
      sort: "time",
    };
    this.#terminal = new LiveTerminal((key) => {
      const sort: LiveSort | undefined = SORT_KEYS[key.toLowerCase()];
      if (sort) {
        this.#state.sort = sort;
        this.draw();
      } else if (key === "q" || key === "Q") {
        quit();
      }
    }, () => this.draw());
    this.draw();
  }

  /** Shows a new interval, and the whole trace so far. */
  update(last: IntervalDocument, total: IntervalDocument): void {
    this.#state.last = last;
    this.#state.total = total;
    this.#state.elapsedS = total.t_s;
    this.#state.unsupported = total.unsupported;
    this.draw();
  }

  /** Redraws the screen from what it shows now. */
  draw(): void {
    if (this.#state.total === null) {
      this.#state.elapsedS = (performance.now() - this.#startedAt) / 1000;
    }
    this.#terminal.draw(liveScreen(this.#state, this.#terminal.size()));
  }

  /** Gives the terminal back as it was (idempotent). */
  close(): void {
    this.#terminal.close();
  }
}
