"""MultiTaskRecommender(devices=N) (sklearn_mtl._recommender._distributed): data-parallel fits on
CPU processes over gloo on loopback, as a user runs them, and the inputs that are refused."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender, load
from sklearn_mtl._recommender import _distributed, _spawn
from sklearn_mtl._recommender._distributed import check_devices
from sklearn_mtl.sources import ParquetSource

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason="this torch has no torch.distributed")

SMALL = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, batch_size=128, lr=1e-2,
             device="cpu", random_state=0)


class FailOnOneRank(Callback):
    """A user callback that breaks rank ``rank`` alone at the end of epoch 2, as a callback
    with a bug or a loss that diverges on one rank's shard does: ``raise`` an error, ``kill``
    the process without one, or ``hang`` past the collectives' timeout."""

    def __init__(self, rank=1, how="raise"):
        self.rank, self.how = rank, how

    def on_epoch_end(self, net, **kwargs):
        if dist.get_rank() != self.rank or len(net.history) != 2:
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "hang":
            time.sleep(600)
        raise ValueError(f"rank {self.rank} refuses epoch 2")


def _children() -> list[int]:
    """Processes whose parent is this one (from /proc), but multiprocessing's resource tracker,
    which the first spawned process starts and which lives as long as this one."""
    from multiprocessing import resource_tracker

    me, found = os.getpid(), []
    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # "pid (name) state ppid ...": the name may hold spaces, not ")".
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z" and int(entry) != tracker:
                found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def split(census_small):
    X, Y = census_small
    return (X.iloc[:3000], Y.iloc[:3000]), (X.iloc[3000:], Y.iloc[3000:])


def test_two_cpu_processes_fit_an_ordinary_model(split, tmp_path):
    (X, Y), (X_test, Y_test) = split
    model = MultiTaskRecommender("mmoe", devices=2, max_epochs=3, **SMALL).fit(X, Y)
    single = MultiTaskRecommender("mmoe", max_epochs=3, **SMALL).fit(X, Y)
    assert model.n_epochs_ == len(model.history_) == 3
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["valid_loss"])
               for h in model.history_)
    assert model.device_ == "cpu" and model.net_.module_.__class__.__name__ == "MMoENet"
    # each rank took its shard: half the steps of one process at the same batch_size
    assert len(model.history_[0]["batches"]) == pytest.approx(
        len(single.history_[0]["batches"]) / 2, abs=2)
    assert model.score(X_test, Y_test) > single.score(X_test, Y_test) - 0.03
    model.save(tmp_path / "m.zip")
    for other in (pickle.loads(pickle.dumps(model)), load(tmp_path / "m.zip")):
        np.testing.assert_allclose(other.predict_proba(X_test)[0], model.predict_proba(X_test)[0],
                                   rtol=1e-6)


def test_the_ranks_build_from_the_class_and_parameters_not_the_fitted_state(split):
    (X, Y), _ = split
    model = MultiTaskRecommender("hard", max_epochs=1, **SMALL).fit(X.iloc[:500], Y.iloc[:500])
    sent = pickle.dumps(_distributed.RankBuilder(model._make_net))
    assert len(sent) < len(pickle.dumps(model)) / 5  # no net_, no encoders
    builder = pickle.loads(sent)
    assert builder.cls is MultiTaskRecommender and builder.build == "_make_net"
    assert builder.params == model.get_params(deep=False)


def test_early_stopping_stops_every_rank_at_the_same_epoch(split):
    (X, Y), _ = split
    # lr this high stops improving within a few epochs (without diverging); the ranks check at
    # the end that they ran the same epochs and hold the same weights (RuntimeError otherwise),
    # and a rank left waiting in a collective would fail the fit, not return.
    model = MultiTaskRecommender("hard", devices=2, max_epochs=40, patience=1, lr=0.05,
                                 **{k: v for k, v in SMALL.items() if k != "lr"}).fit(X, Y)
    assert model.n_epochs_ < 40
    best = int(np.argmin([h["valid_loss"] for h in model.history_]))
    assert model.n_epochs_ == best + 2  # patience=1: one epoch past the best


