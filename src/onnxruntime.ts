/**
 * onnxruntime-node, loaded with its telemetry off; every import of it goes through here. Version 1.30
 * leaves an empty `$TMPDIR/mat-debug-<pid>.log` (1DS telemetry) behind each process that creates a
 * session unless ORT_DISABLE_TELEMETRY=1 is set in the process before the library loads: hence the
 * dynamic import after setting it (a static import would be loaded first). This sets a library's switch
 * and reads no configuration, which is why it may touch process.env outside src/config/.
 */
import type OnnxRuntime from 'onnxruntime-node';

// eslint-disable-next-line no-restricted-properties -- a library's switch, not configuration (above)
process.env.ORT_DISABLE_TELEMETRY = '1';
const ort: typeof OnnxRuntime = (await import('onnxruntime-node')).default;

export default ort;
export type { InferenceSession, Tensor } from 'onnxruntime-node';
