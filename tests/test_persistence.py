"""save / sklearn_mtl.load: round trips on real data for every architecture and PerTaskLGBM,
refusal of modified, foreign and other-version files, and pickle still working."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import sklearn_mtl
from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, load
from sklearn_mtl.nets import ARCHITECTURES

FAST = dict(max_epochs=2, batch_size=256, random_state=0)


def assert_same_predictions(a, b, X):
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    for pa, pb in zip(a.predict_proba(X), b.predict_proba(X)):
        if pa is None:
            assert pb is None
        else:
            np.testing.assert_array_equal(pa, pb)


def rewrite(path, name, change, fix_checksum=True):
    """Rewrite entry ``name`` of a saved model with ``change(bytes) -> bytes``."""
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    entries[name] = change(entries[name])
    if fix_checksum and name != "manifest.json":
        manifest = json.loads(entries["manifest.json"])
        manifest["sha256"][name] = hashlib.sha256(entries[name]).hexdigest()
        entries["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for n, data in entries.items():
            archive.writestr(n, data)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_round_trip_every_architecture_on_census(census_1500, tmp_path, architecture):
    X, Y = census_1500
    model = MultiTaskRecommender(architecture, **FAST).fit(X, Y)
    path = tmp_path / "model.skmtl"
    model.save(path)
    loaded = load(path)
    assert type(loaded) is MultiTaskRecommender
    assert loaded.get_params() == model.get_params()
    assert_same_predictions(model, loaded, X)
    assert loaded.score(X, Y) == model.score(X, Y)
    assert loaded.n_params_ == model.n_params_
    assert loaded.history_[:, "train_loss"] == model.history_[:, "train_loss"]
    assert loaded.history_ is loaded.net_.history
    assert type(loaded.net_.module_) is type(model.net_.module_)


@pytest.mark.parametrize("settings", [
    dict(architecture="hard", task_weights="gradnorm", gradient_method="pcgrad"),
    dict(architecture="mmoe", task_weights="dwa", gradient_method="cagrad"),
    dict(architecture="ple", track_task_affinity=True),
])
def test_round_trip_with_balancing_and_affinity(census_1500, tmp_path, settings):
    X, Y = census_1500
    model = MultiTaskRecommender(**settings, **FAST).fit(X, Y)
    model.save(tmp_path / "m.skmtl")
    loaded = load(tmp_path / "m.skmtl")
    assert loaded.get_params() == model.get_params()
    assert_same_predictions(model, loaded, X)
    np.testing.assert_array_equal(loaded.task_weights_, model.task_weights_)
    assert loaded.net_.criterion_.method == model.net_.criterion_.method
    if settings.get("track_task_affinity"):
        np.testing.assert_array_equal(loaded.task_affinity_, model.task_affinity_)


@pytest.mark.parametrize("architecture", ["esmm", "mmoe"])
def test_round_trip_cascade_with_conditional_probabilities(tmp_path, architecture):
    from sklearn_mtl.datasets import make_ctr_cvr_data

    X, Y = make_ctr_cvr_data(n_samples=3000, random_state=0)
    model = MultiTaskRecommender(architecture, cascade={"purchase": "click"}, **FAST).fit(X, Y)
    model.save(tmp_path / "c.skmtl")
    loaded = load(tmp_path / "c.skmtl")
    assert loaded.cascade_ == model.cascade_
    assert_same_predictions(model, loaded, X)
    for a, b in zip(model.predict_conditional_proba(X), loaded.predict_conditional_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_round_trip_movielens_with_unknown_users_and_uncertainty_weights(movielens, tmp_path):
    X, Y = movielens
    X_train, Y_train = X.iloc[:3000], Y.iloc[:3000]
    model = MultiTaskRecommender("mmoe", task_weights="uncertainty", **FAST).fit(X_train, Y_train)
    model.save(tmp_path / "ml.skmtl")
    loaded = load(tmp_path / "ml.skmtl")
    new = X.iloc[3000:4000]
    unseen = ~new["user_id"].isin(X_train["user_id"].unique())
    assert unseen.any()  # rows whose user is unknown to the model
    assert_same_predictions(model, loaded, new)
    np.testing.assert_array_equal(loaded.task_weights_, model.task_weights_)
    # The learned log-variances come back with the criterion.
    torch.testing.assert_close(loaded.net_.criterion_.log_vars, model.net_.criterion_.log_vars)


def test_loaded_model_refits(census_1500, tmp_path):
    X, Y = census_1500
    model = MultiTaskRecommender("hard", **FAST).fit(X, Y)
    model.save(tmp_path / "m.skmtl")
    refit = load(tmp_path / "m.skmtl").fit(X, Y)
    np.testing.assert_allclose(refit.predict_proba(X)[0], model.predict_proba(X)[0], atol=1e-6)


@pytest.mark.parametrize("data", ["census_1500", "movielens"])
def test_per_task_lgbm_round_trip(request, tmp_path, data):
    X, Y = request.getfixturevalue(data)
    X, Y = X.iloc[:2000], Y.iloc[:2000]
    model = PerTaskLGBM(n_estimators=30, n_jobs=1, random_state=0, validation_fraction=0.2)
    model.fit(X, Y)
    model.save(tmp_path / "lgbm.skmtl")
    loaded = load(tmp_path / "lgbm.skmtl")
    assert type(loaded) is PerTaskLGBM
    assert loaded.get_params() == model.get_params()
    assert_same_predictions(model, loaded, X)
    assert [m.best_iteration_ for m in loaded.estimators_] == [
        m.best_iteration_ for m in model.estimators_
    ]


def test_pickle_still_works(census_1500):
    X, Y = census_1500
    model = MultiTaskRecommender("mmoe", **FAST).fit(X, Y)
    assert_same_predictions(model, pickle.loads(pickle.dumps(model)), X)


def test_array_input_and_string_classes(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([np.where(X[:, 0] > 0, "yes", "no"), rng.integers(0, 3, 300)]).astype(object)
    model = MultiTaskRecommender("soft", tasks=["binary", "multiclass"], **FAST).fit(X, Y)
    model.save(tmp_path / "m.skmtl")
    loaded = load(tmp_path / "m.skmtl")
    assert_same_predictions(model, loaded, X)
    assert loaded.classes_[0].tolist() == ["no", "yes"]


def test_modified_file_is_refused(census_1500, tmp_path):
    X, Y = census_1500
    path = tmp_path / "m.skmtl"
    MultiTaskRecommender("hard", **FAST).fit(X, Y).save(path)
    rewrite(path, "weights.safetensors", lambda b: b[:-8] + b"\x00" * 8, fix_checksum=False)
    with pytest.raises(ValueError, match="is damaged or was modified after saving: the checksum "
                                         "of 'weights.safetensors' does not match"):
        load(path)


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("sklearn_mtl_version", "0.0.1",
     "was saved by sklearn-mtl 0.0.1 (file format {format}); this is sklearn-mtl {version} "
     "(format {format}). Load it with sklearn-mtl 0.0.1"),
    ("format_version", 1,
     "was saved by sklearn-mtl {version} (file format 1); this is sklearn-mtl {version} "
     "(format {format})"),
])
def test_file_of_another_version_or_format_is_refused(census_1500, tmp_path, field, value,
                                                      expected):
    X, Y = census_1500
    path = tmp_path / "m.skmtl"
    MultiTaskRecommender("hard", **FAST).fit(X, Y).save(path)

    def other(data):
        manifest = json.loads(data)
        manifest[field] = value
        return json.dumps(manifest).encode()

    rewrite(path, "manifest.json", other)
    expected = expected.format(format=sklearn_mtl.persistence.FORMAT_VERSION,
                               version=sklearn_mtl.__version__)
    with pytest.raises(ValueError, match=re.escape(expected)):
        load(path)


def plain_params(net) -> dict:
    """The skorch net's parameters that are values or classes, not objects built in fit."""
    return {k: v for k, v in net.get_params().items()
            if v is None or isinstance(v, (bool, int, float, str, type))}


