/**
 * The Scope probe's decoding and validation rules for a plugin's /report answer, as a zod schema
 * (observed against Scope 1.13's probe and app). Stricter than the probe where the probe would silently
 * drop data (unknown or lower-case top-level keys): a report that passes here is taken whole.
 */
import { z } from 'zod';
import { CELL_SEPARATOR, PLUGIN_ID_RE } from './report.js';

/** Report fields (Go names, case-sensitive) of Scope 1.13's report.Report that hold topologies. */
export const TOPOLOGY_FIELDS = [
  'Endpoint',
  'Process',
  'Container',
  'ContainerImage',
  'Pod',
  'Service',
  'Deployment',
  'ReplicaSet',
  'DaemonSet',
  'StatefulSet',
  'CronJob',
  'Namespace',
  'Host',
  'Overlay',
  'ECSTask',
  'ECSService',
  'SwarmService',
  'Job',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'StorageClass',
  'VolumeSnapshot',
  'VolumeSnapshotData',
] as const;

/** RFC 3339 with a zone: what Go's time.Time accepts in JSON. No zone, or a number, fails the whole report. */
export const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export const latestEntrySchema = z.strictObject({
  timestamp: z.string().regex(RFC3339_RE, 'timestamp must be RFC 3339 with a zone (e.g. 2024-01-02T03:04:05Z)'),
  value: z.string({ error: 'latest value must be a string' }),
});

export const columnSchema = z.strictObject({
  id: z.string().min(1),
  label: z.string(),
  dataType: z.enum(['', 'number', 'link', 'ip']).optional(),
});

export const tableTemplateSchema = z
  .strictObject({
    id: z.string().min(1),
    label: z.string(),
    prefix: z.string().min(1),
    type: z.enum(['', 'multicolumn-table', 'property-list']).optional(),
    columns: z.array(columnSchema).nullish(),
    truncationCount: z.number().int().optional(),
  })
  .check((ctx) => {
    const t = ctx.value;
    if (t.type === 'multicolumn-table' && (t.columns ?? []).length === 0) {
      ctx.issues.push({ code: 'custom', input: t, path: ['columns'], message: 'a multicolumn table needs columns (empty columns break the UI)' });
    }
  });

export const metadataTemplateSchema = z.strictObject({
  id: z.string().min(1),
  label: z.string(),
  dataType: z.enum(['', 'number', 'link', 'ip', 'datetime']).optional(),
  priority: z.number().optional(),
  from: z.enum(['latest', 'sets', 'counters']).optional(),
  truncate: z.number().int().optional(),
});

export const metricTemplateSchema = z.strictObject({
  id: z.string().min(1),
  label: z.string(),
  format: z.enum(['', 'percent', 'filesize', 'integer']).optional(),
  group: z.string().optional(),
  priority: z.number().optional(),
});

export const metricSchema = z.strictObject({
  samples: z.array(z.strictObject({ date: z.string().regex(RFC3339_RE, 'sample date must be RFC 3339 with a zone'), value: z.number() })).nullable(),
  min: z.number(),
  max: z.number(),
});

const timestamped = z.strictObject({ timestamp: z.string().regex(RFC3339_RE), value: z.unknown() });

export const nodeSchema = z.strictObject({
  id: z.string().optional(),
  topology: z.string().optional(),
  latest: z.record(z.string(), latestEntrySchema).optional(),
  metrics: z.record(z.string(), metricSchema).optional(),
  sets: z.record(z.string(), z.unknown()).optional(),
  parents: z.record(z.string(), z.unknown()).optional(),
  adjacency: z.array(z.string()).nullish(),
  children: z.unknown().optional(),
  latestControls: z.record(z.string(), timestamped).optional(),
});

