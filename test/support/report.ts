/** Test access to a report's topologies: a missing one fails the test where it is used, by name. */
import type { ScopeReport } from '../../src/scope/report.js';

export type HostTopology = NonNullable<ScopeReport['Host']>;

/** The report's Host topology; throws when the report has none (so the assertion using it fails). */
export function hostOf(r: ScopeReport): HostTopology {
  if (r.Host === undefined) throw new Error('the report has no Host topology');
  return r.Host;
}