@pytest.mark.parametrize("settings", [
    dict(architecture="mmoe", weight_decay=1e-4, id_dropout=0.05, verbose=0, random_state=3),
    dict(architecture="soft", early_stopping=False, random_state=None, lr=3e-3),
    dict(architecture="ple", cascade={"never_married": "income"}, gradient_method="pcgrad",
         random_state=1),
])
def test_loaded_net_equals_the_fitted_net_in_every_plain_parameter(census_1500, tmp_path,
                                                                   settings):
    X, Y = census_1500
    model = MultiTaskRecommender(**{**FAST, **settings}).fit(X.iloc[:600], Y.iloc[:600])
    model.save(tmp_path / "m.skmtl")
    loaded = load(tmp_path / "m.skmtl")
    fitted, restored = plain_params(model.net_), plain_params(loaded.net_)
    # The validation split is data of fit (skorch's predefined_split), not a parameter.
    fitted.pop("train_split", None)
    restored.pop("train_split", None)
    assert restored == fitted
    for key in ("optimizer__weight_decay", "iterator_train__id_dropout", "iterator_train__seed",
                "iterator_train__shuffle", "verbose", "surgery_seed"):
        assert key in restored
    assert loaded.net_.iterator_train is model.net_.iterator_train
    assert [name for name, _ in loaded.net_.callbacks_] == [
        name for name, _ in model.net_.callbacks_]
    assert_same_predictions(model, loaded, X)


