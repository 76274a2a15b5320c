/** Writing JSON replies, errors included, the same way on every route. */
import type { ServerResponse } from 'node:http';
import { errorResponse } from '../broker/broker-errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = errorResponse(err);
  sendJson(res, status, body);
}
