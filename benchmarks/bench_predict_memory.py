"""Predict throughput and peak memory of fit, against the plain PyTorch module in the same setting.

* Throughput: rows/s of ``MultiTaskRecommender.predict_proba`` on 100,000 rows (the train split
  repeated; input validation, encoding, the module over batches, per-task probabilities) against
  calling the same trained torch module under ``torch.inference_mode()`` on the ready
  standardized float32 tensor in batches of the same size (1024), in the same process, median of
  7 alternating runs.
* Peak memory: a fresh process loads the census one-hot data, resets its peak resident set size
  (``/proc/self/clear_refs``) and runs ``MultiTaskRecommender.fit``; another runs the plain
  PyTorch loop of ``bench_fit_speed.py`` instead. Reported: the peak RSS during the fit above the
  RSS with the data loaded (Linux only).

    python benchmarks/bench_predict_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_fit_speed as fs  # noqa: E402

from sklearn_mtl import MultiTaskRecommender  # noqa: E402


def throughput(X, Y, runs=5, batch_size=1024, n_rows=100_000):
    """Median rows/s of predict_proba and of the plain module, on ``n_rows`` rows (X repeated)."""
    model = MultiTaskRecommender("mmoe", **fs.CONFIG, max_epochs=1, batch_size=batch_size,
                                 early_stopping=False, device="cpu", random_state=0).fit(X, Y)
    X_pred = np.resize(X, (n_rows, X.shape[1])) if n_rows else X
    module = model.net_.module_.eval()
    x = torch.as_tensor(model._features.transform(X_pred)[0])
    x_cat = torch.zeros((len(x), 0), dtype=torch.long)
    ours, plain = [], []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict_proba(X_pred)
        ours.append(len(X_pred) / (time.perf_counter() - start))
        start = time.perf_counter()
        with torch.inference_mode():
            out = [torch.sigmoid(module(x[i : i + batch_size], x_cat[i : i + batch_size]))
                   for i in range(0, len(x), batch_size)]
            torch.cat(out)
        plain.append(len(X_pred) / (time.perf_counter() - start))
    return statistics.median(ours), statistics.median(plain), len(X_pred)


_CHILD = """
import gc, json, sys
sys.path.insert(0, {here!r})
import bench_fit_speed as fs

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

X, Y = fs.load({n_rows!r})
gc.collect()
# Reset the peak (VmHWM) to the current RSS, so that loading the data does not count.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
if {what!r} == "ours":
    fs.fit_ours(X, Y, {epochs}, "cpu", 0)
else:
    fs.fit_plain(X, Y, {epochs}, "cpu", 0)
print(json.dumps({{"before_mb": before, "peak_mb": status("VmHWM")}}))
"""


def peak_rss(what, n_rows, epochs):
    """(RSS with the data loaded, peak RSS during the fit) of a fresh process, in MB."""
    code = _CHILD.format(here=str(HERE), n_rows=n_rows, what=what, epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["before_mb"], result["peak_mb"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 1 epoch")
    args = parser.parse_args(argv)
    n_rows, epochs = (10_000, 1) if args.quick else (None, 3)
    X, Y = fs.load(n_rows)
    ours, plain, n_pred = throughput(X, Y, runs=2 if args.quick else 7,
                                     n_rows=None if args.quick else 100_000)
    print(f"predict throughput on {n_pred} x {X.shape[1]} (MMoE, CPU, batch 1024): "
          f"MultiTaskRecommender.predict_proba {ours:,.0f} rows/s, plain module {plain:,.0f} rows/s, "
          f"ratio {ours / plain:.2f}")
    rss = {what: peak_rss(what, n_rows, epochs) for what in ("ours", "plain")}
    added = {what: peak - before for what, (before, peak) in rss.items()}
    print(f"peak RSS during fit, above the loaded data ({rss['ours'][0]:.0f} MB): "
          f"MultiTaskRecommender.fit +{added['ours']:.0f} MB, plain loop +{added['plain']:.0f} MB, "
          f"ratio {added['ours'] / max(added['plain'], 1):.2f}")

if __name__ == "__main__":
    main()
