"""PerTaskLGBM wall time by thread count on MovieLens 100K, idle and beside one busy process.

    python benchmarks/bench_lgbm_threads.py

"Busy" starts one CPU-bound Python process (a spin loop) for the duration of the fit: on a
2-core machine that is another job, a torch fit or a second joblib worker. ``n_jobs=2`` is what
LightGBM's own default (every core) gives on this machine; ``None`` is the package's rule.
"""

from __future__ import annotations

import subprocess
import sys
import time

from sklearn_mtl import PerTaskLGBM
from sklearn_mtl.datasets import fetch_movielens_100k


def main():
    X, Y = fetch_movielens_100k(return_X_y=True)
    X, Y = X.iloc[:66_667], Y.iloc[:66_667]  # one training fold of a 3-fold comparison
    print("| n_jobs | threads used | idle: fit s | beside one busy process: fit s |\n|---|---|---|---|")
    for n_jobs in (None, 2):
        times = []
        for busy in (False, True):
            spinner = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
                       if busy else None)
            try:
                start = time.perf_counter()
                model = PerTaskLGBM(tasks=["binary", "regression"], n_jobs=n_jobs,
                                    random_state=0).fit(X, Y)
                times.append(time.perf_counter() - start)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
        print(f"| {n_jobs} | {model.n_jobs_} | {times[0]:.1f} | {times[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
