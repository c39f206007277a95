"""Fit and predict speed of MultiTaskRecommender against plain PyTorch, and against the FLOP limit.

Three parts, each against code a user who writes PyTorch well would write, timed in this process:

* ``census`` (default): census one-hot + scaled (70/30 split, 69,833 x 499), MMoE with 8 experts
  of 16 units and towers of 8, batch 1024, Adam, no early stopping, 6 and 10 epochs. Opponents:
  ``fused``, the same MMoE with all experts in one ``Linear(d, E*H)`` and all gates in one
  ``Linear(d, T*E)`` and one BCE over both tasks, stepped by torch's default Adam (the best
  plain loop: the target's opponent); ``fused_adam``, that loop with Adam's fused kernel, the
  optimizer ``MultiTaskRecommender`` steps with (so its ratio is the package's own cost, not the
  optimizer's); ``naive``, one ``Linear`` per expert and per gate (the straightforward one).
  ``fit`` is timed whole (checks, column statistics, skorch's loop) from the raw one-hot matrix;
  the plain loops from the same matrix already standardized.
* ``frame``: recommender-shaped DataFrames (Zipf user and item ids, 3 small categorical and 8
  numeric columns, click -> purchase), 100k and 1M rows, MMoE of 4 experts of 64 units and towers
  of 16 (one expert layer), batch 4096, 2 epochs: ``fit(DataFrame)`` against a plain loop over
  the same embeddings and a fused MMoE (with torch's default Adam, and with the fused one),
  from integer codes and standardized float32 columns prepared outside the timing.
* ``predict``: ``predict_proba`` on the 69,833 census rows against the fitted module called
  directly under ``inference_mode`` at the same batch size (1024, and the default of
  ``predict_batch_size``) on pre-standardized float32 rows, with a sigmoid.

Runs alternate which side goes first; the medians of the per-run ratios are printed with the
quartiles. Every time is also given as a multiple of the FLOP limit: the floating-point
operations of the work (counted by ``torch.utils.flop_counter`` on the module: forward and
backward of each step, forward only to predict) divided by the peak of this machine, measured
as the best of 2048 x 2048 float32 matrix products over two seconds in this process. Beside
it, the **product floor**: the matrix products one step dispatches (recorded with their shapes
and strides) replayed alone, which is as fast as any loop built of torch's kernels can go.

    python benchmarks/bench_fit_speed.py [census|frame|predict|all] [--runs 5] [--epochs 6 10]
                                         [--frame-rows 100000 1000000] [--device auto] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import os
import platform
import statistics
import time

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._recommender._skorch import has_fused_adam
from sklearn_mtl.datasets import fetch_census_income

CONFIG = dict(hidden_units=(16,), tower_units=(8,), n_experts=8)
# The frame part: MMoE at its default width and experts, with one expert layer so that the plain
# module (experts in one Linear) computes the same thing.
FRAME_CONFIG = dict(hidden_units=(64,), tower_units=(16,), n_experts=4)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def processor_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_flops(device, seconds: float = 2.0) -> float:
    """Best FLOP/s of a 2048 x 2048 float32 matrix product here (the machine's practical peak).

    The best of as many products as ``seconds`` allows (at least 8): on a machine that other
    work shares, a few products can all land on a busy moment and halve the peak.
    """
    n = 2048
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best, runs, begin = math.inf, 0, time.perf_counter()
    while runs < 8 or time.perf_counter() - begin < seconds:
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
        runs += 1
    return 2 * n**3 / best


def step_flops(module, x_num, x_cat, y, train=True) -> int:
    """FLOPs of one forward (and backward, with ``train``) pass of ``module`` on a batch."""
    counter = FlopCounterMode(display=False)
    with counter:
        out = module(x_num, x_cat) if x_cat is not None else module(x_num)
        if train:
            nn.functional.binary_cross_entropy_with_logits(out, y).backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


_PRODUCTS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
             torch.ops.aten.baddbmm.default}


class _RecordProducts(TorchDispatchMode):
    """Records every matrix product a pass dispatches: the op and its operands' layouts."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _PRODUCTS:
            layouts = [(a.shape, a.stride(), a.dtype) if isinstance(a, torch.Tensor) else a
                       for a in args]
            self.calls.append((func, layouts, dict(kwargs or {})))
        return func(*args, **(kwargs or {}))


def product_floor(module, x_num, x_cat, y, train=True, device="cpu", repeats=30) -> float:
    """Seconds of the matrix products alone of one pass (forward, and backward with ``train``).

    The products ``module`` dispatches on this batch are recorded with their shapes and strides
    and replayed on fresh operands of the same layout, nothing else between them; the best of
    ``repeats`` replays. No loop made of torch's kernels runs a step at these shapes faster:
    the gap between this and the FLOP limit is the kernels' own at small shapes.
    """
    recorder = _RecordProducts()
    with recorder:
        out = module(x_num, x_cat) if x_cat is not None else module(x_num)
        if train:
            nn.functional.binary_cross_entropy_with_logits(out, y).backward()
    module.zero_grad(set_to_none=True)

    def operand(layout):
        if not isinstance(layout, tuple) or len(layout) != 3:
            return layout
        shape, stride, dtype = layout
        return torch.empty_strided(shape, stride, dtype=dtype, device=device).normal_()

    calls = [(func, [operand(a) for a in layouts], kwargs)
             for func, layouts, kwargs in recorder.calls]
    best = math.inf
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        for func, args, kwargs in calls:
            func(*args, **kwargs)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def quartiles(values):
    if len(values) == 1:
        return values[0], values[0], values[0]
    return tuple(statistics.quantiles(values, n=4, method="inclusive"))


def report(label, ratios):
    q1, q2, q3 = quartiles(ratios)
    print(f"  {label}: median {q2:.3f}x (quartiles {q1:.3f}-{q3:.3f}, runs "
          f"{min(ratios):.3f}-{max(ratios):.3f})", flush=True)
    return q2


# ---------------------------------------------------------------- the plain modules
class FusedMMoE(nn.Module):
    """MMoE as a careful PyTorch user writes it: experts in one Linear, gates in one Linear."""

    def __init__(self, d, n_experts=8, expert_units=16, tower_units=8, n_tasks=2):
        super().__init__()
        self.e, self.h, self.t = n_experts, expert_units, n_tasks
        self.experts = nn.Linear(d, n_experts * expert_units)
        self.gates = nn.Linear(d, n_tasks * n_experts)
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(expert_units, tower_units), nn.ReLU(), nn.Linear(tower_units, 1))
            for _ in range(n_tasks))

    def forward(self, x):
        experts = torch.relu(self.experts(x)).view(-1, self.e, self.h)  # (n, E, H)
        gates = torch.softmax(self.gates(x).view(-1, self.t, self.e), dim=2)  # (n, T, E)
        mixed = torch.bmm(gates, experts)  # (n, T, H)
        return torch.cat([tower(mixed[:, k]) for k, tower in enumerate(self.towers)], dim=1)


