/** Messages between uts.ts (main side) and uts-worker.ts. Plain structured-clone data only. */

export interface UtsTarget {
  /** Expected nsfs inode; the worker checks the opened file against it (inode reuse, pid gone). */
  ino: number;
  /** nsfs path of the UTS namespace, e.g. /proc/<pid>/ns/uts or a bind mount. */
  path: string;
}

export type UtsItemResult = { ino: number; ok: true; hostname: string } | { ino: number; ok: false; code: string; errno: number; reason: string };

export interface WorkerSelfCheck {
  tid: number;
  /** uname().nodename of the worker thread right now. */
  nodename: string;
  /** Inode of the worker thread's current UTS namespace (/proc/thread-self/ns/uts). */
  utsIno: number;
  /** Inode of the UTS namespace the worker started in (and must always return to). */
  homeIno: number;
}

export type UtsRequest = { kind: 'read'; id: number; targets: UtsTarget[] } | { kind: 'selfcheck'; id: number };

export type UtsResponse =
  | { kind: 'read'; id: number; results: UtsItemResult[] }
  | { kind: 'selfcheck'; id: number; ok: true; check: WorkerSelfCheck }
  | { kind: 'selfcheck'; id: number; ok: false; code: string; reason: string }
  /** The worker could not return to its own UTS namespace and is exiting. */
  | { kind: 'fatal'; reason: string };
