/**
 * What this project adds to moleculer-web's types (module augmentation, as types/moleculer.d.ts does
 * for Moleculer). Declarations only; nothing here runs.
 */
import type { Errors } from 'moleculer';
import 'moleculer-web';

declare module 'moleculer-web' {
  interface ApiGatewayErrors {
    /** Thrown by moleculer-web (src/alias.js) for a multipart file over its limit; missing from its declarations. */
    PayloadTooLarge: new (data: object) => Errors.MoleculerClientError;
  }
}
