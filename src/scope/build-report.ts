/** The whole report: the Host table and the topologies `--topologies` asks for, with the plugin spec. */
import type { ContainerInfo } from '../scan/containers.js';
import type { NamespaceRow } from '../scan/namespaces.js';
import { containerTopology } from './container-topology.js';
import { hostNodeId } from './host.js';
import { HOST_COUNT_METRIC, hostMetricTemplates, metricOf } from './host-metric.js';
import type { HostTableRow } from './host-rows.js';
import { hostMetadataTemplates, hostSummaryLatest } from './host-summary.js';
import { buildHostTableReport } from './host-table.js';
import { podsOf, podTopology } from './pods.js';
import { hostOnlyCount, processTopology, type ProcessNodeCache, type ProcessView } from './process-topology.js';
import { rfc3339, type MetricSample, type ReportContext, type ScopeReport } from './report.js';
import { HOST_ONLY_LABEL, META, meta, type TopologyName } from './topologies.js';

export interface ReportInput {
  /** Every namespace, one row each (the summary and the metric count these). */
  rows: readonly NamespaceRow[];
  /** The Host table's rows (host-rows.ts: sets held alike merged); default: `rows`. */
  hostRows?: readonly HostTableRow[];
  topologies: readonly TopologyName[];
  process?: ProcessView;
  containers?: ReadonlyMap<string, ContainerInfo>;
  /** Namespace counts over time for the Host node's sparkline, oldest first. */
  hostSamples?: readonly MetricSample[];
  /** Process nodes kept across refreshes (the daemon keeps one); default: none. */
  processNodes?: ProcessNodeCache;
}

/** The report with the topologies asked for; a topology without its data is left out. */
export function buildReport(input: ReportInput, ctx: ReportContext): ScopeReport {
  const base = buildHostTableReport(input.hostRows ?? input.rows, ctx);
  const report: ScopeReport = { Plugins: base.Plugins };
  const want = new Set(input.topologies);
  if (want.has('host')) {
    const host = base.Host;
    const node = host.nodes[hostNodeId(ctx.hostname)];
    if (node) Object.assign(node.latest, hostSummaryLatest(input.rows, input.containers?.values(), rfc3339(ctx.now)));
    host.metadata_templates = hostMetadataTemplates();
    if (input.hostSamples && input.hostSamples.length > 0) {
      if (node) node.metrics = { [HOST_COUNT_METRIC]: metricOf(input.hostSamples) };
      host.metric_templates = hostMetricTemplates();
    }
    if (node && input.process && want.has('process')) {
      node.latest[META.hostOnly] = { timestamp: rfc3339(ctx.now), value: String(hostOnlyCount(input.process)) };
      host.metadata_templates[META.hostOnly] = meta(META.hostOnly, HOST_ONLY_LABEL, 24, 'number');
    }
    report.Host = host;
  }
  if (want.has('process') && input.process) report.Process = processTopology(input.process, ctx.hostname, ctx.now, input.processNodes);
  if (want.has('container') && input.containers && input.process) report.Container = containerTopology(input.containers, input.process.initial, ctx.now);
  if (want.has('pod') && input.containers && input.process) {
    // Left out on hosts without pods: an empty topology would still cost its templates.
    const pods = podsOf(input.containers.values());
    if (pods.size > 0) report.Pod = podTopology(pods, input.process.initial, ctx.now);
  }
  // Go field order is irrelevant to the probe; Plugins last reads better.
  const { Plugins, ...topologies } = report;
  return { ...topologies, Plugins };
}
