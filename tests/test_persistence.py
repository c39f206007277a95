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
