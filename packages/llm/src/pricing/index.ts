/** Token prices (USD per million) and the cost of a call. */
export { DEFAULT_PRICES, DEFAULT_PRICES_DATE } from "./default-prices.js";
export {
  costOf,
  definePrices,
  findPrice,
  type ModelPrice,
  type PriceTable,
  readPriceFile,
  resolvePrices,
} from "./prices.js";
