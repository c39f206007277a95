"""MultiTaskRecommender as a user drives it: census slices, Pipelines, searches, pickling, bad inputs."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import census_one_hot
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.metrics import per_task_scores

FAST = dict(hidden_units=(16,), tower_units=(8,), n_experts=3, max_epochs=6, batch_size=256, lr=1e-2)


@pytest.fixture(scope="module")
def split(census_small):
    X, Y = census_small
    return train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y["income"])


@pytest.mark.parametrize("architecture", ["hard", "soft", "mmoe", "single"])
def test_each_architecture_learns_census_in_a_pipeline(split, architecture):
    X_train, X_test, Y_train, Y_test = split
    model = make_pipeline(
        census_one_hot(X_train),
        MultiTaskRecommender(architecture, random_state=0, **FAST),
    )
    model.fit(X_train, Y_train)
    pred = model.predict(X_test)
    assert pred.shape == (len(X_test), 2)
    assert set(np.unique(pred)) <= {0, 1}
    proba = model.predict_proba(X_test)
    assert isinstance(proba, list) and len(proba) == 2
    assert all(p.shape == (len(X_test), 2) for p in proba)
    np.testing.assert_allclose(proba[0].sum(axis=1), 1.0, rtol=1e-6)
    est = model[-1]
    assert est.task_names_ == ["income", "never_married"]
    assert est.tasks_ == ["binary", "binary"]
    scores = per_task_scores(model, X_test, Y_test)
    # Six epochs on 3,500 rows: well above chance, far from the full-data figures.
    assert scores["income"] > 0.85
    assert scores["never_married"] > 0.9
    assert model.score(X_test, Y_test) == pytest.approx(np.mean(list(scores.values())))


def test_cross_validate_and_grid_search_over_architecture(census_small):
    X, Y = census_small
    X, Y = X.iloc[:2000], Y.iloc[:2000]
    pipe = make_pipeline(census_one_hot(X), MultiTaskRecommender(random_state=0, **FAST))
    cv = KFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, X, Y, cv=cv)
    assert result["test_score"].shape == (3,)
    assert np.all((result["test_score"] > 0.5) & (result["test_score"] <= 1))

    search = GridSearchCV(
        pipe,
        {"multitaskrecommender__architecture": ["hard", "mmoe"], "multitaskrecommender__lr": [3e-3]},
        cv=cv,
    )
    search.fit(X, Y)
    assert search.best_params_["multitaskrecommender__architecture"] in {"hard", "mmoe"}
    assert search.best_estimator_[-1].architecture == search.best_params_[
        "multitaskrecommender__architecture"
    ]
    assert search.best_estimator_.predict(X.iloc[:5]).shape == (5, 2)


def test_clone_and_nested_set_params_keep_parameters_verbatim():
    est = MultiTaskRecommender("soft", hidden_units=[32, 16], task_weights=[1.0, 2.0])
    pipe = make_pipeline(est)
    pipe.set_params(multitaskrecommender__sharing_strength=0.5)
    assert est.sharing_strength == 0.5
    assert est.hidden_units == [32, 16]  # stored as given, not converted
    twin = clone(pipe)
    assert twin[-1].get_params() == est.get_params()


def test_pickle_round_trip_gives_identical_predictions(split, tmp_path):
    X_train, X_test, Y_train, _ = split
    model = make_pipeline(census_one_hot(X_train), MultiTaskRecommender("mmoe", random_state=0, **FAST))
    model.fit(X_train, Y_train)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    for a, b in zip(loaded.predict_proba(X_test), model.predict_proba(X_test)):
        np.testing.assert_array_equal(a, b)


def test_same_random_state_gives_identical_predictions(split):
    X_train, X_test, Y_train, _ = split
    pre = census_one_hot(X_train).fit(X_train)
    Xt, Xv = pre.transform(X_train), pre.transform(X_test)
    for arch in ("hard", "mmoe"):
        a = MultiTaskRecommender(arch, random_state=3, dropout=0.2, **FAST).fit(Xt, Y_train)
        b = MultiTaskRecommender(arch, random_state=3, dropout=0.2, **FAST).fit(Xt, Y_train)
        np.testing.assert_array_equal(
            a.predict_proba(Xv)[0], b.predict_proba(Xv)[0], err_msg=arch
        )
    c = MultiTaskRecommender("hard", random_state=4, dropout=0.2, **FAST).fit(Xt, Y_train)
    assert not np.array_equal(a.predict_proba(Xv)[0], c.predict_proba(Xv)[0])


def test_fit_leaves_the_global_torch_rng_alone():
    X = np.random.default_rng(0).normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MultiTaskRecommender("hard", random_state=0, max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def _bottom_distance(model):
    module = model.net_.module_
    a, b = module.bottom_parameters(0), module.bottom_parameters(1)
    return float(sum((p - q).pow(2).sum() for p, q in zip(a, b)).detach())


def test_soft_sharing_strength_pulls_the_bottoms_together(split):
    X_train, _, Y_train, _ = split
    Xt = census_one_hot(X_train).fit_transform(X_train)
    params = dict(FAST, early_stopping=False, random_state=0)
    free = MultiTaskRecommender("soft", sharing_strength=0.0, **params).fit(Xt, Y_train)
    tied = MultiTaskRecommender("soft", sharing_strength=1.0, **params).fit(Xt, Y_train)
    assert _bottom_distance(tied) < 0.2 * _bottom_distance(free)


def test_mmoe_gate_weights_sum_to_one_per_row_and_task(split):
    X_train, X_test, Y_train, _ = split
    pre = census_one_hot(X_train).fit(X_train)
    model = MultiTaskRecommender("mmoe", random_state=0, **FAST).fit(pre.transform(X_train), Y_train)
    gates = model.gate_weights(pre.transform(X_test))
    assert gates.shape == (len(X_test), 2, 3)
    assert np.all(gates >= 0)
    np.testing.assert_allclose(gates.sum(axis=2), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match=r"gate_weights needs architecture in \('mmoe'"):
        MultiTaskRecommender("hard", **FAST).fit(pre.transform(X_train), Y_train).gate_weights(
            pre.transform(X_test)
        )


def test_one_d_target_string_labels_and_multiclass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = np.where(X[:, 0] > 0, "click", "skip")
    model = MultiTaskRecommender("hard", random_state=0, max_epochs=10, lr=1e-2).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (600,)
    assert set(pred) <= {"click", "skip"}
    assert model.predict_proba(X).shape == (600, 2)
    assert model.classes_[0].tolist() == ["click", "skip"]
    assert model.score(X, y) > 0.9

    Y = pd.DataFrame(
        {"genre": np.select([X[:, 1] < -0.5, X[:, 1] > 0.5], ["a", "c"], "b"), "dwell": X[:, 2] * 30 + 60}
    )
    model = MultiTaskRecommender("mmoe", random_state=0, max_epochs=10, lr=1e-2).fit(X, Y)
    assert model.tasks_ == ["multiclass", "regression"]
    pred = model.predict(X)
    assert pred.dtype == object and pred.shape == (600, 2)
    proba = model.predict_proba(X)
    assert proba[0].shape == (600, 3) and proba[1] is None
    # The regression task is predicted on its own scale, not the standardized one.
    assert abs(np.mean(pred[:, 1].astype(float)) - 60) < 10


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 30))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)  # few rows, many features: overfits
    model = MultiTaskRecommender(
        "hard", hidden_units=(128, 128), lr=1e-2, max_epochs=60, patience=3, random_state=0
    ).fit(X, y)
    valid = model.history_[:, "valid_loss"]
    assert model.n_epochs_ < 60
    best = int(np.argmin(valid))
    assert model.n_epochs_ == best + 1 + 3
    # The restored weights are the best epoch's: re-scoring the validation loss is not the last.
    assert model.history_[best, "valid_loss_best"]


def test_validation_fraction_none_and_no_early_stopping():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    m = MultiTaskRecommender("hard", validation_fraction=None, max_epochs=3, random_state=0).fit(X, y)
    assert "valid_loss" not in m.history_[-1]
    m = MultiTaskRecommender("hard", early_stopping=False, max_epochs=3, random_state=0).fit(X, y)
    assert m.n_epochs_ == 3 and "valid_loss" not in m.history_[-1]


def test_user_callbacks_run_and_are_not_mutated(capsys):
    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    cb = CountEpochs()
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender(
        "hard", callbacks=[cb], max_epochs=3, early_stopping=False, verbose=1
    ).fit(X, y)
    assert not hasattr(cb, "epochs")  # the user's instance is not touched
    assert dict(model.net_.callbacks_)["CountEpochs"].epochs == 3
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out  # skorch's table with verbose=1


def test_cuda_trained_model_pickle_loads_on_cpu(tmp_path):
    """A pickle whose net says CUDA loads on a CPU-only machine through skorch's device mapping."""
    if torch.cuda.is_available():
        pytest.skip("this check simulates the CPU-only side")
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, y)
    expected = model.predict_proba(X)
    model.net_.device = "cuda"  # what a CUDA fit leaves in the pickle
    model.device_ = "cuda"
    with pytest.warns(Warning, match="CUDA"):
        loaded = pickle.loads(pickle.dumps(model))
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predicts():
    X = np.random.default_rng(0).normal(size=(500, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender("mmoe", device="cuda", max_epochs=3, random_state=0).fit(X, y)
    assert model.device_.startswith("cuda")
    assert model.score(X, y) > 0.8


# ---------------------------------------------------------------------------- bad input
X_OK = np.random.default_rng(0).normal(size=(50, 3))
Y_OK = np.column_stack([(X_OK[:, 0] > 0).astype(int), X_OK[:, 1]])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"architecture": "deep"}, r"architecture='deep' is not valid"),
        ({"hidden_units": (0, 4)}, r"hidden_units=\(0, 4\) is not valid"),
        ({"architecture": "mmoe", "hidden_units": ()}, r"hidden_units=\(\) is not valid"),
        ({"tower_units": "wide"}, r"tower_units='wide' is not valid"),
        ({"n_experts": 0}, r"n_experts=0 is not valid"),
        ({"dropout": 1.0}, r"dropout=1.0 is not valid"),
        ({"lr": -1}, r"lr=-1 is not valid"),
        ({"batch_size": 2.5}, r"batch_size=2.5 is not valid"),
        ({"max_epochs": 0}, r"max_epochs=0 is not valid"),
        ({"validation_fraction": 1.0}, r"validation_fraction=1.0 is not valid"),
        ({"sharing_strength": -0.1}, r"sharing_strength=-0.1 is not valid"),
        ({"early_stopping": "yes"}, r"early_stopping='yes' is not valid"),
        ({"device": "tpu"}, r"device='tpu' is not valid"),
        ({"tasks": ["binary"]}, r"tasks has 1 entries but Y has 2 task columns"),
        ({"tasks": ["binary", "ranking"]}, r"kind 'ranking' for task 'task_1'"),
        ({"task_weights": [1.0]}, r"task_weights=\[1.0\] has 1 entries but Y has 2 tasks"),
        ({"task_weights": [1.0, -1.0]}, r"weights must be finite, >= 0"),
        ({"task_weights": "equal"}, r"task_weights='equal' is not valid"),
        ({"embedding_dim": 0, "categorical_features": [2]}, r"embedding_dim=0 is not valid"),
        ({"categorical_features": [7]}, r"categorical_features names 7"),
    ],
)
def test_bad_parameters_name_the_parameter_and_value(params, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{"max_epochs": 1, **params}).fit(X_OK, Y_OK)


