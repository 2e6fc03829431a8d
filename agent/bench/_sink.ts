/**
 * The serve scenario's sink: a process that accepts one TCP connection on
 * 127.0.0.1, receives the whole file, acknowledges it with one byte, reads
 * to end of file, and prints the block-list digest of what it got. It keeps
 * up to 1 GiB in memory and hashes after the transfer, so the path under test
 * is not slowed by hashing; above that it hashes every 256 MiB as it goes.
 *
 * `deno run -A agent/bench/_sink.ts '{"fileSize":N,"blockSize":B}'` prints
 * `{"port":P}`, then `{"bytes":N,"digest":"..."}` at the end.
 * @module
 */

import {
  acceptConnection,
  allocPages,
  ErrnoError,
  libc,
  localPort,
  read,
  tcpListen,
  write,
} from "../../ffi/mod.ts";
import { BlockDigest } from "./_checksum.ts";

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;
/** Received data kept whole up to this size, then hashed after the transfer. */
export const SINK_BUFFER_MAX = 1 << 30;
const SINK_CHUNK = 256 << 20;

function say(obj: unknown): void {
  const bytes = new TextEncoder().encode(JSON.stringify(obj) + "\n");
  for (let put = 0; put < bytes.length;) put += Deno.stdout.writeSync(bytes.subarray(put));
}

function main(): number {
  libc().prctl(PR_SET_PDEATHSIG, BigInt(SIGKILL), 0n, 0n, 0n);
  if (Deno.ppid === 1) return 1;
  const { fileSize, blockSize } = JSON.parse(Deno.args[0] ?? "") as {
    fileSize: number;
    blockSize: number;
  };
  const chunk = fileSize <= SINK_BUFFER_MAX
    ? fileSize
    : Math.max(blockSize, Math.floor(SINK_CHUNK / blockSize) * blockSize);
  using listener = tcpListen();
  say({ port: localPort(listener.fd) });
  using conn = acceptConnection(listener);
  listener.close();
  using buf = allocPages(chunk);
  const view = buf.bytes();
  const digest = new BlockDigest(blockSize);
  let total = 0;
  let fill = 0;
  let firstBlock = 0;
  while (total < fileSize) {
    const n = read(conn.fd, buf.address + fill, Math.min(chunk - fill, fileSize - total));
    if (n === 0) break;
    fill += n;
    total += n;
    if (fill === chunk && total < fileSize) {
      digest.addAll(view.subarray(0, fill), firstBlock);
      firstBlock += fill / blockSize;
      fill = 0;
    }
  }
  if (total === fileSize) write(conn.fd, buf.address, 1);
  // Anything after the file's bytes is an error of the path: count it.
  let extra = 0;
  using scratch = allocPages(65536);
  for (;;) {
    let n = 0;
    try {
      n = read(conn.fd, scratch.pointer, scratch.length);
    } catch (e: unknown) {
      // A worker that closes before reading the ack resets the connection: also an end.
      if (!(e instanceof ErrnoError && e.code === "ECONNRESET")) throw e;
    }
    if (n === 0) break;
    extra += n;
  }
  digest.addAll(view.subarray(0, fill), firstBlock);
  say({ bytes: total + extra, digest: digest.hex() });
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(main());
  } catch (e: unknown) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
