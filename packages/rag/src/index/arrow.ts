import { createRequire } from "node:module";

/**
 * apache-arrow as LanceDB sees it. LanceDB is CommonJS and checks `instanceof Table` against the
 * CommonJS build; importing apache-arrow as ESM would load a second copy whose tables it rejects
 * (and then converts row by row, 10x slower). So we take the CommonJS build too.
 */
export const arrow: typeof import("apache-arrow") = createRequire(import.meta.url)("apache-arrow");
