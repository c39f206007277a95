"""The ``cascade`` parameter: its validation and the entire-space label rule.

A cascade ``{child: parent}`` (``{"purchase": "click"}``) says that the child event can only
happen after the parent event on the same row. Labels are read on the entire space, every
row (impression): a child label on a row whose parent label is 0 is 0, whatever was written
there (NaN or 0); a 1 there contradicts the cascade and is set to 0 with a warning. On rows
whose parent label is missing the child label is used as given.

One cascade module per layer: this one (torch-free) holds the parameter's rules, which the
estimator and the comparison both read; :mod:`sklearn_mtl.nets.cascade` the nets' product and
counterfactual risk (torch); :mod:`sklearn_mtl.transfer._cascade` how a comparison trains and
scores a cascaded child.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from ._architectures import CHAIN_ARCHITECTURES, architecture_of

# The counterfactual risks of ``cascade_debias`` (ESCM², Wang et al., SIGIR 2022).
DEBIAS_METHODS = ("ips", "dr")


def resolve_cascade(cascade, architecture: str, names, kinds) -> dict:
    """Check ``cascade`` against the fitted tasks and return it as ``{child: parent}``.

    ``architecture="esmm"`` or ``"aitm"`` with ``cascade=None`` chains the tasks in the order
    of ``Y`` (task k's parent is task k - 1: click, then purchase, as in the ESMM paper); with
    one task there is nothing to chain.
    """
    names = list(names)
    if cascade is None:
        if architecture not in CHAIN_ARCHITECTURES or len(names) < 2:
            return {}
        cascade = {names[k]: names[k - 1] for k in range(1, len(names))}
        bad = [n for n, kind in zip(names, kinds) if kind != "binary"]
        if bad:
            raise ValueError(
                f"architecture={architecture!r} with cascade=None chains the tasks in the order of Y "
                f"(task k's parent is task k-1), which needs binary tasks; {bad} are not "
                "binary: pass cascade={child: parent} naming binary tasks."
            )
    if not isinstance(cascade, Mapping):
        raise ValueError(
            f"cascade={cascade!r} is not valid: use None or a dict {{child task: parent task}}, "
            "e.g. {'purchase': 'click'}."
        )
    kind_of = dict(zip(names, kinds))
    for child, parent in cascade.items():
        for role, name in (("child", child), ("parent", parent)):
            if name not in kind_of:
                raise ValueError(
                    f"cascade={cascade!r} is not valid: {role} {name!r} is not a task; the "
                    f"tasks are {names}."
                )
            if kind_of[name] != "binary":
                raise ValueError(
                    f"cascade={cascade!r} is not valid: {role} {name!r} is a "
                    f"{kind_of[name]} task; both ends of a cascade must be binary tasks."
                )
    for start in cascade:
        seen, node = [start], start
        while node in cascade:
            node = cascade[node]
            if node in seen:
                loop = " -> ".join(map(repr, seen + [node]))
                raise ValueError(f"cascade={cascade!r} is not valid: it has a cycle {loop}.")
            seen.append(node)
    return dict(cascade)


def check_debias(debias, cascade: dict, architecture: str) -> None:
    """``cascade_debias`` needs a cascade with a conditional tower (an architecture that chains
    its tasks in its own net, ``"aitm"``, has none)."""
    if debias is None:
        return
    if not cascade:
        raise ValueError(
            f"cascade_debias={debias!r} needs a cascade: pass cascade={{child: parent}} "
            f"(e.g. {{'purchase': 'click'}}) or use architecture='esmm' with two or more binary "
            f"tasks; this model (architecture={architecture!r}) has none. Set "
            "cascade_debias=None to train without the counterfactual risk."
        )
    if architecture_of(architecture).chain_in_net:
        raise ValueError(
            f"cascade_debias={debias!r} is not valid with architecture={architecture!r}: its outputs are "
            "entire-space probabilities with no conditional tower to debias; use 'esmm' or a "
            "sharing architecture with cascade=, or cascade_debias=None."
        )


def cascade_links(cascade: dict, names) -> list[tuple[int, int]]:
    """``(child, parent)`` task indices, parents before their children."""
    index = {name: i for i, name in enumerate(names)}

    def depth(name):
        return 0 if name not in cascade else 1 + depth(cascade[name])

    ordered = sorted(cascade, key=depth)
    return [(index[child], index[cascade[child]]) for child in ordered]


def apply_cascade_labels(y_enc: np.ndarray, links, names) -> np.ndarray:
    """Encoded labels with each child set to 0 where its parent is 0 (see the module doc)."""
    y = y_enc.copy()
    for child, parent in links:
        off = y[:, parent] == 0
        contradicting = int((off & (y[:, child] == 1)).sum())
        if contradicting:
            warnings.warn(
                f"{contradicting} rows have {names[child]!r} = 1 where its cascade parent "
                f"{names[parent]!r} = 0; a cascade reads them as 0.",
                UserWarning,
                stacklevel=3,
            )
        y[off, child] = 0.0
    return y
