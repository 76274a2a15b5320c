/** A process's memory from /proc (Linux): current resident (`VmRSS`) or its peak (`VmHWM`), in MB; 0 when the process is gone. */
import { readFileSync } from 'node:fs';

export function procMemoryMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
