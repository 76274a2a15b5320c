/**
 * Page images from strangers are decoded in a long-lived child process (src/isolation/decode-process.ts)
 * with a memory cap and a deadline: a decoder that crashes, loops or balloons on an image fails that
 * image as IMAGE_UNREADABLE, and the next image gets a fresh child. The header's pixel count is still
 * checked against MAX_PIXELS before any decoding (src/ocr/image/raster.ts).
 */
import { fileURLToPath } from 'node:url';
import { OcrError } from '../errors.ts';
import type { Raster } from '../ocr/image/raster.ts';
import { ChildFailure, IsolatedProcess, type IsolationLimits } from './isolated-process.ts';

const ENTRY = fileURLToPath(new URL('./decode-process.ts', import.meta.url));

export class IsolatedDecoder {
  private readonly child: IsolatedProcess;

  constructor(limits: IsolationLimits, entry = ENTRY) {
    this.child = new IsolatedProcess(entry, limits);
  }

  async decode(data: Uint8Array, maxPixels: number): Promise<Raster> {
    try {
      return (await this.child.request({ data, maxPixels })) as Raster;
    } catch (err) {
      if (err instanceof ChildFailure) throw new OcrError('IMAGE_UNREADABLE', `The image could not be decoded: its decoder ${err.message}`);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
