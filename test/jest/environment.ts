/**
 * The jest environment of every tier: jest-environment-node with the outer realm's binary types.
 *
 * jest runs each test file in its own vm context, whose typed-array constructors are not Node's.
 * Native add-ons check arrays against the constructors of the realm they were loaded in:
 * onnxruntime-node refuses a tensor made in the test's realm ("A float32 tensor's data must be type
 * of function Float32Array()"), and `instanceof` fails on arrays that sharp, canvas or Node's own
 * modules return. jest already shares Node's `Buffer`, `ArrayBuffer` and `Uint8Array`; this shares
 * the rest of the family, so one realm's arrays are everyone's.
 */
import { TestEnvironment } from 'jest-environment-node';

const BINARY_TYPES = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float16Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

export default class OuterRealmBinaryEnvironment extends TestEnvironment {
  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    const outer: Record<string, unknown> = globalThis;
    Object.assign(this.global, Object.fromEntries(BINARY_TYPES.filter((name) => name in outer).map((name) => [name, outer[name]])));
  }
}
