"""Check a LightGBM model text before LightGBM reads it.

LightGBM trusts its model text: a tree whose child index points back up loops forever in
``predict``, a split on a feature the model does not have reads past the row, and ``tree_sizes``
that do not match the text make its parallel loader throw inside an OpenMP region, which aborts
the process. A saved file's digest only proves that nobody changed it by accident, so the loader
checks the structure itself here, with numpy only, and LightGBM sees only a text whose trees are
trees over the model's features.
"""

from __future__ import annotations

import math
import re

# Per-node arrays of a tree (num_leaves - 1 entries) and per-leaf arrays (num_leaves entries).
_NODE_FIELDS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child",
                "right_child", "internal_value", "internal_weight", "internal_count")
_LEAF_FIELDS = ("leaf_value", "leaf_weight", "leaf_count")
# Fields whose values are the model's output: a NaN there makes every prediction NaN.
_WEIGHT_FIELDS = ("leaf_value", "threshold", "leaf_const", "leaf_coeff")
_TREE_HEADER = re.compile(r"Tree=(\d+)\n")


class BoosterTextError(ValueError):
    """A LightGBM model text that is not a well-formed model; the message says where."""


def _fields(block: str, where: str) -> dict:
    fields = {}
    for line in block.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise BoosterTextError(f"{where}: line {line[:60]!r} is not key=value")
        fields[key] = value
    return fields


def _numbers(fields: dict, key: str, where: str, *, integer: bool) -> list:
    text = fields.get(key)
    if text is None:
        raise BoosterTextError(f"{where}: {key} is missing")
    try:
        return [int(v) if integer else float(v) for v in text.split()]
    except ValueError:
        raise BoosterTextError(f"{where}: {key} holds a value that is not "
                               f"{'an integer' if integer else 'a number'}: {text[:60]!r}") from None


def _one_int(fields: dict, key: str, where: str, low: int) -> int:
    values = _numbers(fields, key, where, integer=True)
    if len(values) != 1 or values[0] < low:
        raise BoosterTextError(f"{where}: {key}={fields[key][:40]!r} is not an int >= {low}")
    return values[0]


def _check_tree(fields: dict, n_features: int, where: str, non_finite: list) -> None:
    n_leaves = _one_int(fields, "num_leaves", where, 1)
    n_cat = _one_int(fields, "num_cat", where, 0)
    node = {key: _numbers(fields, key, where, integer=key in (
        "split_feature", "decision_type", "left_child", "right_child", "internal_count"))
        for key in _NODE_FIELDS}
    leaf = {key: _numbers(fields, key, where, integer=key == "leaf_count") for key in _LEAF_FIELDS}
    for key, values in node.items():
        if len(values) != n_leaves - 1:
            raise BoosterTextError(f"{where}: {key} has {len(values)} values for num_leaves="
                                   f"{n_leaves} (expected {n_leaves - 1})")
    for key, values in leaf.items():
        # LightGBM leaves leaf_weight empty on a one-leaf tree.
        if len(values) != n_leaves and not (n_leaves == 1 and not values):
            raise BoosterTextError(f"{where}: {key} has {len(values)} values for num_leaves="
                                   f"{n_leaves}")
    for j, feature in enumerate(node["split_feature"]):
        if not 0 <= feature < n_features:
            raise BoosterTextError(f"{where}: split_feature[{j}]={feature} is not a feature of "
                                   f"this model (it has {n_features})")
    # Every node but the root and every leaf has exactly one parent, and all are reachable from
    # the root: then the children form one tree, and no walk from the root can loop.
    parents = [0] * (n_leaves - 1)
    leaf_parents = [0] * n_leaves
    for side in ("left_child", "right_child"):
        for j, child in enumerate(node[side]):
            if child >= 0:
                if not 0 < child < n_leaves - 1:
                    raise BoosterTextError(f"{where}: {side}[{j}]={child} is not a node of a "
                                           f"tree with {n_leaves - 1} nodes")
                parents[child] += 1
            else:
                if ~child >= n_leaves:
                    raise BoosterTextError(f"{where}: {side}[{j}]={child} is not a leaf of a "
                                           f"tree with {n_leaves} leaves")
                leaf_parents[~child] += 1
    if n_leaves > 1 and (any(count != 1 for count in parents[1:])
                         or any(count != 1 for count in leaf_parents)):
        raise BoosterTextError(f"{where}: left_child and right_child do not form a tree (a node "
                               "or leaf has no parent or several)")
    seen, stack = 0, [0] if n_leaves > 1 else []
    while stack:
        j = stack.pop()
        seen += 1
        if seen > n_leaves - 1:
            break
        stack.extend(c for c in (node["left_child"][j], node["right_child"][j]) if c >= 0)
    if seen != n_leaves - 1:
        raise BoosterTextError(f"{where}: left_child and right_child hold a cycle")
    categorical = []
    for j, kind in enumerate(node["decision_type"]):
        # Bit 0: categorical split, bit 1: default left, bits 2-3: missing type 0, 1 or 2.
        if not 0 <= kind < 16 or (kind >> 2) & 3 == 3:
            raise BoosterTextError(f"{where}: decision_type[{j}]={kind} is not a LightGBM "
                                   "decision type")
        if kind & 1:
            categorical.append(j)
    if categorical or n_cat:
        bounds = _numbers(fields, "cat_boundaries", where, integer=True)
        bits = _numbers(fields, "cat_threshold", where, integer=True)
        if (len(bounds) != n_cat + 1 or bounds[0] != 0 or bounds[-1] != len(bits)
                or any(b > a for a, b in zip(bounds[1:], bounds))):
            raise BoosterTextError(f"{where}: cat_boundaries do not delimit cat_threshold for "
                                   f"num_cat={n_cat}")
        for j in categorical:
            index = node["threshold"][j]
            if not (index == int(index) and 0 <= index < n_cat):
                raise BoosterTextError(f"{where}: threshold[{j}]={index} is not one of the "
                                       f"tree's {n_cat} category sets")
    if fields.get("is_linear", "0") not in ("0", "1"):
        raise BoosterTextError(f"{where}: is_linear={fields['is_linear'][:20]!r} is not 0 or 1")
    if fields.get("is_linear") == "1":
        counts = _numbers(fields, "num_features", where, integer=True)
        features = _numbers(fields, "leaf_features", where, integer=True)
        coefs = _numbers(fields, "leaf_coeff", where, integer=False)
        const = _numbers(fields, "leaf_const", where, integer=False)
        if (len(counts) != n_leaves or len(const) != n_leaves or any(c < 0 for c in counts)
                or sum(counts) != len(features) or len(coefs) != len(features)):
            raise BoosterTextError(f"{where}: the linear leaves' num_features, leaf_features, "
                                   f"leaf_coeff and leaf_const do not match num_leaves={n_leaves}")
        if any(not 0 <= f < n_features for f in features):
            raise BoosterTextError(f"{where}: leaf_features names a feature this model does not "
                                   f"have (it has {n_features})")
        node["leaf_const"], node["leaf_coeff"] = const, coefs
    node.update(leaf)
    for key in _WEIGHT_FIELDS:
        if any(not math.isfinite(v) for v in node.get(key, ())):
            non_finite.append(f"{where} {key}")


