// On a host that is not x86_64 every syscall number would be given an x86_64
// name (arm64's 63 is read, x86_64's 63 is uname): ioscope refuses there with
// one line instead. This host is x86_64, so the refusal is checked by the
// function that decides it, and the trace here is not refused.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { unsupportedArch } from "../../../../agent/trace/backends/resolve.ts";

Deno.test("a host that is not x86_64 is refused with one line naming its architecture", () => {
  assertEquals(unsupportedArch("x86_64"), null);
  assertEquals(Deno.build.arch, "x86_64", "this host");
  for (const arch of ["aarch64", "riscv64"]) {
    const why = unsupportedArch(arch);
    assert(why && !why.includes("\n") && why.includes(arch) && why.includes("x86_64"), String(why));
  }
});
