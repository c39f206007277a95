"""Run every benchmark script in turn; ``--quick`` is the small smoke run CI makes once.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_fit_speed.py",
    "bench_predict_memory.py",
    "bench_scale.py",
    "bench_quality.py",
    "bench_baseline_speed.py",
    "bench_lgbm_ids.py",
    "bench_correlation.py",
    "bench_verdict.py",
    "bench_calibration.py",
    "bench_where.py",
    "bench_when.py",
    "bench_sequential.py",
    "bench_fair_verdict.py",
    "bench_tuning.py",
    "bench_balancing.py",
    "bench_fixed_weights.py",
    "bench_finetune.py",
    "bench_hybrid.py",
    "bench_esmm.py",
    "bench_esmm_ablation.py",
    "plot_negative_transfer.py",
    "bench_gpu.py",
]
# Extra arguments of the quick run: the GPU script runs its CPU path where CI has no GPU.
QUICK_ARGS = {"bench_gpu.py": ["--device", "cpu"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    failed = []
    for script in SCRIPTS:
        command = [sys.executable, str(HERE / script)] + (
            ["--quick", *QUICK_ARGS.get(script, [])] if args.quick else [])
        print(f"\n### {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command).returncode != 0:
            failed.append(script)
        print(f"### {script}: {time.perf_counter() - start:.0f} s", flush=True)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
