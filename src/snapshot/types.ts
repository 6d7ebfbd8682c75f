/**
 * What flows through the snapshot pipeline: what to report (SnapshotParams), what a scan hands to
 * the report (ScanParts), the long-lived state a caller may lend it (SnapshotDeps), and what comes
 * out (Snapshot: the report and its statistics).
 */
import type { ContainerRef } from '../procfs/cgroup.js';
import type { ReadProblem } from '../procfs/reader.js';
import type { NsLink } from '../procfs/types.js';
import type { HostnameReader } from '../native/uts.js';
import type { NamespaceRow } from '../scan/namespaces.js';
import type { ScopeReport } from '../scope/report.js';
import type { MetricHistory } from '../scope/host-metric.js';
import type { ProcessNodeCache } from '../scope/process-topology.js';
import type { ProcessNodesMode, TopologyName } from '../scope/topologies.js';

export interface SnapshotParams {
  proc: string;
  hostname: string;
  pluginId: string;
  /** Topologies to report (default all four). */
  topologies?: readonly TopologyName[];
  /** Which processes get Process nodes (default `distinct`; see PROCESS_NODES_MODES). */
  processNodes?: ProcessNodesMode;
}

export interface SnapshotDeps {
  /** Namespace counts of earlier refreshes (the daemon keeps one); default: this one only. */
  history?: MetricHistory;
  /**
   * A long-lived UTS hostname reader (a UTS worker that survives this snapshot, or the daemon's
   * daemon reading on its main thread: InThreadUtsReader). Its cache is cleared first: a
   * hostname may have changed since the last refresh and inodes of dead namespaces are reused.
   */
  uts?: HostnameReader;
  /**
   * Process nodes of earlier refreshes (the daemon keeps one): unchanged nodes are reused
   * with their JSON and the timestamp of when their content was set. Default: every node afresh.
   */
  processNodes?: ProcessNodeCache;
}

export interface SnapshotStats {
  rows: number;
  processes: number;
  /** Rows of namespaces pinned only by nsfs bind mounts (NPROCS 0). */
  persistent: number;
  /** uts rows whose hostname could be read / all uts rows. */
  hostnames: number;
  utsRows: number;
  /** Thread id of the thread that read the hostnames (null when none ran or the daemon's main thread read them). */
  utsWorker: number | null;
  /** Read problems by kind (unreadable, vanished, ...): normal in small numbers on a live host. */
  issues: Partial<Record<ReadProblem, number>>;
  /** Degraded native lookups (e.g. hostnames unreadable), one message per kind. */
  warnings: string[];
  /** Nodes per reported topology. */
  nodes: Partial<Record<TopologyName, number>>;
  /** Processes found in a container / containers found (0 when the container topology is off). */
  containerized: number;
  containers: number;
  /** Processes whose cgroup file could not be read. */
  cgroupUnreadable: number;
  /** Which pid gave the initial (host) namespaces: 1, 2 (pid 1's links unreadable), both, or none. */
  initialFrom: '1' | '2' | '1+2' | 'none';
  scanMs: number;
  /** When the scan finished: the timestamp of every entry in the report (ms since the epoch). */
  takenAt: number;
  passwd: string | null;
}

export interface Snapshot {
  report: ScopeReport;
  stats: SnapshotStats;
}

/** What a scan (full or incremental) hands to the report: everything but the report itself. */
export interface ScanParts {
  /** Process rows plus persistent (NPROCS 0) rows, hostnames set, sorted by inode. */
  rows: NamespaceRow[];
  /** How many of `rows` are persistent (bind-mount-only) rows. */
  persistent: number;
  /** Links by pid: every process, or (IncrementalScanner.summary) the isolated ones and pids 1 and 2. */
  memberships: ReadonlyMap<number, readonly NsLink[]>;
  /** When `memberships` leaves host-only processes out: how many processes there are, and how many of them are host-only. */
  counts?: { processes: number; hostOnly: number };
  /** Containers by pid (null when neither the Container nor the Host topology is reported). */
  containers: { byPid: Map<number, ContainerRef>; unreadable: number } | null;
  issues: Partial<Record<ReadProblem, number>>;
  warnings: string[];
  utsWorker: number | null;
  passwd: string | null;
}