def test_uncertainty_weights_are_averaged_over_the_ranks(split):
    (X, Y), (X_test, Y_test) = split
    params = dict(max_epochs=3, task_weights="uncertainty", **SMALL)
    model = MultiTaskRecommender("hard", devices=2, **params).fit(X, Y)
    single = MultiTaskRecommender("hard", **params).fit(X, Y)
    assert not np.allclose(model.task_weights_, 1.0)  # learned (and the ranks agree on them)
    assert model.score(X_test, Y_test) > single.score(X_test, Y_test) - 0.05


def test_refused_inputs_name_the_parameter(split, tmp_path, monkeypatch):
    (X, Y), _ = split
    with pytest.raises(ValueError, match=r"devices=0 is not valid"):
        MultiTaskRecommender(devices=0).fit(X, Y)
    with pytest.raises(ValueError, match=r"devices=1.5 is not valid"):
        MultiTaskRecommender(devices=1.5).fit(X, Y)
    for params in ({"gradient_method": "pcgrad"}, {"gradient_method": "cagrad"},
                   {"task_weights": "gradnorm"}):
        name, value = next(iter(params.items()))
        with pytest.raises(ValueError, match=rf"{name}='{value}' is not supported with devices=2"):
            MultiTaskRecommender(devices=2, **params, **SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="track_task_affinity=True is not supported"):
        MultiTaskRecommender(devices=2, track_task_affinity=True, **SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="devices=2 is not supported by partial_fit"):
        MultiTaskRecommender(devices=2, **SMALL).partial_fit(X, Y)
    pytest.importorskip("pyarrow")
    X.join(Y).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match="devices=2 is not supported when X is a ParquetSource"):
        MultiTaskRecommender(devices=2, **SMALL).fit(ParquetSource(tmp_path, list(Y.columns)))
    # devices=3 on a machine with 2 GPUs (this one may have none: the count is what is read)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match="devices=3 asks for 3 CUDA devices but this machine "
                                         "has 2"):
        check_devices(MultiTaskRecommender(devices=3), "cuda")


