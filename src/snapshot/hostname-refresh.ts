/**
 * The hostname inside each UTS namespace, for the daemon: read when the namespace first appears
 * and again every HOSTNAME_MAX_AGE_MS (sethostname shows no other sign), on the main thread with
 * setns+uname+setns back (native/uts-read.ts), a few per turn of the event loop.
 */
import { InThreadUtsReader } from '../native/uts-read.js';
import { utf8Bytes } from '../procfs/bytes.js';
import type { ProcReader } from '../procfs/reader.js';
import type { NamespaceRow } from '../scan/namespaces.js';
import { nextTurn } from './turns.js';

/** A UTS namespace's hostname is read again this often (sethostname shows no other sign). */
export const HOSTNAME_MAX_AGE_MS = 10_000;
/** UTS hostnames read in one turn of the event loop. */
const HOSTNAMES_PER_TURN = 8;

export class HostnameRefresh {
  private readonly uts = new InThreadUtsReader({ mainThread: true });
  /** Hostname by UTS namespace inode (null: unreadable) and when it was read. */
  private readonly hostnames = new Map<number, { name: string | null; at: number }>();
  /** When the oldest hostname is due to be read again. */
  private dueAt = 0;

  constructor(
    private readonly reader: ProcReader,
    /** The daemon is stopping: give up between two turns. */
    private readonly stopped: () => boolean,
  ) {}

  /** The thread that reads the hostnames (for the snapshot's statistics). */
  get threadId(): number | null {
    return this.uts.threadId;
  }

  /** Whether some hostname is due to be read again by age. */
  due(now: number): boolean {
    return now >= this.dueAt;
  }

  terminate(): Promise<void> {
    return this.uts.terminate();
  }

  /**
   * Hostnames of new UTS namespaces, and of the others once they are HOSTNAME_MAX_AGE_MS old, set
   * on `rows`. `accessPath`: the nsfs path of a row without a process (a bind-mounted namespace).
   */
  async read(rows: NamespaceRow[], accessPath: (ns: number) => string | null, warnings: string[], now: number): Promise<void> {
    const targets: Array<{ ino: number; path: string }> = [];
    const live = new Set<number>();
    for (const r of rows) {
      if (r.type !== 'uts') continue;
      live.add(r.ns);
      const known = this.hostnames.get(r.ns);
      if (known !== undefined && now - known.at < HOSTNAME_MAX_AGE_MS) continue;
      const path = r.pid !== null ? this.reader.resolve(String(r.pid), 'ns', 'uts') : accessPath(r.ns);
      if (path === null) continue;
      this.uts.forget(r.ns);
      targets.push({ ino: r.ns, path });
    }
    // Inodes of dead namespaces are reused: forget them.
    for (const ino of [...this.hostnames.keys()]) if (!live.has(ino)) this.hostnames.delete(ino);
    try {
      // A few per turn (each is open + setns + uname + setns back, ~0.1 ms): all of a node's UTS
      // namespaces fall due together, and /report requests must not wait for a hundred of them.
      for (let i = 0; i < targets.length; i += HOSTNAMES_PER_TURN) {
        if (i > 0) {
          await nextTurn();
          if (this.stopped()) throw new Error('stopped');
        }
        const chunk = targets.slice(i, i + HOSTNAMES_PER_TURN);
        const names = await this.uts.hostnames(chunk);
        for (const t of chunk) this.hostnames.set(t.ino, { name: names.get(t.ino) ?? null, at: now });
      }
    } catch (err) {
      if (this.stopped()) throw err;
      warnings.push(`UTS hostnames could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
    let oldest = Infinity;
    for (const h of this.hostnames.values()) if (h.at < oldest) oldest = h.at;
    this.dueAt = oldest + HOSTNAME_MAX_AGE_MS;
    let failed = 0;
    for (const r of rows) {
      if (r.type !== 'uts') continue;
      const name = this.hostnames.get(r.ns)?.name;
      if (name !== undefined && name !== null) r.hostname = utf8Bytes(name);
      else failed++;
    }
    if (failed > 0) warnings.push(`hostnames of ${failed} UTS namespace(s) could not be read (setns into them needs CAP_SYS_ADMIN over their owner); their Hostname cells stay empty`);
  }
}
