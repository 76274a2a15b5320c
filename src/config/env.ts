/**
 * Typed readers of environment variables. An unset or empty variable gives the default; a value that
 * does not parse throws an Error that names the variable, which stops the node before it starts.
 */

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function invalid(name: string, what: string, value: string): Error {
  return new Error(`${name} must be ${what}, got "${value}"`);
}

export function positiveNumber(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw invalid(name, 'a positive number', value);
  return n;
}

/** A count of things: a number of at least 1, rounded down (1.5 engines is 1; 0.5 is refused, not 0). */
export function positiveCount(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1) throw invalid(name, 'a count (1 or more)', value);
  return Math.floor(n);
}

/** A count from `min` to `max`: a default outside the range would fail every request that relies on it. */
export function countInRange(env: Env, name: string, fallback: number, min: number, max: number): number {
  const n = positiveCount(env, name, fallback);
  if (n < min || n > max) throw invalid(name, `a count from ${min} to ${max}`, raw(env, name) ?? String(n));
  return n;
}

/** A whole number of at least 0 (0 usually means "none" or "off"). */
export function wholeNumber(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw invalid(name, 'a whole number (0 or more)', value);
  return n;
}

/** `true` or `false` (or 1 and 0). */
export function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw invalid(name, 'true or false', value);
}

export function text(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function optionalText(env: Env, name: string): string | undefined {
  return raw(env, name);
}

/** A comma-separated list, blanks around the commas dropped. */
export function list(env: Env, name: string): string[] {
  return (raw(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const known = values.find((v) => v === value);
  if (known === undefined) throw invalid(name, `one of ${values.join(', ')}`, value);
  return known;
}
