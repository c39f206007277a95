"""Fit speed of MultiTaskRecommender against a plain PyTorch loop over the same module.

Census (one-hot + scaled, 70/30 split), MMoE with 8 experts of 16 units, towers of 8, 10 epochs,
batch 1024, no early stopping. Both sides train the same module class with the same loss,
optimizer, batch size and number of epochs in the same process; runs alternate (ours, plain,
ours, ...) and the median ratio is printed. ``fit`` is timed whole: input validation, feature
encoding and skorch's loop; the plain loop is timed from the dense float32 matrix.

    python benchmarks/bench_fit_speed.py [--runs 3] [--epochs 10] [--device auto] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import fetch_census_income
from sklearn_mtl.losses import MultiTaskLoss
from sklearn_mtl.nets import build_module

CONFIG = dict(hidden_units=(16,), tower_units=(8,), n_experts=8)


def load(n_rows=None):
    X, Y = fetch_census_income(return_X_y=True)
    if n_rows:
        X, Y = X.iloc[:n_rows], Y.iloc[:n_rows]
    X_train, _, Y_train, _ = train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y["income"])
    categorical = list(X.select_dtypes(exclude="number").columns)
    numeric = list(X.select_dtypes(include="number").columns)
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), categorical), ("num", StandardScaler(), numeric)],
        sparse_threshold=0,
    )
    return pre.fit_transform(X_train).astype(np.float32), Y_train.to_numpy(dtype=np.float32)


def fit_ours(X, Y, epochs, device, seed):
    model = MultiTaskRecommender(
        "mmoe", **CONFIG, max_epochs=epochs, batch_size=1024, early_stopping=False,
        device=device, random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X, Y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fit_plain(X, Y, epochs, device, seed):
    torch.manual_seed(seed)
    start = time.perf_counter()
    x = torch.as_tensor(X, device=device)
    y = torch.as_tensor(Y, device=device)
    x_cat = torch.zeros((len(x), 0), dtype=torch.long, device=device)
    module = build_module(
        "mmoe", n_numeric=X.shape[1], cardinalities=[], embedding_dims=[], n_outputs=[1, 1],
        dropout=0.0, **CONFIG,
    ).to(device)
    loss_fn = MultiTaskLoss(["binary", "binary"], [1, 1]).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), device=device)
        for i in range(0, len(x), 1024):
            idx = order[i : i + 1024]
            optimizer.zero_grad()
            loss = loss_fn(module(x[idx], x_cat[idx]), y[idx])
            loss.backward()
            optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 2 epochs, 1 run")
    args = parser.parse_args(argv)
    n_rows = None
    if args.quick:
        n_rows, args.epochs, args.runs = 10_000, 2, 1
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu" and args.device == "auto":
        print("note: no CUDA device here; the benchmark runs on the CPU")
    X, Y = load(n_rows)
    print(f"census one-hot train split: {X.shape[0]} rows x {X.shape[1]} features, device={device}, "
          f"torch threads={torch.get_num_threads()}, cpus={os.cpu_count()}, {platform.processor() or ''}")
    fit_ours(X[:2048], Y[:2048], 1, device, 0)  # warm-up: allocator, kernels
    fit_plain(X[:2048], Y[:2048], 1, device, 0)
    ratios = []
    for run in range(args.runs):
        ours = fit_ours(X, Y, args.epochs, device, run)
        plain = fit_plain(X, Y, args.epochs, device, run)
        ratios.append(ours / plain)
        print(f"run {run}: MultiTaskRecommender.fit {ours:.2f} s, plain PyTorch loop {plain:.2f} s, "
              f"ratio {ours / plain:.3f}")
    print(f"median ratio (ours / plain) over {args.runs} runs: {statistics.median(ratios):.3f}x")
    return statistics.median(ratios)


if __name__ == "__main__":
    main()
