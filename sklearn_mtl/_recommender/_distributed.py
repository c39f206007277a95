"""``MultiTaskRecommender(devices=N)``: one model trained data-parallel by N processes.

``fit`` encodes the data once, then either spawns N worker processes that rendezvous on a free
loopback port (gloo for CPU processes, NCCL for one GPU each) or, inside a launch that has
already started them (``torchrun``), trains as this process's rank. Each rank wraps the same
initial module in ``torch.nn.parallel.DistributedDataParallel``, reads its own shard of every
epoch's shuffled rows (so the effective batch is ``devices * batch_size``) and validates on
the whole validation split, so that every rank records the same validation history and
early stopping stops every rank at the same epoch; the training loss is averaged over the
ranks before any callback reads it (skorch's ``DistributedHistory`` serves the same end).
Each rank trains with the fit kernel (:func:`._kernel.fit_net`, handed to it in the payload),
given a :class:`RankPlan`: its shard's loader, the averaging callback, the DDP wrapper and its
seed. Rank 0 hands back its module, loss and history, from which the calling process rebuilds
an ordinary fitted net (:func:`._assembly.restore_net`).

When a rank raises alone (a diverging loss on its shard, a user callback), the others are left
waiting in a collective: the calling process stops them and raises that rank's exception
(:mod:`._spawn`). A collective that waits longer than ``_TIMEOUT`` fails with a message that
says so, a backstop for a rank that stops answering without an error.
"""

from __future__ import annotations

import datetime
import os
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from skorch.callbacks import Callback
from torch.nn.parallel import DistributedDataParallel

from ._skorch import IdDropoutLoader
from ._spawn import run_ranks

# A rank stuck waiting for the others in a collective fails after this long instead of hanging
# (a backstop: a rank that raises is seen by the calling process at once).
_TIMEOUT = datetime.timedelta(minutes=5)

# What needs one backward pass per task (or a lookahead step) on one process's batch.
_PER_TASK = {"gradient_method": ("pcgrad", "cagrad"), "task_weights": ("gradnorm",)}


