#!/usr/bin/python3
"""Peer side of bench/trees/train.ts: XGBoost `hist` and scikit-learn HistGradientBoosting
on the exact matrices Quintet trains on (float64 files written by train.ts).

Usage: /usr/bin/python3 peers.py SPEC.json MODEL THREADS
  MODEL: xgb | hgb. Prints one JSON line. Run once per (model, threads) so peak RSS is
  per model.
"""
import json
import os
import sys
import time

import numpy as np


def rss_mb(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def load(spec, name, rows):
    return np.fromfile(os.path.join(spec["dir"], name), dtype="<f8").reshape(rows, -1)


def single_row_us(fn, X, calls=500):
    for i in range(20):
        fn(X[i:i + 1])
    t0 = time.perf_counter()
    for i in range(calls):
        j = i % len(X)
        fn(X[j:j + 1])
    return (time.perf_counter() - t0) / calls * 1e6


def main():
    spec = json.load(open(sys.argv[1]))
    model, threads = sys.argv[2], int(sys.argv[3])
    p = spec["params"]
    Xtr = load(spec, "Xtr.f64", spec["trainRows"])
    Xte = load(spec, "Xte.f64", spec["testRows"])
    ytr = load(spec, "ytr.f64", spec["trainRows"]).ravel()
    yte = load(spec, "yte.f64", spec["testRows"]).ravel()
    cats = spec["categorical"]
    task = spec["task"]
    res = {"model": model, "threads": threads}
    if model == "xgb":
        import xgboost as xgb
        params = {
            "objective": "binary:logistic" if task == "binary" else "reg:squarederror",
            "tree_method": "hist", "max_depth": p["maxDepth"], "eta": p["learningRate"],
            # max_bin counts value bins only (missing values need none), as Quintet's maxBins
            # and scikit-learn's max_bins do: 255 each.
            "max_bin": p["maxBins"], "lambda": p["lambda"], "min_child_weight": p["minChildWeight"],
            # XGBoost one-hots below the threshold, Quintet (as LightGBM) up to it.
            "max_cat_to_onehot": p["maxCatToOnehot"] + 1, "nthread": threads, "seed": 0,
        }
        ftypes = ["c" if j in cats else "q" for j in range(Xtr.shape[1])] if cats else None
        dm = lambda A, y=None: xgb.DMatrix(A, label=y, feature_types=ftypes, enable_categorical=bool(cats), nthread=threads)
        t0 = time.perf_counter()
        bst = xgb.train(params, dm(Xtr, ytr), num_boost_round=p["numRounds"])
        res["train_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = bst.predict(dm(Xte))
        res["predict_s"] = time.perf_counter() - t0
        if not cats:
            res["single_row_us"] = single_row_us(bst.inplace_predict, Xte)
        else:
            res["single_row_us"] = single_row_us(lambda r: bst.predict(dm(r)), Xte)
        res["version"] = xgb.__version__
    else:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads, user_api="openmp")
        import sklearn
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        kw = dict(max_iter=p["numRounds"], learning_rate=p["learningRate"], max_depth=p["maxDepth"],
                  max_leaf_nodes=None, max_bins=p["maxBins"], l2_regularization=p["lambda"],
                  early_stopping=False, random_state=0)
        if cats:
            kw["categorical_features"] = [j in cats for j in range(Xtr.shape[1])]
        m = (HistGradientBoostingClassifier if task == "binary" else HistGradientBoostingRegressor)(**kw)
        t0 = time.perf_counter()
        m.fit(Xtr, ytr)
        res["train_s"] = time.perf_counter() - t0
        fn = (lambda A: m.predict_proba(A)[:, 1]) if task == "binary" else m.predict
        t0 = time.perf_counter()
        pred = fn(Xte)
        res["predict_s"] = time.perf_counter() - t0
        res["single_row_us"] = single_row_us(fn, Xte)
        res["version"] = sklearn.__version__
    pred = np.asarray(pred, dtype=np.float64)
    if task == "binary":
        from sklearn.metrics import log_loss, roc_auc_score
        res["auc"] = float(roc_auc_score(yte, pred))
        res["logloss"] = float(log_loss(yte, np.clip(pred, 1e-15, 1 - 1e-15)))
    else:
        res["rmse"] = float(np.sqrt(np.mean((pred - yte) ** 2)))
    res["peak_rss_mb"] = rss_mb("VmHWM")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