class NaiveMMoE(nn.Module):
    """MMoE written straightforwardly: one Linear per expert and per gate."""

    def __init__(self, d, n_experts=8, expert_units=16, tower_units=8, n_tasks=2):
        super().__init__()
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(d, expert_units), nn.ReLU()) for _ in range(n_experts))
        self.gates = nn.ModuleList(nn.Linear(d, n_experts) for _ in range(n_tasks))
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(expert_units, tower_units), nn.ReLU(), nn.Linear(tower_units, 1))
            for _ in range(n_tasks))

    def forward(self, x):
        experts = torch.stack([e(x) for e in self.experts], dim=1)
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            weights = torch.softmax(gate(x), dim=1).unsqueeze(2)
            outs.append(tower((weights * experts).sum(dim=1)))
        return torch.cat(outs, dim=1)


class EmbeddedMMoE(nn.Module):
    """FusedMMoE over [numeric, one embedding per categorical column], as the package embeds."""

    def __init__(self, n_numeric, cardinalities, dims, **kwargs):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(k, d) for k, d in zip(cardinalities, dims))
        self.mmoe = FusedMMoE(n_numeric + sum(dims), **kwargs)

    def forward(self, x_num, x_cat):
        parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        return self.mmoe(torch.cat(parts, dim=1))


OPPONENTS = {"fused": "fused plain loop", "fused_adam": "fused plain loop with fused Adam",
             "naive": "naive plain loop"}


