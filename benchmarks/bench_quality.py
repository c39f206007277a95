"""Quality of every model on the real data, at defaults, against plain baselines in the same process.

* Census-Income (KDD), the raw frame (category columns embedded, no preprocessing), 70/30 split
  stratified on income, seed 0: ROC AUC of income and never-married for each architecture at
  default parameters and for PerTaskLGBM at its defaults.
* MovieLens 100K, 80/20 random split, seed 0: liked ROC AUC and rating RMSE, hard and mmoe at
  lr 5e-3 and 12 epochs (tasks binary + regression), PerTaskLGBM, and a plain PyTorch embedding
  MLP trained for 12 epochs at lr 5e-3 in the same process.

    python benchmarks/bench_quality.py [--quick] [--only census|movielens] [--seeds 5]
        [--architectures ple,cgc,omoe] [--no-lgbm]

Prints Markdown tables (copied into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import fetch_census_income, fetch_movielens_100k
from sklearn_mtl.features import FeatureEncoder
from sklearn_mtl.metrics import per_task_scores

try:
    from sklearn_mtl import PerTaskLGBM
except ImportError:  # pragma: no cover - while the baseline is being written
    PerTaskLGBM = None

ARCHITECTURES = ("hard", "soft", "mmoe", "single", "omoe", "cgc", "ple")


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def census(quick: bool, seeds: int, architectures=ARCHITECTURES, lgbm: bool = True):
    X, Y = fetch_census_income(return_X_y=True)
    if quick:
        X, Y = X.iloc[:10_000], Y.iloc[:10_000]
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.3, random_state=0, stratify=Y["income"]
    )
    extra = dict(max_epochs=3) if quick else {}
    factories = {a: (lambda s, a=a: MultiTaskRecommender(a, random_state=s, **extra))
                 for a in architectures}
    if PerTaskLGBM is not None and lgbm:
        lgbm_extra = {"n_estimators": 50} if quick else {}
        factories["PerTaskLGBM"] = lambda s: PerTaskLGBM(random_state=s, **lgbm_extra)
    rows = []
    for name, make in factories.items():
        income, married, epochs, seconds = [], [], [], []
        for seed in range(seeds):
            model = make(seed)
            start = time.perf_counter()
            model.fit(X_train, Y_train)
            seconds.append(time.perf_counter() - start)
            s = per_task_scores(model, X_test, Y_test)
            income.append(s["income"])
            married.append(s["never_married"])
            epochs.append(getattr(model, "n_epochs_", 0))
            print(f"census {name} seed {seed}: {s} in {seconds[-1]:.1f} s", flush=True)
        rows.append((name, _spread(income), _spread(married), f"{np.mean(epochs):.0f}" if epochs[0] else "",
                     f"{np.mean(seconds):.0f}"))
    print(f"\nCensus-Income, {len(X_train)} train / {len(X_test)} test rows, ROC AUC on the test part, "
          f"mean (min-max) over {seeds} seed(s)\n")
    print(table(rows, ["model", "income AUC", "never-married AUC", "epochs", "fit s"]))


def _spread(values):
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ({min(values):.4f}-{max(values):.4f})"


class PlainEmbeddingMLP(nn.Module):
    """What a user would write by hand: embeddings + MLP(64, 32) + one linear head per task."""

    def __init__(self, n_numeric, cardinalities, dims):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(k, d) for k, d in zip(cardinalities, dims))
        d_in = n_numeric + sum(dims)
        self.body = nn.Sequential(nn.Linear(d_in, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.liked = nn.Linear(32, 1)
        self.rating = nn.Linear(32, 1)

    def forward(self, x_num, x_cat):
        h = torch.cat([x_num] + [e(x_cat[:, j]) for j, e in enumerate(self.embeddings)], dim=1)
        h = self.body(h)
        return self.liked(h)[:, 0], self.rating(h)[:, 0]


def plain_movielens(X_train, Y_train, X_test, epochs=12, lr=5e-3, seed=0):
    torch.manual_seed(seed)
    enc = FeatureEncoder().fit(X_train)
    num, cat = (torch.as_tensor(a) for a in enc.transform(X_train))
    liked = torch.as_tensor(Y_train["liked"].to_numpy(np.float32))
    rating = Y_train["rating"].to_numpy(np.float32)
    mu, sd = rating.mean(), rating.std()
    rating = torch.as_tensor((rating - mu) / sd)
    model = PlainEmbeddingMLP(num.shape[1], enc.cardinalities_, enc.embedding_dims_)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(num))
        for i in range(0, len(num), 1024):
            idx = order[i : i + 1024]
            p_liked, p_rating = model(num[idx], cat[idx])
            loss = nn.functional.binary_cross_entropy_with_logits(p_liked, liked[idx])
            loss = loss + nn.functional.mse_loss(p_rating, rating[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        num, cat = (torch.as_tensor(a) for a in enc.transform(X_test))
        p_liked, p_rating = model(num, cat)
    return torch.sigmoid(p_liked).numpy(), p_rating.numpy() * sd + mu


def movielens(quick: bool):
    from sklearn.metrics import roc_auc_score, root_mean_squared_error

    X, Y = fetch_movielens_100k(return_X_y=True)
    if quick:
        X, Y = X.iloc[:20_000], Y.iloc[:20_000]
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.2, random_state=0)
    epochs = 3 if quick else 12
    rows = []
    for arch in ("hard", "mmoe"):
        model = MultiTaskRecommender(
            arch, tasks=["binary", "regression"], lr=5e-3, max_epochs=epochs, random_state=0
        )
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        s = per_task_scores(model, X_test, Y_test, metric={"rating": "rmse"})
        rows.append((arch, s["liked"], s["rating"], model.n_epochs_, f"{time.perf_counter() - start:.0f}"))
        print(f"movielens {arch}: {s}", flush=True)
    if PerTaskLGBM is not None:
        start = time.perf_counter()
        lgbm = PerTaskLGBM(tasks=["binary", "regression"], random_state=0).fit(X_train, Y_train)
        s = per_task_scores(lgbm, X_test, Y_test, metric={"rating": "rmse"})
        rows.append(("PerTaskLGBM", s["liked"], s["rating"], "", f"{time.perf_counter() - start:.0f}"))
        print(f"movielens PerTaskLGBM: {s}", flush=True)
    start = time.perf_counter()
    p_liked, p_rating = plain_movielens(X_train, Y_train, X_test, epochs=epochs)
    auc = roc_auc_score(Y_test["liked"], p_liked)
    rmse = root_mean_squared_error(Y_test["rating"], p_rating)
    rows.append(("plain PyTorch embedding MLP", auc, rmse, epochs, f"{time.perf_counter() - start:.0f}"))
    print(f"\nMovieLens 100K, {len(X_train)} train / {len(X_test)} test ratings\n")
    print(table(rows, ["model", "liked AUC", "rating RMSE", "epochs", "fit s"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small slices and few epochs (CI)")
    parser.add_argument("--only", choices=["census", "movielens"])
    parser.add_argument("--seeds", type=int, default=1, help="repeat the census fits over seeds")
    parser.add_argument("--architectures", default=",".join(ARCHITECTURES),
                        help="census: comma-separated architectures (default: all)")
    parser.add_argument("--no-lgbm", action="store_true", help="census: skip PerTaskLGBM")
    args = parser.parse_args(argv)
    if args.only in (None, "census"):
        census(args.quick, args.seeds, tuple(args.architectures.split(",")), not args.no_lgbm)
    if args.only in (None, "movielens"):
        movielens(args.quick)


if __name__ == "__main__":
    main()
