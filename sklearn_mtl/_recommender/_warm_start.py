"""Fine-tuning: a ``MultiTaskRecommender`` that starts from a fitted source model (``init=``).

Plain functions of the spec, the source model, the target's fitted encoders and the target's
fresh module: every entry of a fit calls :func:`start_features` once the target's encoders are
fitted, and the fit kernel calls :func:`carry_parameters` once it has built the net. What
carries over:

* Categories: the source's vocabularies come first, in the source's order, so an id or
  category the source knew keeps its embedding row; categories that only the target has are
  appended and start from the source's *unknown* row (index 0, the vector ``id_dropout``
  trained for unseen ids). Embedding widths are the source's.
* Numbers: the source's standardisation (means, scales, medians, missing indicators) is kept,
  so the carried first layer reads its inputs on the scale it was trained on; a target whose
  numbers are shifted reaches the net shifted, as it would reach the source model.
* Tasks, matched by name: a target task with the source's kind keeps its tower and head (and
  its gate, experts or bottom where the architecture has per-task ones); a new task, or one
  of another kind, gets fresh ones. Source tasks the target lacks are dropped. A
  classification task with other classes than the source's is refused (rename it for a fresh
  head). A regression task's outputs are read in the target's scaling.
* Everything else (shared bottom, experts, gates of carried tasks, AITM's transfers) is
  copied as it is; the architecture and every layer width must be the source's.

``freeze`` keeps carried parameters fixed: ``"embeddings"`` the embedding tables,
``"bottom"`` everything below the towers that came from the source (the input layer, shared
bottom, experts and the gates of carried tasks, per-task bottoms of carried tasks); what is
fresh always trains.
"""

from __future__ import annotations

import copy
import hashlib
import re

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from .._architectures import architecture_of

FREEZE_OPTIONS = (None, "embeddings", "bottom")

# Module lists indexed by task, and by link of a chain (AITM, a cascade's imputation towers).
_TASK_LISTS = {"heads", "columns", "bottoms", "towers", "task_experts", "task_gates"}
_LINK_LISTS = {"transfers", "ait", "imputation"}
# Parameters that are part of a task's head, never frozen by freeze="bottom".
_HEAD = re.compile(r"(^|\.)(heads\.\d+|columns\.\d+\.head|imputation)\.")
_EMBEDDING = re.compile(r"(^|\.)embeddings\.(\d+)\.weight$")


def source_model(init):
    """The fitted ``MultiTaskRecommender`` that ``init`` holds (itself, or the estimator of a
    ``sklearn.frozen.FrozenEstimator``); ValueError naming ``init`` otherwise."""
    model = getattr(init, "estimator", init) if type(init).__name__ == "FrozenEstimator" else init
    # By name: the estimator's module imports this one.
    if not any(c.__name__ == "MultiTaskRecommender" for c in type(model).__mro__):
        raise ValueError(
            f"init={init!r} is not valid: use None or a fitted MultiTaskRecommender (wrapped "
            "in sklearn.frozen.FrozenEstimator to keep it fitted through clone)."
        )
    try:
        check_is_fitted(model)
    except Exception:
        raise ValueError(
            "init holds a MultiTaskRecommender that is not fitted. clone() (used by "
            "cross_validate, GridSearchCV and compare_transfer) returns an unfitted copy of an "
            "estimator parameter: pass init=sklearn.frozen.FrozenEstimator(source), which clone "
            "keeps as it is."
        ) from None
    return model