def test_per_task_lgbm_saves_and_loads_without_torch(tmp_path):
    # A fresh interpreter: importing, fitting, saving and loading PerTaskLGBM never imports torch.
    script = f"""
import sys
import numpy as np
import sklearn_mtl
from sklearn_mtl import PerTaskLGBM
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 3))
Y = np.column_stack([X[:, 0] > 0, X[:, 1]])
model = PerTaskLGBM(n_estimators=10, n_jobs=1, random_state=0).fit(X, Y)
model.save({str(tmp_path / "m.skmtl")!r})
loaded = sklearn_mtl.load({str(tmp_path / "m.skmtl")!r})
assert (loaded.predict(X) == model.predict(X)).all()
print(model.score(X, Y) > 0.5, "torch" in sys.modules, "skorch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "False", "False"]
    with zipfile.ZipFile(tmp_path / "m.skmtl") as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "state.json"]


def test_classes_outside_the_package_are_refused(census_1500, tmp_path):
    X, Y = census_1500
    path = tmp_path / "m.skmtl"
    MultiTaskRecommender("hard", **FAST).fit(X, Y).save(path)
    rewrite(path, "state.json",
            lambda b: b.replace(b"sklearn_mtl.features.FeatureEncoder", b"os.system", 1))
    with pytest.raises(ValueError, match="class 'os.system' is not one sklearn-mtl loads"):
        load(path)


def test_pickle_file_is_not_loaded(census_1500, tmp_path):
    X, Y = census_1500
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(MultiTaskRecommender("hard", **FAST).fit(X, Y)))
    with pytest.raises(ValueError, match="is not a valid sklearn-mtl model file: not a zip archive"):
        load(path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback of a CUDA model")
def test_model_saved_on_cuda_loads_on_cpu(census_1500, tmp_path):
    # Weights are always written from CPU copies; only the recorded device says CUDA.
    X, Y = census_1500
    model = MultiTaskRecommender("mmoe", **FAST).fit(X, Y)
    path = tmp_path / "m.skmtl"
    model.save(path)

    def on_cuda(state):
        assert state.count(b'"device_": "cpu"') == 1
        return state.replace(b'"device_": "cpu"', b'"device_": "cuda"')

    rewrite(path, "state.json", on_cuda)
    loaded = load(path)
    assert loaded.device_ == "cpu"
    assert_same_predictions(model, loaded, X)


def test_user_callbacks_are_dropped_with_a_warning(census_1500, tmp_path):
    from skorch.callbacks import EpochScoring

    X, Y = census_1500
    model = MultiTaskRecommender("hard", **FAST).fit(X, Y)
    model.set_params(callbacks=[EpochScoring("r2")])
    with pytest.warns(UserWarning, match="callbacks holds 1 callback object"):
        model.save(tmp_path / "m.skmtl")
    assert load(tmp_path / "m.skmtl").callbacks is None


def test_save_takes_only_package_estimators(tmp_path):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="save takes a MultiTaskRecommender or a PerTaskLGBM, not "
                                        "a LogisticRegression"):
        sklearn_mtl.persistence.save(LogisticRegression(), tmp_path / "m.skmtl")


# A hostile file: every entry is checked before it is inflated, parsed or handed to LightGBM.

@pytest.fixture(scope="module")
def lgbm_file(tmp_path_factory):
    """A PerTaskLGBM on 3 features with trees of several splits, and the rows it was fit on."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    Y = np.column_stack([X[:, 0] + X[:, 1] > 0, X[:, 2] + 0.1 * rng.normal(size=400)])
    model = PerTaskLGBM(n_estimators=5, num_leaves=4, n_jobs=1, random_state=0, verbose=-1)
    path = tmp_path_factory.mktemp("lgbm") / "m.skmtl"
    model.fit(X, Y).save(path)
    return path, X


