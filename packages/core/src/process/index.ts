export { ownerProcessGone, processGone, processOwner } from "./owner.js";
