/** A server's PDF render children (src/pdf/render-process.ts), seen from outside in /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/** The server's PDF render children now, from /proc (the children of each of its threads). */
export function renderChildren(pid: number): number {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return ''; // gone meanwhile
    }
  };
  let n = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of read(`/proc/${pid}/task/${task}/children`).split(' ').filter(Boolean)) {
      if (read(`/proc/${child}/cmdline`).includes('render-process')) n += 1;
    }
  }
  return n;
}
