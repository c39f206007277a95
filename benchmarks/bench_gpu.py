"""The GPU path in one run: every part a CUDA machine must show, printed as it goes.

On a machine with CUDA (``--device cuda``, or ``auto`` when one is present) it prints, in about
five minutes on one GPU (budgeted for eight; not yet measured: no GPU was available when it was
written, 2026-12-06):

1. **architectures**: every architecture of ``MultiTaskRecommender`` (``ARCHITECTURES``) fitted
   and predicted on the device (census rows, the chain architectures on income -> income and
   never married), with the seconds of each, the device the net's parameters are on and the
   test ROC AUC of each task;
2. **saved on the device, loaded on a CPU**: the MMoE saved where it was fitted
   (``model.save``), loaded by :func:`sklearn_mtl.load` in a fresh process that sees no GPU
   (``CUDA_VISIBLE_DEVICES=""``), which predicts the same probabilities (max difference
   printed; the run fails above 1e-4);
3. **fit against a plain loop**: ``fit`` of the census MMoE against the same net written as a
   plain PyTorch loop with the same (fused) Adam, on tensors already on the device
   (``bench_fit_speed.py``'s ``fit_ours`` and ``fit_plain``), runs alternating, the median
   speed ratio printed against the target of 0.9;
4. **mixed precision**: that plain loop under ``torch.autocast`` in bfloat16 against float32
   (the estimator has no mixed-precision option: this says whether one would pay);
5. **devices=N**: ``MultiTaskRecommender(devices=N)`` data-parallel over the N GPUs present
   (NCCL), or over 2 CPU processes (gloo) with ``--device cpu``, against ``devices=None``;
6. **a sequential tuned compare on census**: MMoE and ``PerTaskLGBM`` (MMoE alone on the
   CPU) against the single-task reference with ``tune=`` trials per split and
   ``sequential=True`` (at most 2 repeats of 3 folds): the repeats it used, why it stopped,
   its fits and wall time, and the verdicts.

Each part catches its own failure, prints it and goes on; the exit status is 1 if any failed.
With ``--device cpu`` it runs the same parts on the CPU at small sizes (CI's quick run: about
a minute), so that the script cannot rot where there is no GPU.

    python benchmarks/bench_gpu.py [--device auto|cuda|cpu] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer, load
from sklearn_mtl._architectures import ARCHITECTURES, CHAIN_ARCHITECTURES
from sklearn_mtl.datasets import fetch_census_income

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit_speed import CONFIG, FusedMMoE, fit_ours, fit_plain, load_census, sync  # noqa: E402

# Sizes per mode: rows of census for the architecture and device parts, epochs, rows of the
# fit-speed part, runs of it, rows, trials and epochs of the tuned compare.
SIZES = {
    "cuda": dict(rows=40_000, epochs=3, speed_rows=None, runs=3, compare_rows=20_000,
                 trials=5, compare_epochs=5, compare_models=("mmoe", "lgbm")),
    "cpu": dict(rows=3_000, epochs=2, speed_rows=3_000, runs=1, compare_rows=800,
                trials=2, compare_epochs=1, compare_models=("mmoe",)),
}
LOADER = """
import sys, numpy as np, torch, sklearn_mtl
assert not torch.cuda.is_available(), "the loading process sees a GPU"
model = sklearn_mtl.load(sys.argv[1])
X = np.load(sys.argv[2], allow_pickle=False)
np.save(sys.argv[3], np.stack([p[:, 1] for p in model.predict_proba(X)], axis=1))
"""


def census(rows: int, seed: int = 0):
    """About ``rows`` census rows (from the file's first ones: ``load_census`` keeps 70 % of
    them) one-hot encoded and scaled (float32), split 80/20, binary tasks."""
    _, scaled, Y = load_census(int(rows / 0.7) + 1)
    return train_test_split(scaled, Y.astype(np.int64), test_size=0.2, random_state=seed)


def net(architecture: str, device: str, epochs: int, **extra) -> MultiTaskRecommender:
    return MultiTaskRecommender(architecture, **CONFIG, max_epochs=epochs, batch_size=1024,
                                early_stopping=False, device=device, random_state=0, **extra)


def part_architectures(device, sizes, data):
    X, Xt, Y, Yt = data
    # The chain architectures read task 1 as task 0's child: income, then income and never
    # married (a child positive only where its parent is).
    chain, chain_t = (np.stack([Y[:, 0], Y[:, 0] * Y[:, 1]], axis=1),
                      np.stack([Yt[:, 0], Yt[:, 0] * Yt[:, 1]], axis=1))
    print("| architecture | fit s | predict s | parameters on | test ROC AUC per task |")
    print("|---|---|---|---|---|")
    for architecture in ARCHITECTURES:
        y, yt = (chain, chain_t) if architecture in CHAIN_ARCHITECTURES else (Y, Yt)
        model = net(architecture, device, sizes["epochs"])
        start = time.perf_counter()
        model.fit(X, y)
        sync(device)
        fitted = time.perf_counter() - start
        start = time.perf_counter()
        proba = model.predict_proba(Xt)
        predicted = time.perf_counter() - start
        where = next(model.net_.module_.parameters()).device
        aucs = ", ".join(f"{roc_auc_score(yt[:, t], p[:, 1]):.3f}" for t, p in enumerate(proba))
        print(f"| {architecture} | {fitted:.2f} | {predicted:.2f} | {where} | {aucs} |",
              flush=True)
        if torch.device(device).type != where.type:
            raise RuntimeError(f"{architecture}: parameters on {where}, asked for {device}")


def part_save_load(device, sizes, data):
    X, Xt, Y, _ = data
    model = net("mmoe", device, sizes["epochs"]).fit(X, Y)
    expected = np.stack([p[:, 1] for p in model.predict_proba(Xt)], axis=1)
    with tempfile.TemporaryDirectory() as folder:
        path, rows, out = (Path(folder) / name for name in ("mmoe.skmtl", "X.npy", "p.npy"))
        model.save(path)
        np.save(rows, Xt)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", LOADER, str(path), str(rows), str(out)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the CPU-only process failed:\n{done.stderr[-2000:]}")
        got = np.load(out)
        # The same process loading it back, for comparison.
        again = np.stack([p[:, 1] for p in load(path).predict_proba(Xt)], axis=1)
    gap = float(np.max(np.abs(got - expected)))
    print(f"saved on {device}, loaded and predicted in a process without a GPU in "
          f"{time.perf_counter() - start:.1f} s: max |difference| of {len(Xt):,} x "
          f"{expected.shape[1]} probabilities {gap:.2e} (same process: "
          f"{float(np.max(np.abs(again - expected))):.2e})")
    if gap > 1e-4:
        raise RuntimeError(f"the CPU-only process predicts other probabilities ({gap:.2e})")


def part_speed(device, sizes):
    raw, scaled, Y = load_census(sizes["speed_rows"])
    ratios, ours_s, plain_s = [], [], []
    for run in range(sizes["runs"]):
        # Alternate which side goes first (caches, clocks).
        if run % 2:
            plain = fit_plain(scaled, Y, sizes["epochs"], device, run, fused_adam=True)
            ours = fit_ours(raw, Y, sizes["epochs"], device, run)
        else:
            ours = fit_ours(raw, Y, sizes["epochs"], device, run)
            plain = fit_plain(scaled, Y, sizes["epochs"], device, run, fused_adam=True)
        ours_s.append(ours)
        plain_s.append(plain)
        ratios.append(plain / ours)
    ratio = statistics.median(ratios)
    print(f"census MMoE, {len(Y):,} rows x {raw.shape[1]}, {sizes['epochs']} epochs, batch "
          f"1024, {sizes['runs']} run(s): fit {statistics.median(ours_s):.2f} s, plain loop "
          f"{statistics.median(plain_s):.2f} s: speed {ratio:.2f}x the plain loop's (target "
          f">= 0.9: {'met' if ratio >= 0.9 else 'NOT met'}"
          + ("; a smoke run: at these sizes fit's fixed costs dominate)" if sizes["runs"] == 1
             else ")"))


def _plain_seconds(scaled, Y, epochs, device, autocast: bool) -> float:
    torch.manual_seed(0)
    x, y = torch.as_tensor(scaled, device=device), torch.as_tensor(Y, device=device)
    module = FusedMMoE(x.shape[1], CONFIG["n_experts"], CONFIG["hidden_units"][0],
                       CONFIG["tower_units"][0], y.shape[1]).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    kind = torch.device(device).type
    context = (torch.autocast(kind, dtype=torch.bfloat16) if autocast else nullcontext())
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), device=device)
        for i in range(0, len(y), 1024):
            idx = order[i:i + 1024]
            optimizer.zero_grad()
            with context:
                out = module(x[idx])
            torch.nn.functional.binary_cross_entropy_with_logits(out.float(), y[idx]).backward()
            optimizer.step()
    sync(device)
    return time.perf_counter() - start


def part_mixed_precision(device, sizes):
    _, scaled, Y = load_census(sizes["speed_rows"])
    fp32 = _plain_seconds(scaled, Y, sizes["epochs"], device, autocast=False)
    bf16 = _plain_seconds(scaled, Y, sizes["epochs"], device, autocast=True)
    print(f"plain census MMoE loop, {sizes['epochs']} epochs: float32 {fp32:.2f} s, bfloat16 "
          f"autocast {bf16:.2f} s: {fp32 / bf16:.2f}x ("
          f"{'helps' if fp32 / bf16 > 1.1 else 'does not help'} at this size)")


def part_devices(device, sizes, data):
    X, Xt, Y, Yt = data
    n = torch.cuda.device_count() if device == "cuda" else 2
    n = max(n, 1)
    backend = "NCCL" if device == "cuda" else "gloo, CPU processes"
    for devices in (None, n):
        model = net("mmoe", device, sizes["epochs"], devices=devices)
        start = time.perf_counter()
        model.fit(X, Y)
        seconds = time.perf_counter() - start
        auc = np.mean([roc_auc_score(Yt[:, t], p[:, 1])
                       for t, p in enumerate(model.predict_proba(Xt))])
        label = "devices=None" if devices is None else f"devices={devices} ({backend})"
        print(f"{label}: fit {seconds:.1f} s, mean test ROC AUC {auc:.3f}", flush=True)
    if device == "cuda" and n == 1:
        print("one GPU present: devices=1 ran through the data-parallel path on it alone")


def part_sequential_compare(device, sizes):
    X, Y = fetch_census_income(return_X_y=True)
    pick = np.random.default_rng(0).choice(len(X), size=sizes["compare_rows"], replace=False)
    X, Y = X.iloc[pick].reset_index(drop=True), Y.iloc[pick].reset_index(drop=True)
    mmoe = MultiTaskRecommender("mmoe", hidden_units=(16,), tower_units=(8,), n_experts=4,
                                max_epochs=sizes["compare_epochs"], batch_size=512,
                                device=device, random_state=0)
    models = {"mmoe": mmoe, "lgbm": PerTaskLGBM(n_estimators=50, n_jobs=1, verbose=-1,
                                                random_state=0)}
    models = {name: models[name] for name in sizes["compare_models"]}
    start = time.perf_counter()
    report = compare_transfer(models, X, Y, cv=3, n_repeats=2, random_state=0,
                              tune=sizes["trials"], sequential=True)
    seconds = time.perf_counter() - start
    design = report.sequential
    outer = len(report.scores[["model", "fold"]].drop_duplicates())
    trials = int(report.tuning["n_trials"].sum())
    print(f"census, {len(X):,} rows, 3 folds, at most 2 repeats, tune={sizes['trials']}: "
          f"{design['repeats_run']} repeat(s) ran ({design['stop_reason']}); {outer} outer "
          f"fits and {trials} trials in {seconds:.0f} s")
    for line in report.verdict_lines():
        print(f"  {line}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--quick", action="store_true",
                        help="no change on the CPU (its sizes are CI's); on CUDA the CPU sizes")
    args = parser.parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch sees no CUDA device", file=sys.stderr)
        return 1
    sizes = SIZES["cpu" if args.quick or device == "cpu" else "cuda"]
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"device {device} ({name}, {torch.cuda.device_count()} CUDA device(s)); torch "
          f"{torch.__version__}; sizes {sizes}")
    begin = time.perf_counter()
    data = census(sizes["rows"])
    parts = [("architectures", lambda: part_architectures(device, sizes, data)),
             ("saved on the device, loaded on a CPU",
              lambda: part_save_load(device, sizes, data)),
             ("fit against a plain loop", lambda: part_speed(device, sizes)),
             ("mixed precision", lambda: part_mixed_precision(device, sizes)),
             ("devices=N", lambda: part_devices(device, sizes, data)),
             ("sequential tuned compare on census", lambda: part_sequential_compare(device, sizes))]
    failed = []
    for title, run in parts:
        print(f"\n## {title}", flush=True)
        start = time.perf_counter()
        try:
            run()
        except Exception:  # each part reports its own failure; the others still run
            traceback.print_exc()
            failed.append(title)
        print(f"({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"\nwall time {time.perf_counter() - begin:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else "; every part ran"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