def test_cuda_requested_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        MultiTaskRecommender(device="cuda").fit(X_OK, Y_OK)


def test_bad_data_messages():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 49\]"):
        est.fit(X_OK, Y_OK[:49])
    with pytest.raises(ValueError, match=r"Task 'task_0' has only one class \(1.0\)"):
        est.fit(X_OK, np.column_stack([np.ones(50), Y_OK[:, 1]]))
    with pytest.raises(ValueError, match="Task 'task_1' has no labels"):
        est.fit(X_OK, np.column_stack([Y_OK[:, 0], np.full(50, np.nan)]))
    X_inf = pd.DataFrame(X_OK, columns=["age", "price", "score"])
    X_inf.loc[3, "price"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \['price'\]"):
        est.fit(X_inf, Y_OK)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X_OK, None)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(50,\)"):
        est.fit(X_OK, Y_OK, sample_weight=[1, 2, 3])


def test_predict_checks_fitted_and_feature_count():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(NotFittedError):
        est.predict(X_OK)
    est.fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="X has 2 features, but MultiTaskRecommender is expecting 3"):
        est.predict(X_OK[:, :2])
    frame = pd.DataFrame(X_OK, columns=["a", "b", "c"])
    est.fit(frame, Y_OK)
    with pytest.raises(ValueError, match="The feature names should match those that were passed"):
        est.predict(frame.rename(columns={"c": "d"}))
