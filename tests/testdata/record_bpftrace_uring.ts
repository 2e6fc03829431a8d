// Records tests/testdata/bpftrace_fio_uring.jsonl: the raw `bpftrace -f json`
// output of probes/io_uring.bt run by hand on fio (--ioengine=io_uring
// --direct=1 --iodepth=4 --rw=randread --bs=4k --rate_iops=300, 1 s after a
// 1.5 s start delay), ended by SIGINT after fio exits. The first line, which
// the parser ignores, holds fio's own total_ios.
// Run as root: deno run -A tests/testdata/record_bpftrace_uring.ts
const root = new URL("../../", import.meta.url).pathname;
const dir = Deno.makeTempDirSync({ dir: "/var/tmp" });
Deno.writeFileSync(`${dir}/fio.dat`, new Uint8Array(16 << 20).fill(3));
const fio = new Deno.Command("fio", {
  args: [
    "--name=uring",
    `--filename=${dir}/fio.dat`,
    "--size=16M",
    "--rw=randread",
    "--bs=4k",
    "--ioengine=io_uring",
    "--direct=1",
    "--iodepth=4",
    "--rate_iops=300",
    "--thread",
    "--startdelay=1.5",
    "--time_based",
    "--runtime=1",
    "--output-format=json",
    `--output=${dir}/fio.json`,
  ],
  stdout: "null",
}).spawn();
const bt = new Deno.Command("bpftrace", {
  args: ["-f", "json", `${root}probes/io_uring.bt`, String(fio.pid)],
  stdout: "piped",
  stderr: "null",
}).spawn();
const out: Uint8Array[] = [];
const reading = (async () => {
  for await (const c of bt.stdout) out.push(c);
})();
await fio.status;
await new Promise((r) => setTimeout(r, 1200));
bt.kill("SIGINT");
await bt.status;
await reading;
const total = JSON.parse(Deno.readTextFileSync(`${dir}/fio.json`)).jobs[0].read.total_ios;
Deno.removeSync(dir, { recursive: true });
const text = new TextDecoder().decode(new Uint8Array(out.flatMap((c) => [...c])));
Deno.writeTextFileSync(
  `${root}tests/testdata/bpftrace_fio_uring.jsonl`,
  JSON.stringify({ type: "ioscope-fixture", data: { fio_total_ios: total } }) + "\n" + text,
);
console.log(`recorded ${text.split("\n").length} lines, fio total_ios ${total}`);
