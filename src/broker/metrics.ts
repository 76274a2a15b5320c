/**
 * Prometheus metrics from Moleculer's own metrics module. Every node keeps its metrics in its broker's
 * registry: Moleculer's (requests, the bulkhead's in-flight and queue gauges on a worker, the circuit
 * breaker's states on the node that sends pages, process and OS) and the project's, registered below.
 * Moleculer's Prometheus reporter writes them as text; here it serves no port of its own, the
 * `metrics.prometheus` action hands each node's text to the gateway, which joins the cluster's in
 * one answer at `GET /metrics` (each sample labelled with its `nodeID`).
 */
import { MetricReporters, METRIC, type Middleware, type MetricRegistry, MetricTypes, type ServiceBroker } from 'moleculer';
import type { JobStatus, PageTimings } from '../contracts.ts';
import { pageQueueOf } from './page-scheduler.ts';

/** The project's metrics, by Moleculer name (Prometheus writes the dots as underscores). */
export const OCR_METRICS = {
  /** Pages an OCR worker finished, by outcome (`read`, or the error code) and language. */
  pages: 'ocr.pages.total',
  /** Seconds each stage of a page took: `render` on the rasterizer's node, the pipeline's stages on the worker's. */
  stageSeconds: 'ocr.page.stage.seconds',
  /** Tries of a page after its first, on the node that sends it, by the error that caused them. */
  retries: 'ocr.page.retries.total',
  /** Pages waiting in this node's page queue to be handed out to a worker, and the jobs with pages in it. */
  queuedPages: 'ocr.queue.pages',
  queuedJobs: 'ocr.queue.jobs',
  /** Jobs an aggregator holds, by status. */
  jobs: 'ocr.jobs',
} as const;

/** Histogram buckets of a stage, in seconds: from a 5 ms layout to a 60 s page on a loaded machine. */
const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'success', 'partial_success', 'failed', 'cancelled'];

/**
 * Moleculer's Prometheus reporter without its HTTP server: the gateway serves the text. Its samples
 * carry the node's id, so that the cluster's texts can be joined.
 */
class PrometheusText extends MetricReporters.Prometheus {
  defaultLabels: Record<string, string> = {};

  override init(registry: MetricRegistry): void {
    MetricReporters.Base.prototype.init.call(this, registry);
    this.defaultLabels = { nodeID: registry.broker.nodeID };
  }

  /** Moleculer's text, plus the `_sum` and `_count` of histograms with buckets, which it writes only for quantiles. */
  override generatePrometheusResponse(): string {
    const lines = super.generatePrometheusResponse().split('\n');
    for (const metric of this.registry.store.values()) {
      if (!(metric instanceof MetricTypes.Histogram)) continue;
      const name = this.formatMetricName(metric.name).replace(/[.-]/g, '_');
      for (const item of metric.snapshot()) {
        if (item.quantiles) continue;
        const inf = lines.indexOf(`${name}_bucket${this.labelsToStr(item.labels, { le: '+Inf' })} ${item.count}`);
        const labels = this.labelsToStr(item.labels);
        if (inf >= 0) lines.splice(inf + 1, 0, `${name}_sum${labels} ${item.sum}`, `${name}_count${labels} ${item.count}`);
      }
    }
    return lines.join('\n');
  }
}

const reporters = new WeakMap<ServiceBroker, PrometheusText>();

/** This node's metrics as Prometheus text; the page queue's gauges are read now. */
export function prometheusText(broker: ServiceBroker): string {
  const queue = pageQueueOf(broker);
  if (queue && broker.isMetricsEnabled()) {
    broker.metrics.set(OCR_METRICS.queuedPages, queue.queuedPages);
    broker.metrics.set(OCR_METRICS.queuedJobs, queue.activeJobs);
  }
  return reporters.get(broker)?.generatePrometheusResponse() ?? '';
}

/** Registers the project's metrics on every broker as it is created, and the reporter that writes them all as text. */
export const OcrMetrics: Middleware = {
  name: 'OcrMetrics',
  created(broker: ServiceBroker) {
    if (!broker.isMetricsEnabled()) return;
    const { metrics } = broker;
    const reporter = new PrometheusText();
    reporter.init(metrics);
    reporters.set(broker, reporter);
    metrics.register({
      type: METRIC.TYPE_COUNTER,
      name: OCR_METRICS.pages,
      labelNames: ['outcome', 'language'],
      description: 'Pages this OCR worker finished, by outcome and language',
    });
    metrics.register({
      type: METRIC.TYPE_HISTOGRAM,
      name: OCR_METRICS.stageSeconds,
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      unit: 'seconds',
      description: 'Seconds a page spent in each stage (render on the rasterizer, the OCR stages on the worker)',
    });
    metrics.register({
      type: METRIC.TYPE_COUNTER,
      name: OCR_METRICS.retries,
      labelNames: ['code'],
      description: 'Pages sent again after a transient failure, by its code',
    });
    metrics.register({
      type: METRIC.TYPE_GAUGE,
      name: OCR_METRICS.queuedPages,
      description: "Pages waiting in this node's queue for a worker",
    });
    metrics.register({ type: METRIC.TYPE_GAUGE, name: OCR_METRICS.queuedJobs, description: "Jobs with pages in this node's queue" });
    metrics.register({ type: METRIC.TYPE_GAUGE, name: OCR_METRICS.jobs, labelNames: ['status'], description: 'Jobs held, by status' });
  },
};

/** A page's OCR timings as stage observations (decode is the image's decoding on the worker). */
export function observeStages(metrics: MetricRegistry, timings: PageTimings): void {
  const stages = { decode: timings.decode_ms, det: timings.det_ms, cls: timings.cls_ms, rec: timings.rec_ms, layout: timings.layout_ms };
  for (const [stage, ms] of Object.entries(stages)) if (ms > 0) metrics.observe(OCR_METRICS.stageSeconds, ms / 1000, { stage });
  metrics.observe(OCR_METRICS.stageSeconds, timings.total_ms / 1000, { stage: 'ocr_total' });
}

/** Sets the jobs gauge from the counts of every status (a status with no job is 0). */
export function setJobCounts(metrics: MetricRegistry, counts: ReadonlyMap<JobStatus, number>): void {
  for (const status of JOB_STATUSES) metrics.set(OCR_METRICS.jobs, counts.get(status) ?? 0, { status });
}

/** Several nodes' Prometheus texts as one: each metric's HELP and TYPE once, then every node's samples of it. */
export function joinPrometheusTexts(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let family: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      const help = /^# HELP (\S+)/.exec(line);
      if (help) {
        const name = help[1]!;
        family = families.get(name);
        if (!family) families.set(name, (family = { head: [line], samples: [] }));
      } else if (line.startsWith('# TYPE ')) {
        if (family && family.head.length === 1) family.head.push(line);
      } else if (line !== '' && family) family.samples.push(line);
    }
  }
  return [...families.values()].map((f) => [...f.head, ...f.samples, ''].join('\n')).join('\n');
}