def check_source(spec):
    """The source model of ``spec.init`` (None without one), checked against the spec's layer
    shapes and ``freeze``; ValueError naming the first parameter that differs."""
    if spec.freeze not in FREEZE_OPTIONS:
        raise ValueError(f"freeze={spec.freeze!r} is not valid: use one of {FREEZE_OPTIONS}.")
    if spec.init is None:
        if spec.freeze is not None:
            raise ValueError(
                f"freeze={spec.freeze!r} needs a source model to freeze layers of: set init= "
                "to a fitted MultiTaskRecommender, or freeze=None."
            )
        return None
    source = source_model(spec.init)
    if source.architecture != spec.architecture:
        raise ValueError(
            f"init is a {source.architecture!r} model and this one is {spec.architecture!r}: "
            "fine-tuning carries every layer, so the architecture must be the source's "
            f"(architecture={source.architecture!r}), or train from scratch with init=None."
        )
    theirs = source._check_params()
    # The layer shapes a source must share with its target: the widths, and the counts among
    # the net's own parameters in the registry (integers; a float such as AITM's
    # calibration_strength is a setting, free to differ).
    counts = [name for name in architecture_of(spec.architecture).net_params
              if isinstance(theirs[name], (int, np.integer))]
    for name in ("hidden_units", "tower_units", *counts):
        mine = getattr(spec, name)
        if tuple(np.atleast_1d(theirs[name])) != tuple(np.atleast_1d(mine)):
            raise ValueError(
                f"init has {name}={theirs[name]!r} and this model {name}={mine!r}: "
                f"fine-tuning carries every layer, so its shape must be the source's (set "
                f"{name}={theirs[name]!r}), or train from scratch with init=None."
            )
    return source


def start_features(spec, features, targets):
    """``features`` as the fit reads ``X``: without ``init`` the target's own; with one, the
    source's encoder extended by the target's new categories (:func:`carried_features`).
    Checks ``init`` and ``freeze`` first, and refuses a classification task whose classes
    differ from the same-named source task's."""
    source = check_source(spec)
    if source is None:
        return features
    for name, classes in zip(targets.names_, targets.classes_):
        if name not in source.task_names_ or classes is None:
            continue
        theirs = source.classes_[source.task_names_.index(name)]
        if theirs is not None and not np.array_equal(np.asarray(theirs, dtype=object),
                                                     np.asarray(classes, dtype=object)):
            raise ValueError(
                f"Task {name!r} has the classes {list(classes)[:10]} in y and "
                f"{list(theirs)[:10]} in init: its head cannot carry over. Map the labels to "
                "the source's classes, or rename the task to train a fresh head."
            )
    return carried_features(source, features)


def carried_features(source, features):
    """The target's feature encoder for fine-tuning from ``source``: the source's encoder with
    the categories only the target's fitted ``features`` has appended to each vocabulary.

    The columns (which are embedded, which are numbers) must be the source's.
    """
    theirs = source._features
    for what in ("categorical_columns_", "numeric_columns_"):
        mine, src = list(getattr(features, what)), list(getattr(theirs, what))
        if mine != src:
            kind = "embedded" if what.startswith("categorical") else "numeric"
            raise ValueError(
                f"init was fitted with the {kind} columns {src[:10]} and X has {mine[:10]}: "
                "fine-tuning needs the source's columns, read the same way."
            )
    carried = copy.deepcopy(theirs)
    carried.min_frequency = features.min_frequency
    vocabularies = []
    for known, seen in zip(theirs.vocabularies_, features.vocabularies_):
        new = seen[~seen.isin(known)] if len(known) else seen
        vocabularies.append(pd.Index(list(known) + list(new), dtype=object))
    carried.vocabularies_ = vocabularies
    carried.cardinalities_ = [len(v) + 1 for v in vocabularies]
    return carried


def _task_map(source, shape) -> list:
    """Per target task, the index of the source task it carries (None: fresh)."""
    out = []
    n_outputs = source.target_encoder_.n_outputs_
    for name, kind, width in zip(shape.names, shape.kinds, shape.n_outputs):
        k = source.task_names_.index(name) if name in source.task_names_ else None
        if k is not None and (kind != source.tasks_[k] or width != n_outputs[k]):
            k = None
        out.append(k)
    return out


def _link_map(source, links, task_map) -> list:
    """Per target link (child, parent), the source link between the same two tasks, or None."""
    theirs = [(source.task_names_.index(c), source.task_names_.index(p))
              for c, p in _source_links(source)]
    out = []
    for child, parent in links:
        pair = (task_map[child], task_map[parent])
        out.append(theirs.index(pair) if None not in pair and pair in theirs else None)
    return out


def _source_links(source) -> list:
    module = source.net_.module_
    links = getattr(module, "links", None)
    if links is None:
        return []
    return [(source.task_names_[c], source.task_names_[p]) for c, p in links]


