/**
 * A job's result written in any format, the PDF outputs in a child process of their own
 * (src/outputs/write-process.ts) with the PDF limits (PDF_MEMORY_MB, PDF_RENDER_TIMEOUT): writing a
 * PDF parses the untrusted input (pdf-lib for a PDF, sharp for an image), and a parser that crashes,
 * loops or balloons on it costs only the child, as rendering does (src/pdf/isolated-pdf.ts). The next
 * write gets a fresh child. The other formats are written from the result alone, here.
 */
import { fileURLToPath } from 'node:url';
import { OcrError } from '../errors.ts';
import type { JobResult, OutputFormat } from '../contracts.ts';
import { ChildFailure, IsolatedProcess, type IsolationLimits } from '../isolation/isolated-process.ts';
import { writeOutput } from './index.ts';

const ENTRY = fileURLToPath(new URL('./write-process.ts', import.meta.url));

export interface IsolatedWriteRequest {
  result: JobResult;
  /** The job's input, for a PDF: a file the child reads, or its bytes (an image held in memory). */
  input?: { path: string } | { bytes: Uint8Array };
  password?: string;
  pdfa?: boolean;
}

export class IsolatedOutputWriter {
  private readonly child: IsolatedProcess;

  constructor(limits: IsolationLimits, entry = ENTRY) {
    this.child = new IsolatedProcess(entry, limits);
  }

  /** The result as `format`: the searchable PDF of a PDF input, or the one-page PDF of an image, for `pdf`. */
  async write(format: OutputFormat, request: IsolatedWriteRequest): Promise<string | Uint8Array> {
    if (format !== 'pdf') return writeOutput(format, { result: request.result });
    try {
      return (await this.child.request(request)) as Uint8Array;
    } catch (err) {
      if (err instanceof ChildFailure) throw new OcrError('PDF_UNREADABLE', `The PDF could not be written: its writer ${err.message}`);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