def check_booster_text(text: str, where: str) -> list:
    """Refuse a LightGBM model text that is not a well-formed model, before LightGBM reads it.

    Parameters
    ----------
    text : str
        The text of ``Booster.model_to_string()``.
    where : str
        What to call the model in messages (its place in the saved file).

    Returns
    -------
    list of str
        The fields holding non-finite numbers (NaN or inf leaf values or thresholds), for the
        caller to warn about; empty for a model trained on finite data.

    Raises
    ------
    BoosterTextError
        Naming the tree and field that is wrong: tree sizes that do not match the text, a tree
        count that is not whole iterations, array lengths that do not match ``num_leaves``,
        children that do not form a tree, splits on features the model does not have.
    """
    if not isinstance(text, str):
        raise BoosterTextError(f"{where}: the model text is a {type(text).__name__}, not text")
    head, sep, rest = text.partition("\nTree=")
    if not sep:
        head, sep, rest = text.partition("\nend of trees")
        if not sep:
            raise BoosterTextError(f"{where}: no 'end of trees' line")
        rest = "end of trees" + rest
    else:
        rest = "Tree=" + rest
    if not head.startswith("tree\n"):
        raise BoosterTextError(f"{where}: the text does not start with LightGBM's 'tree' line")
    header = _fields(head[len("tree\n"):], f"{where} header")
    n_class = _one_int(header, "num_class", f"{where} header", 1)
    per_iteration = _one_int(header, "num_tree_per_iteration", f"{where} header", 1)
    n_features = _one_int(header, "max_feature_idx", f"{where} header", 0) + 1
    for key in ("feature_names", "feature_infos"):
        if len(header.get(key, "").split(" ")) != n_features:
            raise BoosterTextError(f"{where} header: {key} does not list max_feature_idx + 1 = "
                                   f"{n_features} features")
    if per_iteration != n_class:
        raise BoosterTextError(f"{where} header: num_tree_per_iteration={per_iteration} does not "
                               f"match num_class={n_class}")
    sizes = _numbers(header, "tree_sizes", f"{where} header", integer=True) if rest.startswith(
        "Tree=") else []
    end = rest.find("end of trees")
    if end < 0:
        raise BoosterTextError(f"{where}: no 'end of trees' line")
    trees = rest[:end]
    # LightGBM cuts the trees at these byte offsets and reads them in parallel.
    encoded = trees.encode()
    if sum(sizes) != len(encoded):
        raise BoosterTextError(f"{where} header: tree_sizes add up to {sum(sizes)} bytes but the "
                               f"trees take {len(encoded)}")
    non_finite: list = []
    offset = 0
    for i, size in enumerate(sizes):
        if size < 1:
            raise BoosterTextError(f"{where} header: tree_sizes[{i}]={size} is not a size")
        block = encoded[offset:offset + size].decode(errors="replace")
        offset += size
        match = _TREE_HEADER.match(block)
        if match is None or int(match.group(1)) != i:
            raise BoosterTextError(f"{where}: tree_sizes[{i}] does not end where tree {i + 1} "
                                   "starts (the trees are not those tree_sizes describe)")
        _check_tree(_fields(block[match.end():], f"{where} tree {i}"), n_features,
                    f"{where} tree {i}", non_finite)
    if len(sizes) % per_iteration:
        raise BoosterTextError(f"{where}: {len(sizes)} trees are not whole iterations of "
                               f"num_tree_per_iteration={per_iteration}")
    return non_finite


def booster_shape(text: str) -> tuple[int, int, int]:
    """``(n_features, num_class, n_trees)`` of a text that :func:`check_booster_text` accepted."""
    head = text.partition("\nTree=")[0].partition("\nend of trees")[0]
    header = _fields(head[len("tree\n"):], "header")
    n_trees = len(header.get("tree_sizes", "").split())
    return int(header["max_feature_idx"]) + 1, int(header["num_class"]), n_trees
