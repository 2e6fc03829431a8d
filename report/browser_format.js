/**
 * Number formatting shared by the pages' browser code, inlined before it as
 * the text of {@linkcode clientFormat} (so it must not reach anything outside
 * its own body). It sets `globalThis.ioscopeFormat`, which the report's and
 * the trend page's scripts read.
 * @module
 */

/** Runs in the page: `(clientFormat)()`. */
export function clientFormat() {
  "use strict";
  function trim(x) {
    const a = Math.abs(x);
    const t = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
    return t.includes(".") ? t.replace(/\.?0+$/, "") : t;
  }
  function fmtNs(ns) {
    const a = Math.abs(ns);
    if (a < 1e3) return trim(ns) + " ns";
    if (a < 1e6) return trim(ns / 1e3) + " µs";
    if (a < 1e9) return trim(ns / 1e6) + " ms";
    return trim(ns / 1e9) + " s";
  }
  function fmtBytes(b) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let v = b;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return trim(v) + " " + units[i];
  }
  function fmtCount(n) {
    const a = Math.abs(n);
    if (a < 1e4) return trim(n);
    if (a < 1e7) return trim(n / 1e3) + " k";
    if (a < 1e10) return trim(n / 1e6) + " M";
    return trim(n / 1e9) + " G";
  }
  globalThis.ioscopeFormat = Object.freeze({ trim, fmtNs, fmtBytes, fmtCount });
}
