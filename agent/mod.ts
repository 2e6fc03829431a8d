/**
 * What the agent's rooms share (agent/trace, agent/bench, agent/nightly,
 * agent/cli and the root mod.ts): UsageError and RunError (`errors.ts`),
 * atomic writes (`atomic_write.ts`), the one PATH lookup (`find_command.ts`)
 * and the one path test (`exists.ts`). It re-exports none of the rooms above
 * it: each has its own front door.
 * @module
 */
export {
  dirOf,
  outputKind,
  TEMP_PREFIX,
  writeErrorReason,
  writeFileAtomic,
  writeNewFile,
  writeTempFile,
} from "./atomic_write.ts";
export { RunError, UsageError } from "./errors.ts";
export { exists } from "./exists.ts";
export { findCommand } from "./find_command.ts";
