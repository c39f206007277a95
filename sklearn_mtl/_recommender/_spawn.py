"""Start the ranks of a data-parallel fit as processes, watch them, and raise what failed.

A rank that raises while the others wait for it in a collective would leave them blocked (until
torch.distributed's timeout) or make them abort, and the calling process would see a dead
process instead of the error. So each spawned rank writes the exception it raises to a file
before anything else and exits at once; the calling process, woken by any rank's exit or
error, stops the others and raises the first exception raised, with its type and message and
the rank's traceback as its cause (as ``concurrent.futures`` re-raises a worker's). A rank that
dies without an exception (killed, a crash in native code) is named with its signal. Ranks end
when the calling process goes away, so none is left behind.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import torch.distributed as dist

# How long a rank asked to stop (SIGTERM) may take before it is killed.
_GRACE_S = 5.0


def run_ranks(fn, world: int, args: tuple, *, workdir: str) -> None:
    """Run ``fn(rank, world, *args)`` in ``world`` new processes and wait for them all.

    On the first failure the other ranks are stopped (and reaped) and the failure is raised
    here. ``workdir`` is an existing private directory; ``fn`` and ``args`` must pickle.

    Each rank is a fresh interpreter running ``python -m sklearn_mtl._recommender._rank_entry``
    on a pickled task file, not a ``multiprocessing`` spawn: spawn re-imports the caller's
    script in every child, so a script without ``if __name__ == "__main__":`` would start the
    fit again there and fail. The ranks never import the caller's script, so, as for scikit-
    learn's ``n_jobs``, the guard is not needed.
    """
    error_dir = Path(workdir) / "errors"
    error_dir.mkdir()
    task = Path(workdir) / "rank_task.pkl"
    with open(task, "wb") as out:
        # sys.path first: the child sets it before unpickling what may live on it.
        pickle.dump(list(sys.path), out)
        pickle.dump({"fn": fn, "world": world, "args": args, "error_dir": str(error_dir),
                     "parent": os.getpid()}, out)
    failed = {}  # rank -> exit code
    processes = []

    def look():
        for rank, p in enumerate(processes):
            if p.poll() not in (None, 0):
                failed.setdefault(rank, p.returncode)

    try:
        for rank in range(world):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "sklearn_mtl._recommender._rank_entry", str(task),
                 str(rank)], stdin=subprocess.DEVNULL))
        while True:
            look()
            if failed or any(error_dir.glob("*.error")):
                break
            if all(p.poll() is not None for p in processes):
                return
            time.sleep(0.05)
        look()  # a rank that died before another's error was written
    finally:
        _stop(processes)
    _raise_first_failure(error_dir, failed, world)


def rank_entry(task: str, rank: int) -> None:
    """The body of a rank process started by :func:`run_ranks` (never returns)."""
    with open(task, "rb") as f:
        sys.path[:] = pickle.load(f)
        try:
            spec = pickle.load(f)
        except Exception as exc:  # the caller's objects cannot be rebuilt here
            write_error(os.path.join(os.path.dirname(task), "errors"), rank, exc)
            os._exit(1)
    _rank_main(spec["fn"], rank, spec["world"], spec["args"], spec["error_dir"], spec["parent"])


def _rank_main(fn, rank: int, world: int, args: tuple, error_dir: str, parent: int):
    """A rank process: ``fn``, its exception written for the caller, no interpreter shutdown."""

    def watch():
        # A caller killed outright (SIGKILL) cannot stop its ranks: they stop themselves.
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="sklearn_mtl-rank-parent", daemon=True).start()
    code = 0
    try:
        fn(rank, world, *args)
    except BaseException as exc:
        write_error(error_dir, rank, exc)
        code = 1
    # os._exit either way. After an error: destroying a process group that a peer is blocked
    # in can block or abort. After success: in the interpreter's shutdown a thread of torch's
    # C++ side can still be running and abort the process ("terminate called without an
    # active exception", SIGABRT) after a fit that succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _is_communication(exc: BaseException) -> bool:
    """Whether ``exc`` is torch.distributed failing to reach another rank (a peer that has gone,
    a timeout): the effect of another rank's failure more often than a cause of its own."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("gloo" in text or "NCCL" in text)


class _RemoteTraceback(Exception):
    """A rank's traceback, shown as the cause of its exception re-raised in the calling process."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def write_error(error_dir: str, rank: int, exc: BaseException) -> None:
    """``exc`` as a record the calling process reads (atomically: never half a file)."""
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)  # an exception whose __init__ cannot take its args
    except Exception:
        blob = None
    record = {"time": time.time(), "rank": rank, "type": type(exc).__qualname__,
              "message": str(exc), "traceback": "".join(traceback.format_exception(exc)),
              "exception": blob,
              "communication": _is_communication(exc) or _is_communication(exc.__cause__)}
    path = Path(error_dir) / f"rank{rank}"
    with open(path.with_suffix(".tmp"), "wb") as out:
        pickle.dump(record, out)
    os.replace(path.with_suffix(".tmp"), path.with_suffix(".error"))


def read_error(path: Path, world: int) -> tuple[float, bool, BaseException]:
    """``(time, communication, exception)`` of a record written by :func:`write_error`."""
    with open(path, "rb") as f:
        record = pickle.load(f)
    exc = None
    if record["exception"] is not None:
        try:
            exc = pickle.loads(record["exception"])
        except Exception:
            exc = None
    if exc is None:
        exc = RuntimeError(f"{record['type']} on data-parallel rank {record['rank']}: "
                           f"{record['message']}")
    exc.__cause__ = _RemoteTraceback(
        f'\n"""\nOn data-parallel rank {record["rank"]} of {world}:\n'
        f'{record["traceback"]}"""'
    )
    return record["time"], record["communication"], exc


def _raise_first_failure(error_dir: Path, failed: dict, world: int):
    """Raise the failure that stopped the ranks: the first exception raised, unless it is a rank
    failing to reach another that died without one (killed, or a crash in native code)."""
    errors = sorted((read_error(path, world) for path in error_dir.glob("*.error")),
                    key=lambda e: e[0])
    silent = sorted(rank for rank in failed if not (error_dir / f"rank{rank}.error").exists())
    if errors and not (silent and errors[0][1]):
        raise errors[0][2]
    rank = silent[0]
    code = failed[rank]
    if code < 0 and -code in signal.valid_signals():
        raise RuntimeError(
            f"Data-parallel rank {rank} of {world} ended with signal {signal.Signals(-code).name} "
            "without raising an exception (killed, e.g. by the out-of-memory killer, or a crash "
            "in native code); the other ranks were stopped."
        )
    raise RuntimeError(
        f"Data-parallel rank {rank} of {world} exited with code {code} before it could report "
        "an exception (its output above says why); the other ranks were stopped."
    )


def _stop(processes) -> None:
    """End the ranks still running: SIGTERM, then SIGKILL after a grace period; reap them all."""
    running = [p for p in processes if p.poll() is None]
    for p in running:
        p.terminate()
    deadline = time.monotonic() + _GRACE_S
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for p in processes:
        p.wait()
