#!/usr/bin/python3
"""Peer side of bench/ml-workflow/quality.ts: XGBoost tuned by random search with the same
budget, search space, train/validation split and early stopping as Quintet's study, then
scored on the same held-out test rows.

Usage: /usr/bin/python3 xgb_tune.py SPEC.json
  SPEC.json (written by quality.ts): dir with Xtr/ytr/Xva/yva/Xte/yte float64 files and row
  counts, categorical column indices, the search space, budget seconds or trials, seed,
  rounds and patience, threads. Prints one JSON line.
"""
import json
import math
import os
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

# Quintet parameter name -> XGBoost parameter name.
NAMES = {
    "learningRate": "eta",
    "maxDepth": "max_depth",
    "minChildWeight": "min_child_weight",
    "subsample": "subsample",
    "colsampleByTree": "colsample_bytree",
    "lambda": "lambda",
    "alpha": "alpha",
}


def load(spec, name, rows):
    return np.fromfile(os.path.join(spec["dir"], name), dtype="<f8").reshape(rows, -1)


def sample(space, rng):
    out = {}
    for name in sorted(space):
        s = space[name]
        if s["type"] == "categorical":
            out[name] = s["choices"][rng.integers(len(s["choices"]))]
            continue
        pad = 0.5 if s["type"] == "int" else 0.0
        lo, hi = s["low"] - pad, s["high"] + pad
        if s.get("log"):
            v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        else:
            v = rng.uniform(lo, hi)
        if s["type"] == "int":
            v = int(min(s["high"], max(s["low"], round(v))))
        else:
            v = float(min(s["high"], max(s["low"], v)))
        out[name] = v
    return out


def main():
    spec = json.load(open(sys.argv[1]))
    r = spec["rows"]
    Xtr, Xva, Xte = load(spec, "Xtr.f64", r["train"]), load(spec, "Xva.f64", r["valid"]), load(spec, "Xte.f64", r["test"])
    ytr = load(spec, "ytr.f64", r["train"]).ravel()
    yva = load(spec, "yva.f64", r["valid"]).ravel()
    yte = load(spec, "yte.f64", r["test"]).ravel()
    cats = spec["categorical"]
    ftypes = ["c" if j in cats else "q" for j in range(Xtr.shape[1])]
    threads = spec["threads"]
    dm = lambda A, y=None: xgb.DMatrix(A, label=y, feature_types=ftypes, enable_categorical=bool(cats), nthread=threads)
    dtr, dva, dte = dm(Xtr, ytr), dm(Xva, yva), dm(Xte)
    base = {
        "objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "max_bin": 256,
        "nthread": threads, "seed": spec["seed"],
    }

    def fit(params):
        return xgb.train({**base, **params}, dtr, num_boost_round=spec["rounds"], evals=[(dva, "valid")],
                         early_stopping_rounds=spec["patience"], verbose_eval=False)

    def test_auc(bst):
        p = bst.predict(dte, iteration_range=(0, bst.best_iteration + 1))
        return float(roc_auc_score(yte, p))

    out = {"version": xgb.__version__, "threads": threads}
    # Untuned reference: XGBoost's defaults (eta 0.3, depth 6) with the same early stopping.
    t0 = time.perf_counter()
    d = fit({})
    out["default"] = {"valid_auc": float(d.best_score), "test_auc": test_auc(d), "rounds": d.best_iteration + 1,
                      "seconds": time.perf_counter() - t0}

    rng = np.random.default_rng(spec["seed"])
    budget_s = spec.get("budgetSeconds")
    max_trials = spec.get("trials")
    start = time.perf_counter()
    best = None
    trials = 0
    while True:
        if budget_s is not None and time.perf_counter() - start >= budget_s:
            break
        if max_trials is not None and trials >= max_trials:
            break
        params = sample(spec["space"], rng)
        bst = fit({NAMES[k]: v for k, v in params.items()})
        trials += 1
        score = float(bst.best_score)
        if best is None or score > best[0]:
            best = (score, params, bst)
    out["tuned"] = {
        "trials": trials, "seconds": time.perf_counter() - start, "valid_auc": best[0], "params": best[1],
        "rounds": best[2].best_iteration + 1, "test_auc": test_auc(best[2]),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
