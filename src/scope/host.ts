/**
 * Host identity for the Scope report. Scope's probe names its host node `<hostname>;<host>` where
 * hostname is env SCOPE_HOSTNAME when set (and not empty), else os.Hostname(). Our node must carry
 * the same id or the app shows a second, empty host. Keep every rule about it in this one function.
 */
import * as os from 'node:os';

export type HostnameSource = 'flag' | 'env' | 'os';

export interface ResolvedHostname {
  hostname: string;
  source: HostnameSource;
}

export function resolveHostname(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedHostname {
  if (flag !== undefined) return { hostname: flag, source: 'flag' };
  const fromEnv = env['SCOPE_HOSTNAME'];
  if (fromEnv !== undefined && fromEnv !== '') return { hostname: fromEnv, source: 'env' };
  return { hostname: os.hostname(), source: 'os' };
}

/** Scope's host node id (report.MakeHostNodeID): the literal suffix `;<host>`. */
export function hostNodeId(hostname: string): string {
  return `${hostname};<host>`;
}
