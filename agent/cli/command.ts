/**
 * The shape of a CLI command: its help text and a function from arguments to
 * an exit status. mod.ts keeps the table of commands.
 * @module
 */

/** One `ioscope <name>` command. */
export interface Command {
  /** One line for `ioscope --help`. */
  summary: string;
  /** The full `ioscope <name> --help` text. */
  help: string;
  /** Runs the command; resolves to the exit status. Throws UsageError for bad input. */
  run(args: string[]): Promise<number>;
}
