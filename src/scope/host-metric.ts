/** The Host node's namespace-count metric (a sparkline) and the samples the daemon keeps for it. */
import { rfc3339, type Metric, type MetricSample, type MetricTemplate } from './report.js';

export const HOST_COUNT_METRIC = 'host-namespaces-count';

export function hostMetricTemplates(): Record<string, MetricTemplate> {
  return { [HOST_COUNT_METRIC]: { id: HOST_COUNT_METRIC, label: 'Namespaces', format: 'integer', priority: 20 } };
}

/** A metric from samples (oldest first): min 0, max the largest sample, so the sparkline starts at 0. */
export function metricOf(samples: readonly MetricSample[]): Metric {
  let max = 0;
  for (const s of samples) if (s.value > max) max = s.value;
  return { samples: samples.map((s) => ({ ...s })), min: 0, max };
}

/** Namespace counts kept across refreshes (the daemon keeps one for its life). */
export class MetricHistory {
  private readonly samples: MetricSample[] = [];

  /** At most `max` samples, none older than `maxAgeMs` before the newest. */
  constructor(
    readonly max = 60,
    readonly maxAgeMs = 15 * 60_000,
  ) {}

  add(at: Date, value: number): MetricSample[] {
    const date = rfc3339(at);
    // A clock that stepped back: drop what now lies in the future, keep dates ascending.
    while ((this.samples[this.samples.length - 1]?.date ?? '') >= date) this.samples.pop();
    this.samples.push({ date, value });
    const oldest = at.getTime() - this.maxAgeMs;
    while (this.samples.length > this.max || (this.samples[0] !== undefined && Date.parse(this.samples[0].date) < oldest)) this.samples.shift();
    return this.list();
  }

  list(): MetricSample[] {
    return this.samples.map((s) => ({ ...s }));
  }
}
