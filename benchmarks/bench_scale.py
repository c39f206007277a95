"""Fit at scale: rows/s and peak RSS in memory, from Parquet and in a plain PyTorch loop; devices=2.

    python benchmarks/bench_scale.py [--quick] [--rows 1e6,3e6] [--only scale|ddp|stream]

* ``scale``: recommender-shaped rows (``bench_fit_speed.recsys_frame``: Zipf user and item
  ids, 3 small categorical and 8 numeric columns, click -> purchase) written to Parquet
  (row groups of 65,536 rows), then one epoch of MMoE (batch 4096, no validation) in a fresh
  process per run: ``memory`` reads the files into a DataFrame and fits it, ``parquet`` fits a
  ``ParquetSource`` (its encoders' pass included in the time), ``plain`` is a PyTorch loop
  over tensors with the same module shape. Peak RSS is the process's VmHWM, data included.
* ``ddp``: census income (70/30 split, seed 0), ``devices=2`` on CPU against one process at the
  same per-device batch (time per epoch, test AUC).
* ``stream``: ``partial_fit`` over census in 5 chunks, 4 passes (test AUC).

The default run (1 M and 3 M rows, ddp) takes about 10 minutes on 2 CPU cores; ``--quick``
(50,000 rows, no ddp or stream) under a minute. 10 M rows: ``--rows 1e7``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

_CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import numpy as np, pandas as pd, torch

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

mode, folder, epochs, batch = {mode!r}, {folder!r}, {epochs}, {batch}
targets = ["click", "purchase"]
start = time.perf_counter()
if mode == "parquet":
    from sklearn_mtl import MultiTaskRecommender
    from sklearn_mtl.sources import ParquetSource
    model = MultiTaskRecommender("mmoe", batch_size=batch, max_epochs=epochs, early_stopping=False,
                                 device="cpu", random_state=0)
    model.fit(ParquetSource(folder, targets))
else:
    frame = pd.read_parquet(folder)
    X, Y = frame.drop(columns=targets), frame[targets]
    del frame
    start = time.perf_counter()
    if mode == "memory":
        from sklearn_mtl import MultiTaskRecommender
        MultiTaskRecommender("mmoe", batch_size=batch, max_epochs=epochs, early_stopping=False,
                             device="cpu", random_state=0).fit(X, Y)
    else:
        import bench_fit_speed as fs
        cats = ["user_id", "item_id", "c0", "c1", "c2"]
        codes = [pd.Categorical(X[c]).codes.astype(np.int64) + 1 for c in cats]
        cards = [int(c.max()) + 2 for c in codes]
        dims = [min(50, max(1, round(1.6 * k ** 0.56))) for k in cards]
        num = X.drop(columns=cats).to_numpy(np.float32)
        num = (num - num.mean(0)) / num.std(0)
        tensors = (torch.as_tensor(num), torch.as_tensor(np.column_stack(codes)))
        y = torch.as_tensor(Y.to_numpy(np.float32))
        module = fs.EmbeddedMMoE(num.shape[1], cards, dims, n_experts=4, expert_units=64,
                                 tower_units=16, n_tasks=2)
        fs.plain_loop(module, tensors, y, epochs, batch, "cpu", 0)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mb": status("VmHWM")}}))
"""


def write_parquet(n_rows: int, folder: Path) -> None:
    """``n_rows`` recommender-shaped rows in files of at most 1 M rows, row groups of 65,536."""
    sys.path.insert(0, str(HERE))
    import bench_fit_speed as fs

    per_file = 1_000_000
    for i, start in enumerate(range(0, n_rows, per_file)):
        rows = min(per_file, n_rows - start)
        X, Y = fs.recsys_frame(rows, seed=i)
        X.join(Y).to_parquet(folder / f"part-{i:03d}.parquet", row_group_size=65_536)


def run_child(mode: str, folder: Path, epochs: int, batch: int) -> dict:
    code = _CHILD.format(here=str(HERE), mode=mode, folder=str(folder), epochs=epochs,
                         batch=batch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{mode} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale(sizes, epochs=1, batch=4096):
    print("| rows | run | fit s | rows/s | peak RSS MB |\n|---|---|---|---|---|")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
            folder = Path(tmp)
            write_parquet(n, folder)
            for mode in ("memory", "parquet", "plain"):
                r = run_child(mode, folder, epochs, batch)
                print(f"| {n:,} | {mode} | {r['seconds']:.1f} | {n * epochs / r['seconds']:,.0f} | "
                      f"{r['peak_mb']:,.0f} |", flush=True)


def census_split():
    from sklearn.model_selection import train_test_split

    from sklearn_mtl.datasets import fetch_census_income

    X, Y = fetch_census_income(return_X_y=True)
    return train_test_split(X, Y, test_size=0.3, stratify=Y["income"], random_state=0)


def income_auc(model, X, Y):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(Y["income"], model.predict_proba(X)[0][:, 1])


def ddp(max_epochs=8):
    from sklearn_mtl import MultiTaskRecommender

    X_train, X_test, Y_train, Y_test = census_split()
    print("| devices | batch per device | epochs | s per epoch | income AUC |\n|---|---|---|---|---|")
    for devices in (None, 2):
        model = MultiTaskRecommender("mmoe", batch_size=512, max_epochs=max_epochs, device="cpu",
                                     devices=devices, random_state=0)
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        print(f"| {devices or 1} | 512 | {model.n_epochs_} | {seconds / model.n_epochs_:.1f} | "
              f"{income_auc(model, X_test, Y_test):.4f} |", flush=True)


def stream(chunks=5, passes=4):
    from sklearn_mtl import MultiTaskRecommender

    X_train, X_test, Y_train, Y_test = census_split()
    model = MultiTaskRecommender("mmoe", random_state=0)
    parts = np.array_split(np.arange(len(X_train)), chunks)
    start = time.perf_counter()
    print("| pass | income AUC | s |\n|---|---|---|")
    for p in range(passes):
        for part in parts:
            model.partial_fit(X_train.iloc[part], Y_train.iloc[part])
        print(f"| {p + 1} | {income_auc(model, X_test, Y_test):.4f} | "
              f"{time.perf_counter() - start:.0f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", default="1e6,3e6", help="comma-separated row counts")
    parser.add_argument("--only", choices=["scale", "ddp", "stream"])
    args = parser.parse_args(argv)
    print(f"{date.today()}, {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} CPUs, python {platform.python_version()}")
    sizes = [50_000] if args.quick else [int(float(r)) for r in args.rows.split(",")]
    if args.only in (None, "scale"):
        scale(sizes)
    if not args.quick and args.only in (None, "ddp"):
        ddp()
    if args.only == "stream":
        stream()
    return 0


if __name__ == "__main__":
    sys.exit(main())