def plain_loop(module, tensors, y, epochs, batch_size, device, seed, fused_adam=False):
    """Adam over shuffled batches sliced from tensors already on the device; torch's default
    Adam, or with ``fused_adam`` its fused kernel (what MultiTaskRecommender uses)."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3,
                                 **({"fused": True} if fused_adam and has_fused_adam(device) else {}))
    n = len(y)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(n, device=device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad()
            out = module(*(t[idx] for t in tensors))
            nn.functional.binary_cross_entropy_with_logits(out, y[idx]).backward()
            optimizer.step()
    sync(device)


# ---------------------------------------------------------------- census
def load_census(n_rows=None):
    X, Y = fetch_census_income(return_X_y=True)
    if n_rows:
        X, Y = X.iloc[:n_rows], Y.iloc[:n_rows]
    X_train, _, Y_train, _ = train_test_split(X, Y, test_size=0.3, random_state=0,
                                              stratify=Y["income"])
    categorical = list(X.select_dtypes(exclude="number").columns)
    numeric = list(X.select_dtypes(include="number").columns)
    one_hot = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), categorical), ("num", "passthrough", numeric)],
        sparse_threshold=0,
    )
    raw = one_hot.fit_transform(X_train).astype(np.float32)
    return raw, StandardScaler().fit_transform(raw).astype(np.float32), Y_train.to_numpy(np.float32)


def load(n_rows=None):
    """The census train split, one-hot and standardized float32, and its targets (X, Y)."""
    _, scaled, Y = load_census(n_rows)
    return scaled, Y


def fit_ours(X, Y, epochs, device, seed):
    """Seconds of ``MultiTaskRecommender.fit`` (the census MMoE) on ``X``, ``Y``."""
    model = census_model(epochs, device, seed)
    start = time.perf_counter()
    model.fit(X, Y)
    sync(device)
    return time.perf_counter() - start


def fit_plain(X, Y, epochs, device, seed, cls=FusedMMoE, fused_adam=False):
    """Seconds of a plain loop over ``cls`` (default the fused MMoE: experts and gates in one
    Linear each) on ``X``, ``Y``."""
    torch.manual_seed(seed)
    start = time.perf_counter()
    x, y = torch.as_tensor(X, device=device), torch.as_tensor(Y, device=device)
    module = cls(X.shape[1], CONFIG["n_experts"], CONFIG["hidden_units"][0],
                       CONFIG["tower_units"][0], Y.shape[1]).to(device)
    plain_loop(module, (x,), y, epochs, 1024, device, seed, fused_adam=fused_adam)
    return time.perf_counter() - start


def census_model(epochs, device, seed, **extra):
    return MultiTaskRecommender("mmoe", **CONFIG, max_epochs=epochs, batch_size=1024,
                                early_stopping=False, device=device, random_state=seed, **extra)


def run_census(args, device, peak):
    raw, scaled, Y = load_census(10_000 if args.quick else None)
    print(f"census one-hot train split: {raw.shape[0]} rows x {raw.shape[1]} features")
    y = torch.as_tensor(Y, device=device)
    # fit is handed the raw one-hot matrix, the plain loops the same matrix standardized.
    # "fused": the opponent (torch's default Adam); "fused_adam": the same loop with Adam's
    # fused kernel, as the package steps it, so that the ratio is the package's own cost.
    fits = {"ours": functools.partial(fit_ours, raw, Y),
            "fused": functools.partial(fit_plain, scaled, Y, cls=FusedMMoE),
            "fused_adam": functools.partial(fit_plain, scaled, Y, cls=FusedMMoE, fused_adam=True),
            "naive": functools.partial(fit_plain, scaled, Y, cls=NaiveMMoE)}
    for fit in fits.values():  # warm-up (allocator, kernels, page cache), discarded
        fit(1, device, 0)
    # FLOPs of the work: each step's forward and backward on the package's own module.
    model = census_model(1, device, 0).fit(raw, Y)
    module = model.net_.module_
    n_batches = math.ceil(len(raw) / 1024)
    sample = model._dataset(raw[:1024]).take(slice(0, 1024))[0]
    flops_per_epoch = step_flops(module, sample["x_num"], sample["x_cat"],
                                 y[:1024]) * n_batches
    floor_per_epoch = product_floor(module, sample["x_num"], sample["x_cat"], y[:1024],
                                    device=device) * n_batches
    results = {}
    for epochs in args.epochs:
        print(f"{epochs} epochs, {args.runs} runs:")
        ratios = {"fused": [], "fused_adam": [], "naive": []}
        ours_times = []
        names = list(fits)
        for run in range(args.runs):
            seconds = {}
            for name in names[run % len(names):] + names[: run % len(names)]:
                gc.collect()
                seconds[name] = fits[name](epochs, device, run)
            for other in ratios:
                ratios[other].append(seconds["ours"] / seconds[other])
            ours_times.append(seconds["ours"])
            print(f"  run {run}: MultiTaskRecommender.fit {seconds['ours']:.2f} s, fused plain "
                  f"loop {seconds['fused']:.2f} s (with fused Adam {seconds['fused_adam']:.2f} s),"
                  f" naive plain loop {seconds['naive']:.2f} s", flush=True)
        limit = flops_per_epoch * epochs / peak
        results[epochs] = {other: report(f"ours / {OPPONENTS[other]}", values)
                           for other, values in ratios.items()}
        print(f"  FLOP limit {limit:.2f} s ({flops_per_epoch * epochs / 1e9:.0f} GFLOP at "
              f"{peak / 1e9:.0f} GFLOP/s): MultiTaskRecommender.fit takes "
              f"{statistics.median(ours_times) / limit:.2f}x the limit; the step's matrix "
              f"products alone take {floor_per_epoch * epochs / limit:.2f}x it", flush=True)
    return results


# ---------------------------------------------------------------- recommender-shaped frames
def recsys_frame(n_rows: int, seed: int = 0):
    """Zipf users and items, 3 small categorical and 8 numeric columns, click -> purchase."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(n_rows // 20, 10), max(n_rows // 50, 10)
    user = np.minimum(rng.zipf(1.3, n_rows), n_users) - 1
    item = np.minimum(rng.zipf(1.2, n_rows), n_items) - 1
    numeric = rng.normal(size=(n_rows, 8)).astype(np.float64) * [1, 2, 5, 10, 0.1, 1, 3, 100]
    frame = pd.DataFrame(numeric, columns=[f"x{j}" for j in range(8)])
    frame.insert(0, "user_id", user)
    frame.insert(1, "item_id", item)
    for j, k in enumerate((4, 12, 30)):
        frame[f"c{j}"] = pd.Categorical(rng.integers(0, k, n_rows))
    user_bias = rng.normal(size=n_users)[user]
    item_bias = rng.normal(size=n_items)[item]
    logit = -2 + user_bias + item_bias + numeric[:, 0] - 0.5 * numeric[:, 1] / 2
    click = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    purchase = click & (rng.random(n_rows) < 1 / (1 + np.exp(-(logit + numeric[:, 2] / 5))))
    targets = pd.DataFrame({"click": click.astype(float), "purchase": purchase.astype(float)})
    return frame, targets


