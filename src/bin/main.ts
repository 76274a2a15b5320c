/** `npm start`: one node; with no TRANSPORTER set, every service in this one process. */
import { startNode } from './node.ts';

try {
  await startNode();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
