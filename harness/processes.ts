/** Ports and child processes for tests that run real servers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node <script>` from the project root with extra environment; its output is kept for failures. */
export function startProcess(script: string, env: Record<string, string>): ChildProcess & { output: string[] } {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcess & { output: string[] };
  child.output = [];
  child.stdout!.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => child.output.push(d.toString()));
  return child;
}

/** Polls `url` until it answers 200, or fails after `timeoutMs` with the process's output. */
export async function waitForHttp(url: string, child: { output: string[]; exitCode: number | null }, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}:\n${child.output.join('')}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${child.output.join('')}`);
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/**
 * Starts the one-process server (`src/bin/main.ts`) on a free port with extra environment; resolves once
 * it answers /health, or kills it and fails with its output.
 */
export async function startServer(
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ server: ChildProcess & { output: string[] }; base: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startProcess('src/bin/main.ts', { ...env, COORDINATOR_PORT: String(port) });
  try {
    await waitForHttp(`${base}/health`, server, timeoutMs);
  } catch (err) {
    await stopProcess(server, 'SIGKILL');
    throw err;
  }
  return { server, base };
}