def check_devices(spec, device: str) -> int:
    """The number of processes ``spec.devices`` asks for, checked against this machine and the
    other parameters; 1 for ``devices=None``."""
    devices = spec.devices
    if devices is None:
        return 1
    devices = int(devices)
    if device.startswith("cuda"):
        available = torch.cuda.device_count()
        if devices > available:
            raise ValueError(
                f"devices={devices} asks for {devices} CUDA devices but this machine has "
                f"{available}; use devices={available} or fewer."
            )
    if devices == 1:
        return 1
    for name, values in _PER_TASK.items():
        value = getattr(spec, name)
        if isinstance(value, str) and value in values:
            raise ValueError(
                f"{name}={value!r} is not supported with devices={devices}: it needs each task's "
                "gradient on the whole batch, which data-parallel ranks never hold (each has its "
                "shard); use devices=None, or another method."
            )
    for name in ("track_gradient_conflict", "track_task_affinity"):
        if getattr(spec, name):
            raise ValueError(
                f"{name}=True is not supported with devices={devices}: it measures per-task "
                "gradients on one process's batch; use devices=None."
            )
    return devices


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _DDP(DistributedDataParallel):
    """DDP whose wrapped module's own methods (``sharing_penalty``, ``training_penalty``,
    ``shared_parameters``) stay reachable, as the net and the loss call them."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


class ShardedLoader(IdDropoutLoader):
    """Rank ``rank``'s shard of every epoch: the same permutation on every rank (a new one each
    epoch), cut to a multiple of the ranks so that each makes the same number of steps."""

    def __init__(self, dataset, batch_size=1024, shuffle=False, seed=None, id_dropout=0.0,
                 rank=0, world=1, epoch_counter=None):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, seed=None,
                         id_dropout=id_dropout)
        self.rank, self.world, self.seed = rank, world, seed
        self.epoch_counter = epoch_counter if epoch_counter is not None else [0]
        # id dropout differs by rank, as each rank's rows do.
        self.generator = torch.Generator()
        self.generator.manual_seed((0 if seed is None else int(seed)) * 1000 + rank)

    def __len__(self) -> int:
        per_rank = len(self.dataset) // self.world
        return (per_rank + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.dataset)
        order_rng = torch.Generator()
        order_rng.manual_seed(((0 if self.seed is None else int(self.seed)) + 7919
                               * self.epoch_counter[0]) % 2**63)
        self.epoch_counter[0] += 1
        order = torch.randperm(n, generator=order_rng)
        per_rank = n // self.world
        shard = order[self.rank * per_rank : (self.rank + 1) * per_rank]
        shard = shard.to(self.dataset.x_num.device)
        for start in range(0, per_rank, self.batch_size):
            X, y = self.dataset.take(shard[start : start + self.batch_size])
            x_cat = X["x_cat"]
            if self.id_dropout and x_cat.numel():
                drop = torch.rand(x_cat.shape, generator=self.generator) < self.id_dropout
                X["x_cat"] = x_cat.masked_fill(drop.to(x_cat.device), 0)
            yield X, y


class AverageOverRanks(Callback):
    """Average the epoch's training loss over the ranks (weighted by their rows) before the
    other callbacks read it, and the loss's own learnable weights' gradients (uncertainty
    weighting lives in the criterion, outside the DDP module) after every backward pass."""

    def on_grad_computed(self, net, named_parameters, **kwargs):
        world = dist.get_world_size()
        for p in net.criterion_.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= world

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        # Validation runs on every rank over the same rows; rank 0's figures are the epoch's,
        # so a last-digit difference between ranks cannot make early stopping disagree.
        shared = [{k: v for k, v in row.items()
                   if k not in ("batches", "epoch", "dur", "train_loss", "train_loss_best")}]
        dist.broadcast_object_list(shared, src=0)
        for key, value in shared[0].items():
            net.history.record(key, value)
        batches = [b for b in row["batches"] if b.get("train_batch_size")]
        rows = float(sum(b["train_batch_size"] for b in batches))
        total = float(sum(b["train_loss"] * b["train_batch_size"] for b in batches))
        both = torch.tensor([total, rows], dtype=torch.float64)
        dist.all_reduce(both)
        if both[1] > 0:
            net.history.record("train_loss", float(both[0] / both[1]))


def _train_rank(rank: int, world: int, payload_path: str, port: int | None, result_path: str):
    """One rank's training (a spawned process, or this one inside a torchrun launch)."""
    try:
        payload = torch.load(payload_path, weights_only=False)
    except (AttributeError, ModuleNotFoundError) as exc:
        # pickle looks the caller's script classes up in this process's __main__: the entry
        # module for a rank (its repr in the message), __main__ under a launcher.
        if "__main__" not in str(exc) and repr(sys.modules["__main__"]) not in str(exc):
            raise
        # The ranks import the library, never the caller's script (see _spawn.run_ranks).
        raise TypeError(
            f"devices={world}: the ranks cannot rebuild the model because it holds an object "
            "whose class is defined in your script (__main__), which the ranks do not import; "
            f"define it in a module of its own and import it from there ({exc})."
        ) from exc
    device = payload["device"]
    timeout = payload["timeout"]
    started_here = not dist.is_initialized()
    if device.startswith("cuda"):
        device = f"cuda:{rank}"
        torch.cuda.set_device(rank)
    elif started_here:
        # One process per core share: torch's default (all cores) in every rank oversubscribes.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if started_here:
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if port is not None:
            os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                    world_size=world, timeout=timeout)
        else:
            dist.init_process_group(backend, timeout=timeout)
    try:
        net = _rank_net(payload, rank, world, device)
        _check_ranks_agree(net, world)
        if rank == 0:
            module = net.module_.module if isinstance(net.module_, _DDP) else net.module_
            torch.save({"module": {k: v.cpu() for k, v in module.state_dict().items()},
                        "criterion": {k: v.cpu() for k, v in net.criterion_.state_dict().items()},
                        "history": list(net.history),
                        # layers a fine-tuning froze (init=, freeze=) stay frozen when rebuilt
                        "frozen": [n for n, p in module.named_parameters() if not p.requires_grad]},
                       result_path)
    except RuntimeError as exc:
        # (A launcher's process group has its own timeout, and the launcher reports.)
        if not (started_here and "Timed out" in str(exc)):
            raise
        raise RuntimeError(
            f"Data-parallel rank {rank} of {world} waited {timeout.total_seconds():g} s for the "
            "other ranks in a collective operation and gave up: another rank stopped answering "
            f"without an error (stuck, or far slower than this one). torch.distributed said: {exc}"
        ) from exc
    if started_here:
        dist.destroy_process_group()


def _check_ranks_agree(net, world: int) -> None:
    """Raise unless every rank ran the same epochs and holds the same weights (cheap: one
    all-gather of a few numbers at the end of training)."""
    module = net.module_.module if isinstance(net.module_, _DDP) else net.module_
    params = [*module.parameters(), *net.criterion_.parameters()]
    mine = torch.tensor([float(len(net.history)),
                         float(sum(p.detach().double().sum().cpu() for p in params))],
                        dtype=torch.float64)
    every = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(every, mine)
    epochs = [int(t[0]) for t in every]
    sums = [float(t[1]) for t in every]
    if len(set(epochs)) > 1 or max(sums) - min(sums) > 1e-6 * max(1.0, abs(sums[0])):
        raise RuntimeError(
            f"The data-parallel ranks disagree at the end of training (epochs {epochs}, weight "
            f"sums {sums}); please report this with the parameters used."
        )


