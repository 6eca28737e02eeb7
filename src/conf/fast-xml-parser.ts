/**
 * fast-xml-parser for the ES modules (tsvirtd, programs importing tsvirt, the unbundled CLI).
 */
import { createRequire } from 'node:module';
import type * as Fxp from 'fast-xml-parser';

// Its one-file CommonJS build: the ES module build (38 files) costs each start ~35 ms more CPU (unbundled list --all, 3 Dec).
export const { XMLParser, XMLValidator } = createRequire(import.meta.url)('fast-xml-parser') as typeof Fxp;
export type XMLParser = Fxp.XMLParser;
export type { X2jOptions } from 'fast-xml-parser';