def fit_frame_ours(X, Y, epochs, batch_size, device, seed):
    model = MultiTaskRecommender("mmoe", **FRAME_CONFIG, batch_size=batch_size, max_epochs=epochs,
                                 early_stopping=False, device=device, random_state=seed)
    start = time.perf_counter()
    model.fit(X, Y)
    sync(device)
    return time.perf_counter() - start, model


def fit_frame_plain(tensors, y, cards, dims, epochs, batch_size, device, seed, fused_adam=False):
    torch.manual_seed(seed)
    start = time.perf_counter()
    module = EmbeddedMMoE(tensors[0].shape[1], cards, dims, n_experts=FRAME_CONFIG["n_experts"],
                          expert_units=FRAME_CONFIG["hidden_units"][0],
                          tower_units=FRAME_CONFIG["tower_units"][0], n_tasks=2).to(device)
    plain_loop(module, tensors, y, epochs, batch_size, device, seed, fused_adam=fused_adam)
    return time.perf_counter() - start, module


def run_frame(args, device, peak):
    epochs, batch_size = 2, 4096
    sizes = [20_000] if args.quick else args.frame_rows
    results = {}
    for n_rows in sizes:
        X, Y = recsys_frame(n_rows)
        runs = 1 if args.quick else max(3, args.runs - 2)

        ours = functools.partial(fit_frame_ours, X, Y, epochs, batch_size, device)
        # The plain loop gets what the package computes in fit, prepared outside its timing.
        model = ours(0)[1]
        features = model._features
        x_num, x_cat = features.transform(X)
        tensors = (torch.as_tensor(x_num, device=device),
                   torch.as_tensor(x_cat, dtype=torch.long, device=device))
        y = torch.as_tensor(Y.to_numpy(np.float32), device=device)
        dims, cards = features.embedding_dims_, features.cardinalities_
        fits = {"ours": ours,
                "plain": functools.partial(fit_frame_plain, tensors, y, cards, dims, epochs,
                                           batch_size, device),
                "plain_fused_adam": functools.partial(fit_frame_plain, tensors, y, cards, dims,
                                                      epochs, batch_size, device,
                                                      fused_adam=True)}
        print(f"recommender frame: {n_rows} rows, {len(cards)} embedded columns "
              f"(cardinalities {cards}, widths {dims}), {tensors[0].shape[1]} numeric; MMoE "
              f"{FRAME_CONFIG}, batch {batch_size}, {epochs} epochs")
        ratios = {"plain": [], "plain_fused_adam": []}
        names = list(fits)
        for run in range(runs):
            seconds = {}
            for name in names[run % len(names):] + names[: run % len(names)]:
                gc.collect()
                seconds[name] = fits[name](run)[0]
            for other in ratios:
                ratios[other].append(seconds["ours"] / seconds[other])
            print(f"  run {run}: fit(DataFrame) {seconds['ours']:.2f} s, plain loop "
                  f"{seconds['plain']:.2f} s (with fused Adam {seconds['plain_fused_adam']:.2f} s)",
                  flush=True)
        results[n_rows] = {
            other: report(f"{n_rows} rows: ours / plain loop"
                          + (" with fused Adam" if other == "plain_fused_adam" else ""), values)
            for other, values in ratios.items()}
    return results