@pytest.mark.slow  # a torchrun launch of two processes: 12 s
def test_inside_a_torchrun_launch_every_rank_returns_the_same_model(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, torch.distributed as dist
        from sklearn_mtl import MultiTaskRecommender
        dist.init_process_group("gloo")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(2000, 5))
        Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(int)
        model = MultiTaskRecommender("hard", devices=2, max_epochs=3, batch_size=64,
                                     device="cpu", random_state=0).fit(X, Y)
        line = f"rank {dist.get_rank()}: {model.n_epochs_} {model.predict_proba(X)[0][:3, 1].sum():.6f}"
        with open(f"rank{dist.get_rank()}.txt", "w") as out:  # stdout lines of two ranks interleave
            out.write(line)
        dist.destroy_process_group()
    """))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          "--master_addr=127.0.0.1", f"--master_port={port}", str(script)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "GLOO_SOCKET_IFNAME": "lo"})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = sorted((tmp_path / f"rank{rank}.txt").read_text() for rank in range(2))
    assert len(lines) == 2 and lines[0].split(": ")[1] == lines[1].split(": ")[1]


def test_unseeded_ranks_still_agree():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1200, 4))
    y = (X[:, 0] > 0).astype(int)
    # random_state=None: the ranks share a permutation seed drawn at random by the caller (they
    # check that they agree at the end of training)
    model = MultiTaskRecommender("hard", devices=2, max_epochs=2, batch_size=64, device="cpu",
                                 validation_fraction=None).fit(X, y)
    assert model.n_epochs_ == 2 and model.score(X, y) > 0.9


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists child processes in /proc")


@needs_proc
@pytest.mark.parametrize("rank", [1, 0])
def test_an_error_on_one_rank_reaches_the_caller_as_it_was_raised(split, rank):
    (X, Y), _ = split
    before = set(_children())
    start = time.monotonic()
    # The other rank goes on into the next epoch's collectives and waits there for this one.
    with pytest.raises(ValueError, match=rf"^rank {rank} refuses epoch 2$") as info:
        MultiTaskRecommender("hard", devices=2, max_epochs=5, callbacks=[FailOnOneRank(rank)],
                             **SMALL).fit(X, Y)
    elapsed = time.monotonic() - start
    # Promptly: a rank left waiting would hang until the collectives' 5-minute timeout.
    assert elapsed < 120, elapsed
    assert f"On data-parallel rank {rank} of 2" in str(info.value.__cause__)
    assert "in on_epoch_end" in str(info.value.__cause__)  # the rank's own traceback
    assert set(_children()) <= before  # every rank ended and was reaped


@needs_proc
def test_a_rank_killed_without_an_error_is_named_with_its_signal(split):
    (X, Y), _ = split
    before = set(_children())
    with pytest.raises(RuntimeError, match=r"rank 1 of 2 ended with signal SIGKILL without "
                                           r"raising an exception"):
        MultiTaskRecommender("hard", devices=2, max_epochs=5,
                             callbacks=[FailOnOneRank(1, "kill")], **SMALL).fit(X, Y)
    assert set(_children()) <= before


@pytest.mark.slow
@needs_proc
def test_a_stuck_rank_fails_the_fit_at_the_collectives_timeout(split, monkeypatch):
    (X, Y), _ = split
    # Long enough for the two processes to meet under load, short for a test.
    monkeypatch.setattr(_distributed, "_TIMEOUT", timedelta(seconds=30))
    before = set(_children())
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"rank 0 of 2 waited 30 s for the other ranks in a "
                                           r"collective operation and gave up"):
        MultiTaskRecommender("hard", devices=2, max_epochs=5,
                             callbacks=[FailOnOneRank(1, "hang")], **SMALL).fit(X, Y)
    assert time.monotonic() - start < 180
    assert set(_children()) <= before  # the sleeping rank was stopped


def test_an_exception_that_cannot_be_rebuilt_is_named_with_its_message(tmp_path):
    class Unbuildable(Exception):  # a local class: not picklable
        pass

    _spawn.write_error(str(tmp_path), 1, Unbuildable("the message"))
    _, _, exc = _spawn.read_error(tmp_path / "rank1.error", world=2)
    assert isinstance(exc, RuntimeError)
    assert str(exc) == ("test_an_exception_that_cannot_be_rebuilt_is_named_with_its_message."
                        "<locals>.Unbuildable on data-parallel rank 1: the message")


@pytest.mark.slow
def test_a_script_without_a_main_guard_fits_and_a_script_class_is_named_first(tmp_path):
    # The ranks never import the caller's script: no `if __name__ == "__main__":` is needed, as
    # for scikit-learn's n_jobs. Only a class defined in the script cannot reach them.
    body = """
        import numpy as np
        from skorch.callbacks import Callback
        from sklearn_mtl import MultiTaskRecommender

        class Mine(Callback):
            pass

        rng = np.random.default_rng(0)
        X = rng.normal(size=(400, 3))
        Y = np.column_stack([X[:, 0] > 0, X[:, 1]])
        model = MultiTaskRecommender("hard", max_epochs=2, devices=2, device="cpu",
                                     random_state=0, callbacks={callbacks})
        print("fitted", model.fit(X, Y).predict(X).shape)
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for callbacks in ("None", "[Mine()]"):
        script = tmp_path / f"train_{len(callbacks)}.py"
        script.write_text(textwrap.dedent(body.replace("{callbacks}", callbacks)))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=240)
        if callbacks == "None":
            assert out.returncode == 0, out.stderr
            assert "fitted (400, 2)" in out.stdout
        else:
            assert out.returncode == 1
            last = out.stderr.strip().splitlines()[-1]
            assert last.startswith("TypeError: devices=2: the ranks cannot rebuild the model "
                                   "because it holds an object whose class is defined in your "
                                   "script (__main__)"), last