def _source_name(name: str, task_map, link_map, prefix: tuple[str, str]):
    """The source parameter that target parameter ``name`` starts from, or None (fresh)."""
    mine, theirs = prefix
    if mine and name.startswith(mine):
        name = name[len(mine):]
    elif mine:  # a cascade's own part (imputation towers)
        theirs = ""
    parts = name.split(".")
    for i in range(len(parts) - 1):
        if parts[i] in _TASK_LISTS | _LINK_LISTS and parts[i + 1].isdigit():
            table = task_map if parts[i] in _TASK_LISTS else link_map
            k = table[int(parts[i + 1])]
            if k is None:
                return None
            parts[i + 1] = str(k)
    return theirs + ".".join(parts)


def _blocks(tensor, source_tensor, rows_of_target: list, block: int) -> bool:
    """Copy row blocks of ``source_tensor`` into ``tensor`` (block ``i`` of the target from
    block ``rows_of_target[i]``; None keeps it); whether every block was copied."""
    complete = True
    for i, j in enumerate(rows_of_target):
        if j is None:
            complete = False
            continue
        tensor[i * block:(i + 1) * block] = source_tensor[j * block:(j + 1) * block]
    return complete


@torch.no_grad()
def carry_parameters(module, source, shape, freeze=None) -> list[str]:
    """Copy ``source``'s parameters into the fresh target ``module`` built for ``shape`` (a
    :class:`~._spec.NetShape`; see the module doc) and freeze what ``freeze`` names; returns
    the names of the frozen parameters."""
    src_module = source.net_.module_
    src = {k: v.detach().to("cpu") for k, v in src_module.state_dict().items()}
    task_map = _task_map(source, shape)
    link_map = _link_map(source, shape.links, task_map)
    prefix = ("module." if hasattr(module, "module") else "",
              "module." if hasattr(src_module, "module") else "")
    inner = getattr(module, "module", module)
    carried = set()
    for name, param in module.named_parameters():
        src_name = _source_name(name, task_map, link_map, prefix)
        if src_name is None or src_name not in src:
            continue
        value, target = src[src_name], param.data
        short = name[len(prefix[0]):] if prefix[0] and name.startswith(prefix[0]) else name
        embedding = _EMBEDDING.search(name)
        complete = True
        if embedding is not None:
            # Rows past the source's vocabulary are categories new to the target: they start
            # from the source's unknown row (index 0).
            rows = torch.arange(target.shape[0])
            rows[rows >= value.shape[0]] = 0
            target.copy_(value[rows].to(target))
        elif short in ("gate.weight", "gate.bias") and type(inner).__name__ == "MMoENet":
            # One gate per task, stacked: n_tasks blocks of n_experts rows.
            complete = _blocks(target, value.to(target), task_map, inner.n_experts)
        elif short.endswith(("shared_gate.weight", "shared_gate.bias")):
            # PLE's shared gate: a block of rows per task's own experts, the shared ones last.
            n_own, n_shared = inner.levels[0].n_task, inner.levels[0].n_shared
            complete = _blocks(target, value.to(target), task_map, n_own)
            target[len(target) - n_shared:] = value[len(value) - n_shared:].to(target)
        elif value.shape != target.shape:
            raise ValueError(
                f"init: parameter {name!r} has shape {tuple(value.shape)} in the source model "
                f"and {tuple(target.shape)} here; fine-tuning needs the source's layer shapes."
            )
        else:
            target.copy_(value.to(target))
        if complete:
            carried.add(name)
    frozen = frozen_names(module, carried, freeze)
    for name, param in module.named_parameters():
        if name in frozen:
            param.requires_grad_(False)
    return sorted(frozen)


def frozen_names(module, carried: set, freeze) -> set:
    """The carried parameters that ``freeze`` keeps fixed."""
    if freeze is None:
        return set()
    if freeze == "embeddings":
        return {n for n in carried if _EMBEDDING.search(n)}
    return {n for n in carried if not _HEAD.search(n)}


def freeze_parameters(module, names) -> None:
    """Set ``requires_grad=False`` on the parameters of ``module`` named in ``names``."""
    names = set(names)
    for name, param in module.named_parameters():
        if name in names:
            param.requires_grad_(False)


def fitted_digest(module, task_names, vocabularies) -> str:
    """SHA-256 (16 hex digits) of a fitted model's weights, task names and vocabularies."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(repr(list(task_names)).encode())
    for vocabulary in vocabularies:
        digest.update(repr(list(vocabulary)).encode())
    return digest.hexdigest()[:16]
