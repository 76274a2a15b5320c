/** The child process that writes PDF outputs from untrusted inputs (src/outputs/isolated-writer.ts starts it). */
import { readFile } from 'node:fs/promises';
import { OcrError } from '../errors.ts';
import { serve } from '../isolation/serve.ts';
import { writeOutput } from './index.ts';
import type { IsolatedWriteRequest } from './isolated-writer.ts';

if (process.send) {
  serve<IsolatedWriteRequest & { id: number }>(
    async ({ result, input, password, pdfa }) => {
      if (!input) throw new OcrError('INVALID_PARAMS', "A PDF output needs the job's input file");
      const bytes = 'path' in input ? await readFile(input.path) : input.bytes;
      return writeOutput('pdf', { result, input: bytes, password, pdfa });
    },
    'PDF_UNREADABLE',
    'The PDF could not be written',
  );
}
