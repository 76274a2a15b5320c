/** A real onnxruntime session that tells the test about each run it is given. */
import type { Session } from '../../src/ocr/model/onnx.ts';

/** The inputs of one run, as the test sees them. */
export type Feeds = Record<string, { dims: readonly number[] }>;

/** `session` itself, calling `onRun` with the feeds of each run before running it. */
export function watchedSession(session: Session, onRun: (feeds: Feeds) => void): Session {
  return new Proxy(session, {
    get(target, key) {
      if (key === 'run')
        return (feeds: Feeds) => {
          onRun(feeds);
          return target.run(feeds as never);
        };
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
