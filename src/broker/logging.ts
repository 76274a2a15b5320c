/**
 * The node's log lines: Moleculer's console logger, as short text or, with LOG_FORMAT=json, one JSON
 * object a line for log collectors. A line about a job carries the job's id: its logger call starts
 * with a JobTag, which a JSON line turns into a `job_id` field and a text line prints as `[job <id>]`.
 */
import { inspect } from 'node:util';
import type { LoggerConfig, LogLevels } from 'moleculer';

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** The job a log line is about; pages carry it to the rasterizer and the worker in the call's `meta.job_id`. */
export class JobTag {
  readonly jobId: string;

  constructor(jobId: string) {
    this.jobId = jobId;
  }

  [inspect.custom](): string {
    return `[job ${this.jobId}]`;
  }
}

/** A JobTag for a call's meta, when it names a job. */
export function jobTagOf(meta: { job_id?: unknown }): JobTag[] {
  return typeof meta.job_id === 'string' ? [new JobTag(meta.job_id)] : [];
}

interface Bindings {
  nodeID?: string;
  mod?: string;
}

/** One JSON object a line: time, level, node, module, the job's id when the line is about one, the message. */
function jsonLine(
  level: string,
  args: unknown[],
  bindings: Bindings,
  { printArgs }: { printArgs: (args: unknown[]) => unknown[] },
): string[] {
  const tag = args.find((a) => a instanceof JobTag);
  const message = printArgs(args.filter((a) => !(a instanceof JobTag))).join(' ');
  const line = { time: new Date().toISOString(), level, node: bindings.nodeID, module: bindings.mod, job_id: tag?.jobId, msg: message };
  return [JSON.stringify(line)];
}

export function loggerOptions(level: LogLevels, format: LogFormat): LoggerConfig {
  return {
    type: 'Console',
    options: format === 'json' ? { level, formatter: jsonLine, colors: false } : { level, formatter: 'short' },
  };
}
