/** Several nodes' Prometheus texts joined into the one answer of GET /metrics. */
import assert from 'node:assert/strict';
import { test } from '@jest/globals';
import { joinPrometheusTexts } from '../../src/broker/metrics.ts';

const node = (id: string, pages: number) =>
  [
    '# HELP ocr_pages_total Pages',
    '# TYPE ocr_pages_total counter',
    `ocr_pages_total{nodeID="${id}",outcome="read"} ${pages}`,
    '',
    '# HELP ocr_jobs Jobs',
    '# TYPE ocr_jobs gauge',
    `ocr_jobs{nodeID="${id}",status="running"} 1`,
    '',
  ].join('\n');

test('each metric keeps one HELP and TYPE, followed by every node’s samples of it', () => {
  assert.equal(
    joinPrometheusTexts([node('a', 3), '', node('b', 5)]),
    [
      '# HELP ocr_pages_total Pages',
      '# TYPE ocr_pages_total counter',
      'ocr_pages_total{nodeID="a",outcome="read"} 3',
      'ocr_pages_total{nodeID="b",outcome="read"} 5',
      '',
      '# HELP ocr_jobs Jobs',
      '# TYPE ocr_jobs gauge',
      'ocr_jobs{nodeID="a",status="running"} 1',
      'ocr_jobs{nodeID="b",status="running"} 1',
      '',
    ].join('\n'),
  );
});
