/** The thread of prepareModelsApart (engine-models.ts): prepares the models, sends them, and exits. */
import { parentPort, workerData } from 'node:worker_threads';
import type { OcrConfig } from './config.ts';
import { prepareModels } from './engine-models.ts';

parentPort!.postMessage(await prepareModels(workerData as OcrConfig));