def write_entries(path, entries: dict, compression=zipfile.ZIP_DEFLATED):
    """A model file holding ``entries``, the manifest's digests recomputed (a forger's file)."""
    manifest = json.loads(entries["manifest.json"])
    for name, data in entries.items():
        if name != "manifest.json":
            manifest["sha256"][name] = hashlib.sha256(data).hexdigest()
    entries = {**entries, "manifest.json": json.dumps(manifest).encode()}
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def forged(source, target, change_state, raw=None):
    """Copy the file at ``source`` to ``target`` with ``change_state(state dict)`` applied, then
    the text replacements ``raw`` ({bytes: bytes})."""
    with zipfile.ZipFile(source) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    state = json.loads(entries["state.json"])
    change_state(state)
    entries["state.json"] = json.dumps(state).encode()
    for old, new in (raw or {}).items():
        entries["state.json"] = entries["state.json"].replace(old, new)
    write_entries(target, entries)
    return target


def boosters(node):
    """Every LightGBM model text dict (``{"__booster__": text}``) in a state tree."""
    if isinstance(node, dict):
        if "__booster__" in node:
            yield node
        for value in node.values():
            yield from boosters(value)
    elif isinstance(node, list):
        for value in node:
            yield from boosters(value)


def edit_tree(text: str, field: str, change, fix_sizes: bool = False) -> str:
    """``text`` with the first tree that has a split edited in ``field`` by ``change(values)``."""
    head, _, trees = text.partition("\nTree=")
    blocks = ("Tree=" + trees).split("\n\n\n")
    for i, block in enumerate(blocks):
        if "num_leaves=1\n" not in block and f"\n{field}=" in block:
            line = re.search(rf"\n{field}=([^\n]*)", block)
            blocks[i] = block.replace(line.group(0), f"\n{field}={change(line.group(1))}", 1)
            break
    out = head + "\n" + "\n\n\n".join(blocks)
    if fix_sizes:
        trees = out[out.index("Tree="):out.index("end of trees")]
        sizes = [len((block + "\n\n\n").encode()) for block in trees.split("\n\n\n")[:-1]]
        out = re.sub(r"tree_sizes=[^\n]*", "tree_sizes=" + " ".join(map(str, sizes)), out)
    return out


def test_entries_that_inflate_past_the_limits_are_refused_before_reading(lgbm_file, tmp_path):
    import tracemalloc

    path, _ = lgbm_file
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    # 200 MB of JSON whitespace around the real state deflates to ~200 kB.
    bomb = tmp_path / "bomb.skmtl"
    write_entries(bomb, {**entries, "state.json": entries["state.json"] + b" " * 200_000_000})
    assert bomb.stat().st_size < 1_000_000
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"entry 'state.json' inflates \d+ bytes to 200\d{6}, "
                                         r"more than 50 times \(a zip bomb"):
        load(bomb)
    assert tracemalloc.get_traced_memory()[1] < 20_000_000
    tracemalloc.stop()
    manifest = json.loads(entries["manifest.json"])
    manifest["padding"] = "x" * 2_000_000
    write_entries(bomb, {**entries, "manifest.json": json.dumps(manifest).encode()},
                  compression=zipfile.ZIP_STORED)
    with pytest.raises(ValueError, match=r"entry 'manifest.json' declares 2000\d\d\d bytes, over "
                                         r"the limit of 1048576"):
        load(bomb)


def test_nesting_and_shapes_that_do_not_match_are_refused_naming_the_entry(lgbm_file, tmp_path):
    path, _ = lgbm_file

    def deep(state):
        state["state"]["verbose"] = "DEEP"

    def nested(levels):
        return {b'"DEEP"': b"[" * levels + b"0" + b"]" * levels}

    with pytest.raises(ValueError, match=r"state.json nests deeper than 64 levels at "
                                         r"PerTaskLGBM.verbose\[0\]"):
        load(forged(path, tmp_path / "deep.skmtl", deep, nested(100)))
    with pytest.raises(ValueError, match="entry 'state.json' nests deeper than Python can parse"):
        load(forged(path, tmp_path / "deeper.skmtl", deep, nested(100_000)))

    def reshape(state):
        state["state"]["target_offsets_"]["shape"] = [3, 5]

    with pytest.raises(ValueError, match=r"PerTaskLGBM.target_offsets_ declares shape \[3, 5\] "
                                         r"for 2 values"):
        load(forged(path, tmp_path / "shape.skmtl", reshape))


