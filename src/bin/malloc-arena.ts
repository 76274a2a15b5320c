/**
 * One glibc malloc arena for the process. glibc gives each thread that allocates its own arena and
 * keeps what that thread frees for its later use: the engine threads' per-page buffers (line crops,
 * batch tensors, model outputs) left 60-80 MB free in arenas no other thread could take from. With
 * one arena the one-process server peaked at 688 MB on 100 pages instead of 753, at the same speed
 * (docs/performance.md). glibc reads MALLOC_ARENA_MAX once, when the process starts, so an entry
 * point that finds it unset runs itself again with it set: the same process id, arguments and
 * standard streams, before anything is started. A value the environment gives is kept.
 */
export function useOneMallocArena(env: NodeJS.ProcessEnv): void {
  if (process.platform !== 'linux' || env.MALLOC_ARENA_MAX !== undefined || !process.execve) return;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...env, MALLOC_ARENA_MAX: '1' });
}
