/** The child process that decodes untrusted page images with sharp (src/isolation/image-decoder.ts starts it). */
import { decodeImage } from '../ocr/image/raster.ts';
import { serve } from './serve.ts';

export interface DecodeRequest {
  id: number;
  data: Uint8Array;
  maxPixels: number;
}

if (process.send) serve<DecodeRequest>((r) => decodeImage(r.data, r.maxPixels), 'IMAGE_UNREADABLE', 'The image could not be read');
