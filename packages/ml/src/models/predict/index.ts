export * from "./compile.js";
