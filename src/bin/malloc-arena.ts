/**
 * One glibc malloc arena for the process. glibc gives each thread that allocates an arena of its own,
 * and what a thread frees stays in its arena; the engine threads' arenas held memory free that no
 * other thread could take. With one arena for all threads the one-process server peaked at 688 MB on
 * 100 pages instead of 753, at the same speed (docs/performance.md). glibc reads MALLOC_ARENA_MAX
 * once, when the process starts, so an entry point that finds it unset runs itself again with it
 * set: the same process id, arguments and standard streams, before anything is started. A value the
 * environment gives is kept.
 */
export function useOneMallocArena(env: NodeJS.ProcessEnv): void {
  if (process.platform !== 'linux' || env.MALLOC_ARENA_MAX !== undefined || !process.execve) return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...env, MALLOC_ARENA_MAX: '1' });
}
