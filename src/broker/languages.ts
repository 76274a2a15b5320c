/**
 * The languages the cluster reads: each OCR worker advertises those of its recognisers in its `ocr`
 * service's metadata (`languages`). A job's `language` is checked against them before its pages are
 * read: one that no worker has advertised since this node started is UNSUPPORTED_LANGUAGE (422, with
 * the list of those read), one whose workers have all left since is NO_WORKERS (503: they may come
 * back). Before any worker has joined nothing is refused here: the pages wait for NO_WORKERS as usual.
 */
import type { ServiceBroker } from 'moleculer';
import { OcrError } from '../errors.ts';

/** The languages a service's metadata advertises; undefined when it advertises none (not an OCR worker). */
export function advertisedLanguages(metadata: Record<string, unknown>): string[] | undefined {
  const { languages } = metadata;
  return Array.isArray(languages) ? languages.filter((l): l is string => typeof l === 'string') : undefined;
}

/** Every language this node has seen a worker advertise, per broker. */
const seenByBroker = new WeakMap<ServiceBroker, Set<string>>();

/** The languages the OCR workers available now read. */
function languagesRead(broker: ServiceBroker): Set<string> {
  const services = broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true });
  return new Set(services.flatMap((s) => (s.name === 'ocr' ? (advertisedLanguages(s.metadata ?? {}) ?? []) : [])));
}

/** Remembers what the workers advertise as they come and go (call once the node's services start). */
export function trackLanguages(broker: ServiceBroker): Set<string> {
  let seen = seenByBroker.get(broker);
  if (!seen) {
    const remembered = (seen = new Set());
    seenByBroker.set(broker, seen);
    broker.localBus.on('$services.changed', () => languagesRead(broker).forEach((l) => remembered.add(l)));
  }
  languagesRead(broker).forEach((l) => seen.add(l));
  return seen;
}

/** Throws UNSUPPORTED_LANGUAGE or NO_WORKERS when no available worker reads `language`. */
export function checkLanguage(broker: ServiceBroker, language: string | undefined): void {
  if (language === undefined) return;
  const seen = trackLanguages(broker);
  if (seen.size === 0 || languagesRead(broker).has(language)) return;
  if (seen.has(language)) throw new OcrError('NO_WORKERS', `No OCR worker that reads language "${language}" is available`);
  throw new OcrError(
    'UNSUPPORTED_LANGUAGE',
    `No OCR worker reads language "${language}": the cluster reads ${[...seen].sort().join(', ')}`,
  );
}