@pytest.mark.parametrize(("field", "change", "fix_sizes", "message"), [
    # Another length, digest recomputed: LightGBM's parallel loader aborted the process.
    ("leaf_value", lambda v: "1" + v, False,
     r"tree_sizes add up to \d+ bytes but the trees take \d+"),
    # Same length: loaded, then predict looped forever.
    ("left_child", lambda v: "9" + v[1:], False, r"left_child\[0\]=9 is not a node of a tree "
                                                 r"with 3 nodes"),
    ("left_child", lambda v: " ".join([v.split()[0]] * len(v.split())), True,
     r"left_child and right_child do not form a tree \(a node or leaf has no parent or several"),
    # Same length: loaded, then predicted a constant.
    ("split_feature", lambda v: "9" + v[1:], False,
     r"split_feature\[0\]=9 is not a feature of this model \(it has 3\)"),
    ("leaf_value", lambda v: " ".join(v.split()[:-1]), True, "leaf_value has 3 values for "
                                                              "num_leaves=4"),
])
def test_tampered_lightgbm_model_is_refused_before_lightgbm_reads_it(
        lgbm_file, tmp_path, field, change, fix_sizes, message):
    path, _ = lgbm_file

    def tamper(state):
        first = next(boosters(state))
        first["__booster__"] = edit_tree(first["__booster__"], field, change, fix_sizes)

    with pytest.raises(ValueError, match=r"is not a valid sklearn-mtl model file: the LightGBM "
                                         r"model is malformed: PerTaskLGBM.estimators_\[0\]."
                                         r"_Booster (?:tree \d+|header): " + message):
        load(forged(path, tmp_path / "t.skmtl", tamper))


def test_lightgbm_model_for_other_features_is_refused(lgbm_file, tmp_path):
    path, _ = lgbm_file

    def fewer(state):
        first = next(boosters(state))
        text = first["__booster__"]
        text = text.replace("max_feature_idx=2", "max_feature_idx=9")
        text = re.sub(r"feature_names=[^\n]*", "feature_names=" + " ".join(
            f"Column_{j}" for j in range(10)), text)
        first["__booster__"] = re.sub(r"feature_infos=[^\n]*", "feature_infos=" + " ".join(
            ["none"] * 10), text)

    with pytest.raises(ValueError, match=r"the LightGBM model at PerTaskLGBM.estimators_\[0\] "
                                         r"reads 10 features but its _n_features is 3"):
        load(forged(path, tmp_path / "wide.skmtl", fewer))


def test_non_finite_weights_load_with_a_warning_naming_them(lgbm_file, census_1500, tmp_path):
    path, X = lgbm_file

    def nan_leaves(state):
        first = next(boosters(state))
        first["__booster__"] = edit_tree(first["__booster__"], "leaf_value",
                                         lambda v: " ".join("nan" for _ in v.split()), True)

    with pytest.warns(UserWarning, match=r"holds weights that are NaN or infinite, so the model "
                                         r"predicts NaN or inf where they are used: PerTaskLGBM."
                                         r"estimators_\[0\]._Booster tree \d+ leaf_value"):
        loaded = load(forged(path, tmp_path / "nan.skmtl", nan_leaves))
    assert np.isnan(loaded.predict_proba(X)[0]).all()

    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    X, Y = census_1500
    net_path = tmp_path / "net.skmtl"
    MultiTaskRecommender("hard", **FAST).fit(X, Y).save(net_path)
    with zipfile.ZipFile(net_path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    tensors = st_load(entries["weights.safetensors"])
    key = max(tensors, key=lambda k: tensors[k].numel() * tensors[k].is_floating_point())
    tensors[key][0] = float("nan")
    write_entries(net_path, {**entries, "weights.safetensors": st_save(tensors)})
    with pytest.warns(UserWarning, match=r"holds weights that are NaN or infinite.*"
                                         r"MultiTaskRecommender\."):
        load(net_path)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(lgbm_file, tmp_path, cut):
    path, _ = lgbm_file
    data = path.read_bytes()
    short = tmp_path / "short.skmtl"
    short.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ValueError, match="is not a valid sklearn-mtl model file|is damaged"):
        load(short)


@pytest.mark.parametrize("value", [1_000_000, -5000, "8", 2.0])
def test_a_lightgbm_thread_count_past_the_limit_is_refused_naming_it(lgbm_file, tmp_path, value):
    # LightGBM starts n_jobs OpenMP threads in predict: a million crash the process.
    path, X = lgbm_file

    def threads(state):
        state["state"]["estimators_"][1]["state"]["n_jobs"] = value

    with pytest.raises(ValueError, match=r"the LightGBM model at .* asks for n_jobs=.* threads "
                                         r"\(at most 1024 load"):
        load(forged(path, tmp_path / "threads.skmtl", threads))

    def many(state):
        state["state"]["estimators_"][1]["state"]["n_jobs"] = 64

    assert load(forged(path, tmp_path / "64.skmtl", many)).predict(X).shape == (len(X), 2)