class RankPlan:
    """What a data-parallel rank changes in the fit kernel (:func:`._kernel.fit_net`): its
    shard's loader, the callback that averages over the ranks (after the net's scoring and the
    user's callbacks, before early stopping reads the row), the DDP wrapper and a dropout seed
    of its own. ``data_seed`` seeds the shards' permutations when ``random_state`` is None:
    the ranks must draw the same ones."""

    def __init__(self, rank: int, world: int, data_seed: int, device: str):
        self.rank, self.world, self.data_seed, self.device = rank, world, data_seed, device
        self.callback = ("average_over_ranks", AverageOverRanks())
        self.train_seed = data_seed + 1 + rank

    def configure(self, net, seeded: bool) -> None:
        net.iterator_train = ShardedLoader
        net.iterator_train__rank, net.iterator_train__world = self.rank, self.world
        net.iterator_train__epoch_counter = [0]
        if not seeded:
            net.iterator_train__seed = self.data_seed

    def wrap(self, net) -> None:
        """The initialized net's module in DDP (the same initial weights on every rank), and
        an optimizer over it; training with ``partial_fit`` keeps both."""
        cuda = self.device.startswith("cuda")
        net.module_ = _DDP(net.module_, device_ids=[self.rank] if cuda else None)
        net.initialize_optimizer()


class RankBuilder:
    """How a rank builds its net: ``build`` itself, or, for an estimator's bound ``_make_net``,
    the same method of an unfitted twin (the estimator's class and parameters). The payload
    then carries no fitted state of the caller: a refit would otherwise send every rank the
    previous fit's net along with the method's estimator."""

    def __init__(self, build):
        owner = getattr(build, "__self__", None)
        if owner is not None and hasattr(owner, "get_params"):
            self.build, self.cls = build.__name__, type(owner)
            self.params = owner.get_params(deep=False)
        else:
            self.build, self.cls, self.params = build, None, None

    def __call__(self, *args, **kwargs):
        if self.cls is None:
            return self.build(*args, **kwargs)
        return getattr(self.cls(**self.params), self.build)(*args, **kwargs)


def _rank_net(payload, rank, world, device):
    valid = payload["valid"]
    batches = payload["batches_type"](_on_device(payload["data"], device),
                                      None if valid is None else _on_device(valid, device))
    return payload["kernel"](payload["build"], payload["spec"], payload["shape"], batches,
                             batch_size=payload["batch_size"], seeds=payload["seeds"],
                             device=device, rank=RankPlan(rank, world, payload["data_seed"],
                                                          device))


def fit_distributed(kernel, build, spec, shape, batches, world: int, *, batch_size: int,
                    seeds, data_seed: int):
    """Train on ``world`` ranks, each with ``kernel`` (:func:`._kernel.fit_net`); the learned
    ``{"module", "criterion", "history"}`` of rank 0."""
    device = spec.device
    with tempfile.TemporaryDirectory(prefix="sklearn_mtl_ddp_") as tmp:
        payload_path, result_path = str(Path(tmp) / "payload.pt"), str(Path(tmp) / "result.pt")
        valid = batches.valid
        torch.save({"kernel": kernel, "build": RankBuilder(build), "spec": spec, "shape": shape,
                    "batches_type": type(batches), "device": device,
                    "data": _on_device(batches.train, "cpu"),
                    "valid": None if valid is None else _on_device(valid, "cpu"),
                    "batch_size": batch_size, "seeds": seeds, "data_seed": data_seed,
                    "timeout": _TIMEOUT}, payload_path)
        if dist.is_initialized():
            # Inside a launch (torchrun): this process is one of the ranks.
            if dist.get_world_size() != world:
                raise ValueError(
                    f"devices={world} but this process is one of {dist.get_world_size()} ranks "
                    "started by the launcher; set devices to the launch's world size."
                )
            rank = dist.get_rank()
            _train_rank(rank, world, payload_path, None, result_path)
            # Every rank returns rank 0's model: it sends the file's bytes to the others.
            state = [torch.load(result_path, weights_only=False) if rank == 0 else None]
            dist.broadcast_object_list(state, src=0)
            return state[0]
        run_ranks(_train_rank, world, (payload_path, _free_port(), result_path), workdir=tmp)
        return torch.load(result_path, weights_only=False)


def _on_device(data, device):
    """A copy of a MultiTaskDataset whose tensors are on ``device`` (the same ones if there)."""
    out = type(data).__new__(type(data))
    out.__dict__.update({k: v.to(device) if torch.is_tensor(v) else v
                         for k, v in vars(data).items()})
    return out