# ---------------------------------------------------------------- predict
def predict_ours(model, raw, device):
    start = time.perf_counter()
    model.predict_proba(raw)
    sync(device)
    return time.perf_counter() - start


def predict_direct(module, x, x_cat, batch, device):
    """The fitted module on standardized float32 rows, batch by batch, with a sigmoid."""
    start = time.perf_counter()
    with torch.inference_mode():
        out = torch.empty((len(x), 2), device=device)
        for i in range(0, len(x), batch):
            out[i : i + batch] = torch.sigmoid(module(x[i : i + batch], x_cat[i : i + batch]))
        out.cpu().numpy()
    sync(device)
    return time.perf_counter() - start


def run_predict(args, device, peak):
    raw, scaled, Y = load_census(10_000 if args.quick else None)
    model = census_model(1, device, 0).fit(raw, Y)
    module = model.net_.module_.eval()
    x = torch.as_tensor(scaled, device=device)
    x_cat = torch.zeros((len(x), 0), dtype=torch.long, device=device)
    default = model._predict_batch_size()
    results = {}
    for batch in (1024, default):
        model.set_params(predict_batch_size=batch)

        ours = functools.partial(predict_ours, model, raw, device)
        direct = functools.partial(predict_direct, module, x, x_cat, batch, device)
        ours(), direct()
        speedups, times = [], []
        for run in range(3 if args.quick else 9):
            pair = [ours, direct] if run % 2 == 0 else [direct, ours]
            seconds = {fn.func.__name__: fn() for fn in pair}
            speedups.append(seconds["predict_direct"] / seconds["predict_ours"])
            times.append(seconds["predict_ours"])
        flops = step_flops(module, x[:batch], x_cat[:batch], None, train=False) * len(x) / batch
        floor = product_floor(module, x[:batch], x_cat[:batch], None, train=False,
                              device=device) * len(x) / batch
        print(f"predict_proba on {len(x)} rows, batch {batch}: "
              f"median {statistics.median(times) * 1e3:.1f} ms, "
              f"{statistics.median(times) * peak / flops:.2f}x the FLOP limit (the matrix "
              f"products alone: {floor * peak / flops:.2f}x)")
        results[batch] = report(f"batch {batch}: module called directly / predict_proba "
                                f"(>= 1 means at the module's speed)", speedups)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="census",
                        choices=["census", "frame", "predict", "all"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--epochs", type=int, nargs="+", default=[6, 10])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frame-rows", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="rows of the recommender frames (frame part)")
    parser.add_argument("--quick", action="store_true",
                        help="small data, 2 epochs, 1 run, every part")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.runs, args.part = [2], 1, "all"
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    name = torch.cuda.get_device_name() if device.startswith("cuda") else processor_name()
    peak = peak_flops(device)
    print(f"device={device} {name}, torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"cpus={os.cpu_count()}, measured peak {peak / 1e9:.0f} GFLOP/s (float32 matmul)")
    parts = ["census", "frame", "predict"] if args.part == "all" else [args.part]
    runners = {"census": run_census, "frame": run_frame, "predict": run_predict}
    return {part: runners[part](args, device, peak) for part in parts}


if __name__ == "__main__":
    main()
