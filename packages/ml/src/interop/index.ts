export { loadLightgbmModel } from "./lightgbm.js";
export { decodeUbjson, type UbjValue } from "./ubjson.js";
export { loadXgboostModel, XGBOOST_OBJECTIVES } from "./xgboost.js";
export { saveXgboostJson, toXgboostJson } from "./xgboost-export.js";