export const topologySchema = z
  .strictObject({
    shape: z.string().optional(),
    label: z.string().optional(),
    label_plural: z.string().optional(),
    nodes: z.record(z.string(), nodeSchema).optional(),
    metadata_templates: z.record(z.string(), metadataTemplateSchema).optional(),
    metric_templates: z.record(z.string(), metricTemplateSchema).optional(),
    table_templates: z.record(z.string(), tableTemplateSchema).optional(),
    controls: z.record(z.string(), z.unknown()).optional(),
  })
  .check((ctx) => {
    const topo = ctx.value;
    const tables = Object.values(topo.table_templates ?? {});
    const multi = tables.filter((t) => t.type === 'multicolumn-table');
    for (const [field, templates] of [
      ['table_templates', topo.table_templates],
      ['metadata_templates', topo.metadata_templates],
      ['metric_templates', topo.metric_templates],
    ] as const) {
      for (const [key, tpl] of Object.entries<{ id: string }>(templates ?? {})) {
        if (tpl.id !== key) ctx.issues.push({ code: 'custom', input: tpl.id, path: [field, key, 'id'], message: `template id '${tpl.id}' differs from its key` });
      }
    }
    for (const [nodeKey, node] of Object.entries(topo.nodes ?? {})) {
      // Ours, stricter than the probe: data no template shows is data the UI silently drops.
      for (const key of Object.keys(node.latest ?? {})) {
        if (topo.metadata_templates?.[key] !== undefined) continue;
        if (tables.some((t) => key.startsWith(t.prefix))) continue;
        ctx.issues.push({ code: 'custom', input: key, path: ['nodes', nodeKey, 'latest', key], message: `latest key '${key}' has no metadata or table template` });
      }
      for (const key of Object.keys(node.metrics ?? {})) {
        if (topo.metric_templates?.[key] === undefined) {
          ctx.issues.push({ code: 'custom', input: key, path: ['nodes', nodeKey, 'metrics', key], message: `metric '${key}' has no metric template` });
        }
      }
      if (node.id !== undefined && node.id !== nodeKey) {
        ctx.issues.push({ code: 'custom', input: node.id, path: ['nodes', nodeKey, 'id'], message: `node id '${node.id}' differs from its key` });
      }
      for (const key of Object.keys(node.latest ?? {})) {
        for (const t of multi) {
          if (!key.startsWith(t.prefix)) continue;
          const rest = key.slice(t.prefix.length);
          const at = rest.indexOf(CELL_SEPARATOR);
          if (at < 0) {
            ctx.issues.push({ code: 'custom', input: key, path: ['nodes', nodeKey, 'latest', key], message: `table cell key lacks '${CELL_SEPARATOR}'` });
            continue;
          }
          const col = rest.slice(at + CELL_SEPARATOR.length);
          if (!(t.columns ?? []).some((c) => c.id === col)) {
            ctx.issues.push({ code: 'custom', input: key, path: ['nodes', nodeKey, 'latest', key], message: `cell of undeclared column '${col}'` });
          }
        }
      }
    }
  });

export function pluginSpecSchema(expectedId?: string) {
  return z.strictObject({
    id: z
      .string()
      .regex(PLUGIN_ID_RE, 'plugin id must match ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$')
      .refine((id) => expectedId === undefined || id === expectedId, { error: `plugin must not change its id (expected '${expectedId ?? ''}')` }),
    label: z.string().min(1, 'spec must contain a label'),
    description: z.string(),
    interfaces: z.array(z.string()).refine((i) => i.includes('reporter'), { error: 'spec must implement the "reporter" interface' }),
    api_version: z.literal('1', { error: 'incorrect API version' }),
  });
}

const topologyShape = Object.fromEntries(TOPOLOGY_FIELDS.map((f) => [f, topologySchema.optional()])) as Record<(typeof TOPOLOGY_FIELDS)[number], z.ZodOptional<typeof topologySchema>>;

/** The schema of a /report answer; give the socket-derived id to also check the spec's id. */
export function reportSchema(expectedPluginId?: string) {
  return z
    .strictObject({
      ...topologyShape,
      DNS: z.record(z.string(), z.unknown()).optional(),
      Sampling: z.strictObject({ Count: z.number().int().nonnegative(), Total: z.number().int().nonnegative() }).optional(),
      Window: z.number().int().optional(),
      Shortcut: z.boolean().optional(),
      ID: z.string().optional(),
      Plugins: z.array(pluginSpecSchema(expectedPluginId)).length(1, 'report must contain exactly one plugin'),
    })
    .check((ctx) => {
      for (const [key] of Object.entries(ctx.value.Host?.nodes ?? {})) {
        if (!key.endsWith(';<host>')) {
          ctx.issues.push({ code: 'custom', input: key, path: ['Host', 'nodes', key], message: "host node ids look like '<hostname>;<host>'" });
        }
      }
      for (const [key] of Object.entries(ctx.value.Process?.nodes ?? {})) {
        if (!PROCESS_NODE_RE.test(key)) {
          ctx.issues.push({ code: 'custom', input: key, path: ['Process', 'nodes', key], message: "process node ids look like '<hostname>;<pid>'" });
        }
      }
      for (const [key] of Object.entries(ctx.value.Pod?.nodes ?? {})) {
        if (!POD_NODE_RE.test(key)) {
          ctx.issues.push({ code: 'custom', input: key, path: ['Pod', 'nodes', key], message: "pod node ids look like '<pod uid>;<pod>'" });
        }
      }
      for (const [key] of Object.entries(ctx.value.Container?.nodes ?? {})) {
        if (!CONTAINER_NODE_RE.test(key)) {
          ctx.issues.push({ code: 'custom', input: key, path: ['Container', 'nodes', key], message: "container node ids look like '<64-hex id>;<container>'" });
        }
      }
    });
}

/** Scope's report.MakeProcessNodeID: `<hostname>;<pid>`. */
export const PROCESS_NODE_RE = /^[^;\s]+;[1-9][0-9]*$/;
/** report.MakeContainerNodeID with a full id: `<64 hex>;<container>` (a short id would not merge with the probe's node). */
export const CONTAINER_NODE_RE = /^[0-9a-f]{64};<container>$/;

/** report.MakePodNodeID: `<pod uid>;<pod>`, the UID as the API server writes it (lower-case, dashed). */
export const POD_NODE_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12};<pod>$/;

export type ReportProblem = { path: string; message: string };

/** Validates a decoded report; returns the problems (empty when the probe would take it). */
export function reportProblems(value: unknown, expectedPluginId?: string): ReportProblem[] {
  const result = reportSchema(expectedPluginId).safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}
