/**
 * Host identity for the Scope report. Scope's probe names its host node `<hostname>;<host>` where
 * hostname is env SCOPE_HOSTNAME when set (and not empty), else os.Hostname(). Our node must carry
 * the same id or the app shows a second, empty host. Keep every rule about it in this one module.
 *
 * Order: `--hostname`, then SCOPE_HOSTNAME (when not empty), then the hostname of the HOST's UTS
 * namespace (read through <proc>/1/ns/uts, else <proc>/2/ns/uts = kthreadd, by setns+uname on the
 * UTS worker thread), then os.hostname(). The host UTS step matters when the plugin runs in a
 * container with its own UTS namespace but the host's pids (--pid=host): os.hostname() would be
 * the container's name while the probe (usually --uts=host or given SCOPE_HOSTNAME) uses the host's.
 */
import * as os from 'node:os';
import type { NativeResult } from '../native/result.js';

/** What Scope's probe names its host node after, when set; so do we. */
export const HOSTNAME_ENV = 'SCOPE_HOSTNAME';

export type HostnameSource = 'flag' | 'env' | 'host-uts' | 'os';
export const HOSTNAME_SOURCES = ['flag', 'env', 'host-uts', 'os'] as const satisfies readonly HostnameSource[];

export interface ResolvedHostname {
  hostname: string;
  source: HostnameSource;
  /** Why the host UTS namespace was not used, when the answer fell back to os.hostname(). */
  fallback?: string;
}

export interface HostnameInputs {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** procfs whose pid 1 / pid 2 lead to the host's UTS namespace (default /proc). */
  proc?: string;
  /** Injected for tests; default: native/uts.ts hostUtsHostname on a private, stopped-after reader. */
  hostUts?: (proc: string) => Promise<NativeResult<string>>;
  osHostname?: () => string;
}

/** The hostname of the host's UTS namespace; the UTS worker it needs is stopped before returning. */
export async function readHostUtsHostname(proc: string): Promise<NativeResult<string>> {
  // Imported on demand: `check` and the schema import this module and must not load koffi.
  const { UtsHostnameReader, hostUtsHostname } = await import('../native/uts.js');
  const reader = new UtsHostnameReader();
  try {
    return await hostUtsHostname(proc, reader);
  } finally {
    await reader.terminate();
  }
}

/** Explicit choices only (flag, then SCOPE_HOSTNAME); null when the host has to be asked. */
export function explicitHostname(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedHostname | null {
  if (flag !== undefined) return { hostname: flag, source: 'flag' };
  const fromEnv = env[HOSTNAME_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { hostname: fromEnv, source: 'env' };
  return null;
}

export async function resolveHostname(inputs: HostnameInputs = {}): Promise<ResolvedHostname> {
  const explicit = explicitHostname(inputs.flag, inputs.env ?? process.env);
  if (explicit) return explicit;
  const proc = inputs.proc ?? '/proc';
  let why: string;
  try {
    const r = await (inputs.hostUts ?? readHostUtsHostname)(proc);
    if (r.ok && r.value !== '') return { hostname: r.value, source: 'host-uts' };
    why = r.ok ? `the host UTS namespace (via ${proc}) has an empty hostname` : `host UTS namespace via ${proc}: ${r.code}: ${r.reason}`;
  } catch (err) {
    why = `host UTS namespace via ${proc}: ${err instanceof Error ? err.message : String(err)}`;
  }
  return { hostname: (inputs.osHostname ?? os.hostname)(), source: 'os', fallback: why };
}

/** How a source is named in messages. */
export function hostnameSourceName(source: HostnameSource, proc = '/proc'): string {
  switch (source) {
    case 'flag':
      return '--hostname';
    case 'env':
      return HOSTNAME_ENV;
    case 'host-uts':
      return `the host UTS namespace's hostname (${proc}/1 or 2/ns/uts)`;
    case 'os':
      return 'the host name (os.hostname())';
  }
}

/** Scope's host node id (report.MakeHostNodeID): the literal suffix `;<host>`. */
export function hostNodeId(hostname: string): string {
  return `${hostname};<host>`;
}
