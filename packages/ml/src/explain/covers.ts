import { ValidationError } from "@quintet/core";
import { assertMatrix, type Matrix } from "../models/ensemble/matrix.js";
import { goesLeft } from "../models/ensemble/reference.js";
import type { TreeEnsemble } from "../models/ensemble/types.js";

/**
 * A copy of `model` whose node covers are the (weighted) number of rows of `X` that pass
 * through each node, for models imported without covers (e.g. a LightGBM file lacking
 * `internal_count`). Pass the training rows, or a representative sample of them: TreeSHAP
 * treats the covers as the background distribution of an unknown feature.
 *
 * @example
 * const explained = treeShap(withDataCovers(model, Xtrain), Xtest);
 */
export function withDataCovers(model: TreeEnsemble, X: Matrix, sampleWeight?: ArrayLike<number>): TreeEnsemble {
  assertMatrix(X);
  if (X.cols !== model.numFeatures) {
    throw new ValidationError(`the rows have ${X.cols} features but the model takes ${model.numFeatures}`, {
      hint: "Pass rows in the model's feature layout (the training matrix).",
    });
  }
  if (X.rows === 0) throw new ValidationError("covers need at least one row", { hint: "Pass the training rows." });
  if (sampleWeight && sampleWeight.length !== X.rows) {
    throw new ValidationError(`sampleWeight has ${sampleWeight.length} values for ${X.rows} rows`);
  }
  const F = X.cols;
  const trees = model.trees.map((tree) => {
    const cover = new Float64Array(tree.left.length);
    for (let r = 0; r < X.rows; r++) {
      const w = sampleWeight ? sampleWeight[r]! : 1;
      if (!(Number.isFinite(w) && w >= 0)) {
        throw new ValidationError(`sampleWeight[${r}] = ${w} is not a finite non-negative number`);
      }
      let node = 0;
      cover[0]! += w;
      while (tree.left[node] !== -1) {
        const x = X.data[r * F + tree.feature[node]!]!;
        node = goesLeft(tree, node, x, model.float32) ? tree.left[node]! : tree.right[node]!;
        cover[node]! += w;
      }
    }
    return { ...tree, cover };
  });
  return { ...model, trees };
}
