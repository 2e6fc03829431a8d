/**
 * The bpf backend's kernel maps, created here (the agent owns kernel
 * objects) from the specs probes/bpf/ declares, and read back by the
 * decoding there ({@linkcode BpfMapReader}).
 * @module
 */

import { BpfMap, type MapSpec, raiseMemlockWhereCharged } from "../../../ffi/mod.ts";
import { BpfMapReader, type MapSetOptions, mapSpecs } from "../../../probes/bpf/mod.ts";

/**
 * Creates maps from their specs, all or none.
 * @param specs what each map is, by name
 * @returns the maps, by name
 * @throws ErrnoError when the kernel refuses one (those made are closed)
 */
export function createMaps<K extends string>(specs: Record<K, MapSpec>): Record<K, BpfMap> {
  // Before memcg accounting (5.11) maps and programs are charged to RLIMIT_MEMLOCK.
  raiseMemlockWhereCharged();
  const made: Partial<Record<K, BpfMap>> = {};
  try {
    for (const k of Object.keys(specs) as K[]) made[k] = BpfMap.create(specs[k]);
  } catch (e: unknown) {
    closeMaps(made);
    throw e;
  }
  return made as Record<K, BpfMap>;
}

/**
 * Closes maps (programs hold their own references while loaded). Idempotent.
 * @param maps the maps
 */
export function closeMaps(maps: Partial<Record<string, BpfMap>>): void {
  for (const m of Object.values(maps)) m?.close();
}

/** The maps of one trace: created together, read back together, closed together; `using` closes them. */
export class BpfMapSet extends BpfMapReader implements Disposable {
  readonly #maps: Record<string, BpfMap>;

  /**
   * Creates every map.
   * @param options the syscalls and where starts live
   * @throws ErrnoError when the kernel refuses a map (the ones made are closed)
   */
  constructor(options: MapSetOptions) {
    const maps = createMaps(mapSpecs(options));
    super(maps, options);
    this.#maps = maps;
  }

  /** Closes every map. Idempotent. */
  close(): void {
    closeMaps(this.#maps);
  }

  /** See {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
