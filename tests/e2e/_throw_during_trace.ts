/**
 * ioscope's CLI with an error nothing catches, thrown from a timer after
 * ARGS[0] ms (as a bug in a callback would be), for uncaught_error_test.ts.
 * usage: _throw_during_trace.ts MS trace ARGS...
 * @module
 */
import { main } from "../../mod.ts";

setTimeout(() => {
  throw new Error("planted failure");
}, Number(Deno.args[0]));
Deno.exit(await main(Deno.args.slice(1)));
