/** `npm start`: one node; with no TRANSPORTER set, every service in this one process. */
import { loadConfig } from '../config/config.ts';
import { useOneMallocArena } from './malloc-arena.ts';
import { startNode } from './node.ts';

useOneMallocArena(process.env);

try {
  await startNode(loadConfig(process.env));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
