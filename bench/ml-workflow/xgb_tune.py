#!/usr/bin/python3
"""Peer side of bench/ml-workflow/quality.ts: XGBoost tuned by random search with the same
budget, search space, train/validation split and early stopping as Quintet's study, then
scored on the same held-out test rows.

Usage: /usr/bin/python3 xgb_tune.py SPEC.json
  SPEC.json (written by quality.ts): dir with Xtr/ytr/Xva/yva/Xte/yte float64 files and row
  counts, categorical column indices, the search space, budget seconds or trials, seed,
  rounds and patience, parallel trial processes. Prints one JSON line.
"""
import json
import math
import os
import sys
import time

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

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


G = {}


def init(spec):
    """Loads the matrices once per process (each trial process trains single-threaded)."""
    r = spec["rows"]
    Xtr, Xva, Xte = load(spec, "Xtr.f64", r["train"]), load(spec, "Xva.f64", r["valid"]), load(spec, "Xte.f64", r["test"])
    ytr = load(spec, "ytr.f64", r["train"]).ravel()
    yva = load(spec, "yva.f64", r["valid"]).ravel()
    cats = spec["categorical"]
    ftypes = ["c" if j in cats else "q" for j in range(Xtr.shape[1])]
    dm = lambda A, y=None: xgb.DMatrix(A, label=y, feature_types=ftypes, enable_categorical=bool(cats), nthread=1)
    G.update(spec=spec, dtr=dm(Xtr, ytr), dva=dm(Xva, yva), dte=dm(Xte),
             yte=load(spec, "yte.f64", r["test"]).ravel())
    if spec.get("folds"):
        # Cross-validated trials over train + valid rows, on the folds Quintet uses.
        n = r["train"] + r["valid"]
        G["dall"] = dm(np.vstack([Xtr, Xva]), np.concatenate([ytr, yva]))
        G["folds"] = [(np.setdiff1d(np.arange(n), v), np.asarray(v)) for v in spec["folds"]]


def base_params():
    spec = G["spec"]
    return {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "max_bin": 256,
            "nthread": 1, "seed": spec["seed"]}


def run_trial(params):
    """One trial's score: the mean CV AUC at the best round (early stopping on the mean), or
    with no folds the validation AUC of one fit."""
    if "folds" not in G:
        valid, rounds, _ = fit_final(params)
        return valid, rounds
    spec = G["spec"]
    hist = xgb.cv({**base_params(), **params}, G["dall"], num_boost_round=spec["rounds"], folds=G["folds"],
                  early_stopping_rounds=spec["patience"], verbose_eval=False, as_pandas=False)
    return float(hist["test-auc-mean"][-1]), len(hist["test-auc-mean"])


def fit_final(params):
    """Fit on the train rows with early stopping on the validation rows; score the test rows."""
    spec = G["spec"]
    bst = xgb.train({**base_params(), **params}, G["dtr"], num_boost_round=spec["rounds"], evals=[(G["dva"], "valid")],
                    early_stopping_rounds=spec["patience"], verbose_eval=False)
    p = bst.predict(G["dte"], iteration_range=(0, bst.best_iteration + 1))
    return float(bst.best_score), bst.best_iteration + 1, float(roc_auc_score(G["yte"], p))


def main():
    spec = json.load(open(sys.argv[1]))
    workers = spec["workers"]
    out = {"version": xgb.__version__, "workers": workers}
    # Untuned reference: XGBoost's defaults (eta 0.3, depth 6) with the same early stopping.
    init(spec)
    t0 = time.perf_counter()
    valid, rounds, test = fit_final({})
    out["default"] = {"valid_auc": valid, "test_auc": test, "rounds": rounds, "seconds": time.perf_counter() - t0}

    rng = np.random.default_rng(spec["seed"])
    budget_s = spec.get("budgetSeconds")
    max_trials = spec.get("trials")
    start = time.perf_counter()
    best = None
    started = 0
    finished = 0
    # Random search with `workers` trials at once, each in its own single-threaded process
    # (as Quintet runs its trials on worker threads); no trial starts after the budget.
    # Spawned, not forked: a fork after XGBoost has started its OpenMP threads deadlocks.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init, initargs=(spec,)) as pool:
        pending = set()
        while True:
            while len(pending) < workers and (budget_s is None or time.perf_counter() - start < budget_s) \
                    and (max_trials is None or started < max_trials):
                params = sample(spec["space"], rng)
                fut = pool.submit(run_trial, {NAMES[k]: v for k, v in params.items()})
                fut.params = params
                pending.add(fut)
                started += 1
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                valid, rounds = fut.result()
                finished += 1
                if best is None or valid > best["valid_auc"]:
                    best = {"valid_auc": valid, "params": fut.params, "cv_rounds": rounds}
    seconds = time.perf_counter() - start
    # The winner is refitted as Quintet's is: train rows, early stopping on the validation rows.
    final_valid, rounds, test = fit_final({NAMES[k]: v for k, v in best["params"].items()})
    out["tuned"] = {"trials": finished, "seconds": seconds, **best, "rounds": rounds, "test_auc": test,
                    "final_valid_auc": final_valid}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
