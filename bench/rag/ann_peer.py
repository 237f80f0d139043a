"""ANN peers on the vectors bench/rag/speed.ts exports: exact top-k (numpy), hnswlib and faiss.

Usage: ann_peer.py <base.f32> <queries.f32> <dims> <k> <out.json>
Vectors are float32, row-major, unit length; similarity is the inner product (= cosine).
Every search runs single-threaded so the numbers compare with one Node.js thread.
"""
import json
import sys
import time

import numpy as np

base_path, query_path, dims, k, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
base = np.fromfile(base_path, dtype=np.float32).reshape(-1, dims)
queries = np.fromfile(query_path, dtype=np.float32).reshape(-1, dims)
n, nq = base.shape[0], queries.shape[0]


def recall(found, truth):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


# Exact neighbours in blocks (inner product), the ground truth for everyone.
t = time.perf_counter()
truth = []
for i in range(0, nq, 256):
    s = queries[i : i + 256] @ base.T
    idx = np.argpartition(-s, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, idx, axis=1), axis=1)
    truth.extend(np.take_along_axis(idx, order, axis=1).tolist())
exact_s = time.perf_counter() - t
results = {"n": n, "queries": nq, "dims": dims, "k": k, "exact": {"seconds": exact_s, "qps": nq / exact_s}, "truth": truth, "peers": []}

try:
    import hnswlib

    t = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=dims)
    index.init_index(max_elements=n, ef_construction=200, M=16, random_seed=42)
    index.set_num_threads(1)
    index.add_items(base, np.arange(n))
    build = time.perf_counter() - t
    for ef in (16, 32, 64, 128, 256):
        index.set_ef(max(ef, k))
        t = time.perf_counter()
        labels = [index.knn_query(q.reshape(1, -1), k=k)[0][0].tolist() for q in queries]
        s = time.perf_counter() - t
        results["peers"].append({"library": "hnswlib", "index": "HNSW M=16 efC=200", "param": f"ef={ef}", "buildSeconds": build, "recall": recall(labels, truth), "qps": nq / s})
except ImportError:
    results["peers"].append({"library": "hnswlib", "error": "not installed (apt-get install python3-hnswlib)"})

try:
    import faiss

    faiss.omp_set_num_threads(1)
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    hnsw.add(base)
    build = time.perf_counter() - t
    for ef in (16, 32, 64, 128, 256):
        hnsw.hnsw.efSearch = max(ef, k)
        t = time.perf_counter()
        labels = [hnsw.search(q.reshape(1, -1), k)[1][0].tolist() for q in queries]
        s = time.perf_counter() - t
        results["peers"].append({"library": "faiss", "index": "HNSWFlat M=32 efC=200", "param": f"efSearch={ef}", "buildSeconds": build, "recall": recall(labels, truth), "qps": nq / s})
    nlist = int(round(np.sqrt(n)))
    t = time.perf_counter()
    quant = faiss.IndexFlatIP(dims)
    ivf = faiss.IndexIVFPQ(quant, dims, nlist, dims // 8, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.train(base)
    ivf.add(base)
    build = time.perf_counter() - t
    for nprobe in (10, 20, 50):
        ivf.nprobe = nprobe
        t = time.perf_counter()
        labels = [ivf.search(q.reshape(1, -1), k)[1][0].tolist() for q in queries]
        s = time.perf_counter() - t
        results["peers"].append({"library": "faiss", "index": f"IVF{nlist},PQ{dims // 8}x8", "param": f"nprobe={nprobe}", "buildSeconds": build, "recall": recall(labels, truth), "qps": nq / s})
except ImportError:
    results["peers"].append({"library": "faiss", "error": "not installed (apt-get install python3-faiss)"})

with open(out_path, "w") as f:
    json.dump(results, f)
