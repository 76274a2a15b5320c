/** The name and version written into outputs that record what produced them. */
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };

export const SOFTWARE = { name: pkg.name, version: pkg.version, engine: 'PaddleOCR PP-OCRv4' } as const;
