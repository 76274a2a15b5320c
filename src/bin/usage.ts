/** A command's bad arguments: the message and the usage on stderr, exit status 2. */
export function usageError(message: string, usage: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(2);
}
