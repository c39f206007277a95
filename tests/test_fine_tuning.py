"""Fine-tuning from a source model (``init=``, ``freeze=``) on the clothing reviews: a model
trained on Tops and Dresses carried into Jackets, whose department and most items it never saw."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import slow_except
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from sklearn_mtl import MultiTaskRecommender, compare_transfer, load
from sklearn_mtl.nets import ARCHITECTURES, CHAIN_ARCHITECTURES
from sklearn_mtl.transfer._storage import describe

TINY = dict(hidden_units=(8,), tower_units=(4,), n_experts=2, max_epochs=2, batch_size=64,
            random_state=0)


@pytest.fixture(scope="module")
def domains(data_home, clothing_file):
    """(source X, source Y, target X, target Y): 1,500 Tops/Dresses reviews and 600 Jackets
    reviews (seed 0), without the text columns."""
    from sklearn_mtl.datasets import fetch_womens_clothing_reviews

    X, Y = fetch_womens_clothing_reviews(data_home=data_home, download_if_missing=False,
                                         return_X_y=True)
    X = X.drop(columns=["title", "review_text"])
    rng = np.random.default_rng(0)
    source = np.flatnonzero(X["department_name"].isin(["Tops", "Dresses"]).to_numpy())
    target = np.flatnonzero((X["department_name"] == "Jackets").to_numpy())
    source = np.sort(rng.choice(source, 1500, replace=False))
    target = np.sort(rng.choice(target, 600, replace=False))
    return (X.iloc[source].reset_index(drop=True), Y.iloc[source].reset_index(drop=True),
            X.iloc[target].reset_index(drop=True), Y.iloc[target].reset_index(drop=True))


@pytest.fixture(scope="module")
def source_mmoe(domains):
    Xs, Ys, _, _ = domains
    return MultiTaskRecommender("mmoe", **TINY).fit(Xs, Ys)


def _proba(model, X, task=0):
    proba = model.predict_proba(X)
    return np.asarray(proba[task])[:, 1]


# Two representatives by default (mmoe's stacked gates, ple's per-task experts and shared gate);
# the other architectures with the slow tests.
@pytest.mark.parametrize("architecture", slow_except(ARCHITECTURES, keep=("mmoe", "ple")))
def test_carried_net_predicts_as_the_source_before_training(domains, architecture):
    # With a learning rate of 1e-12 the fine-tuned net is the carried one: it must give the
    # source's predictions on target rows (new department and items: the unknown rows), task
    # by task, even with the tasks of Y in another order (but a chain's, which is its cascade).
    Xs, Ys, Xt, Yt = domains
    order = ["recommended", "helpful"]
    Ys, Yt = Ys[order], Yt[order if architecture in CHAIN_ARCHITECTURES else order[::-1]]
    source = MultiTaskRecommender(architecture, **TINY).fit(Xs, Ys)
    tuned = MultiTaskRecommender(architecture, init=source, **{**TINY, "lr": 1e-12,
                                                               "max_epochs": 1}).fit(Xt, Yt)
    for task in ("recommended", "helpful"):
        np.testing.assert_allclose(
            _proba(tuned, Xt, tuned.task_names_.index(task)),
            _proba(source, Xt, source.task_names_.index(task)), atol=1e-5)


def test_fine_tuned_predictions_differ_from_the_source(domains, source_mmoe):
    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, **TINY).fit(Xt, Yt)
    assert np.abs(_proba(tuned, Xt) - _proba(source_mmoe, Xt)).max() > 1e-3
    assert tuned.n_epochs_ == 2 and source_mmoe.n_epochs_ == 2  # the source is not refitted


def test_frozen_bottom_does_not_change_and_towers_do(domains, source_mmoe):
    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, freeze="bottom", **TINY).fit(Xt, Yt)
    theirs = dict(source_mmoe.net_.module_.named_parameters())
    frozen = {n: p for n, p in tuned.net_.module_.named_parameters() if not p.requires_grad}
    assert any(n.startswith("experts.") for n in frozen) and "gate.weight" in frozen
    for name, param in frozen.items():
        if "embeddings" in name:  # target vocabularies are longer: compare the source's rows
            assert torch.equal(param[: len(theirs[name])], theirs[name])
        else:
            assert torch.equal(param, theirs[name]), name
    heads = [n for n, p in tuned.net_.module_.named_parameters() if n.startswith("heads.")]
    assert heads and not any(n in frozen for n in heads)
    assert not torch.equal(tuned.net_.module_.heads[0].out.weight,
                           source_mmoe.net_.module_.heads[0].out.weight)
    assert tuned.n_params_ < source_mmoe.n_params_  # frozen parameters do not count as trainable


def test_known_categories_keep_their_rows_and_new_ones_start_from_unknown(domains, source_mmoe):
    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, freeze="embeddings", **TINY).fit(Xt, Yt)
    j = tuned.categorical_features_.index("department_name")
    known = list(source_mmoe._features.vocabularies_[j])
    vocab = list(tuned._features.vocabularies_[j])
    assert vocab[: len(known)] == known and vocab[len(known):] == ["Jackets"]
    theirs = source_mmoe.net_.module_.input.embeddings[j].weight
    mine = tuned.net_.module_.input.embeddings[j].weight
    assert torch.equal(mine[: len(theirs)], theirs)
    assert torch.equal(mine[len(theirs)], theirs[0])  # "Jackets" starts as the unknown vector
    assert tuned._features.embedding_dims_ == source_mmoe._features.embedding_dims_
    np.testing.assert_array_equal(tuned._features.mean_, source_mmoe._features.mean_)


def test_new_task_gets_a_fresh_tower_and_missing_ones_are_dropped(domains):
    Xs, Ys, Xt, Yt = domains
    source = MultiTaskRecommender("hard", **TINY).fit(Xs, Ys[["recommended", "rating"]])
    tuned = MultiTaskRecommender("hard", init=source, freeze="bottom", **TINY).fit(
        Xt, Yt[["helpful", "recommended"]])
    assert tuned.task_names_ == ["helpful", "recommended"]
    new_head = tuned.net_.module_.heads[0]
    assert all(p.requires_grad for p in new_head.parameters())
    assert not torch.equal(new_head.out.weight, source.net_.module_.heads[0].out.weight[:1])
    assert tuned.predict(Xt).shape == (len(Xt), 2)


def test_partial_fit_starts_from_the_source_and_keeps_layers_frozen(domains, source_mmoe):
    _, _, Xt, Yt = domains
    model = MultiTaskRecommender("mmoe", init=source_mmoe, freeze="bottom", **TINY)
    experts = source_mmoe.net_.module_.experts.weights[0].detach().clone()
    for chunk in np.array_split(np.arange(len(Xt)), 3):
        model.partial_fit(Xt.iloc[chunk], Yt.iloc[chunk])
    assert torch.equal(model.net_.module_.experts.weights[0], experts)
    assert model.n_epochs_ == 3


def test_save_load_and_pickle_keep_the_weights_and_the_frozen_layers(domains, source_mmoe,
                                                                     tmp_path):
    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=FrozenEstimator(source_mmoe), freeze="bottom",
                                 **TINY).fit(Xt, Yt)
    tuned.save(tmp_path / "tuned.zip")
    loaded = load(tmp_path / "tuned.zip")
    assert loaded.init is None and loaded.freeze == "bottom"
    np.testing.assert_allclose(_proba(loaded, Xt), _proba(tuned, Xt), atol=1e-6)
    for model in (loaded, pickle.loads(pickle.dumps(tuned))):
        frozen = [n for n, p in model.net_.module_.named_parameters() if not p.requires_grad]
        assert frozen == [n for n, p in tuned.net_.module_.named_parameters()
                          if not p.requires_grad]
    experts = loaded.net_.module_.experts.weights[0].detach().clone()
    loaded.partial_fit(Xt, Yt)
    assert torch.equal(loaded.net_.module_.experts.weights[0], experts)


@pytest.mark.slow
def test_onnx_export_of_a_fine_tuned_model(domains, source_mmoe, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from sklearn_mtl.export import onnx_inputs, to_onnx

    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, **TINY).fit(Xt, Yt)
    meta = to_onnx(tuned, tmp_path / "tuned.onnx")
    out = ort.InferenceSession(str(tmp_path / "tuned.onnx")).run(meta["outputs"],
                                                                  onnx_inputs(tuned, Xt))
    np.testing.assert_allclose(out[0], tuned.predict_proba(Xt)[0], atol=1e-5)


def test_clone_keeps_a_frozen_source_and_unfits_a_plain_one(domains, source_mmoe):
    _, _, Xt, Yt = domains
    kept = clone(MultiTaskRecommender("mmoe", init=FrozenEstimator(source_mmoe), **TINY))
    assert kept.init.estimator is source_mmoe
    plain = clone(MultiTaskRecommender("mmoe", init=source_mmoe, **TINY))
    with pytest.raises(ValueError, match="not fitted.*FrozenEstimator"):
        plain.fit(Xt, Yt)


@pytest.mark.parametrize("change, match", [
    ({"architecture": "hard"}, "init is a 'mmoe' model and this one is 'hard'"),
    ({"hidden_units": (16,)}, r"init has hidden_units=\(8,\) and this model hidden_units=\(16,\)"),
    ({"n_experts": 3}, "init has n_experts=2 and this model n_experts=3"),
    ({"freeze": "towers"}, "freeze='towers' is not valid"),
    ({"init": "source.zip"}, "init='source.zip' is not valid"),
])
def test_a_source_that_cannot_carry_over_is_refused(domains, source_mmoe, change, match):
    _, _, Xt, Yt = domains
    params = {**TINY, "architecture": "mmoe", "init": source_mmoe, **change}
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**params).fit(Xt, Yt)


def test_freeze_without_a_source_and_other_columns_are_refused(domains, source_mmoe):
    _, _, Xt, Yt = domains
    with pytest.raises(ValueError, match="freeze='bottom' needs a source model"):
        MultiTaskRecommender("mmoe", freeze="bottom", **TINY).fit(Xt, Yt)
    with pytest.raises(ValueError, match="init was fitted with the numeric columns"):
        MultiTaskRecommender("mmoe", init=source_mmoe, **TINY).fit(
            Xt.assign(height=1.0), Yt)


def test_comparison_never_refits_the_source_on_target_rows(domains, source_mmoe):
    # The source is fitted outside the comparison on Tops and Dresses only; compare_transfer
    # clones the fine-tuned model for every split, and the source inside must stay the one
    # fitted before: same weights, same history, no target row in its vocabularies.
    Xs, Ys, Xt, Yt = domains
    before = source_mmoe._fitted_digest()
    report = compare_transfer(
        {"fine-tuned": MultiTaskRecommender("mmoe", init=FrozenEstimator(source_mmoe), **TINY)},
        Xt, Yt[["recommended", "helpful"]], reference=MultiTaskRecommender("mmoe", **TINY),
        cv=2, n_repeats=1, random_state=0)
    assert source_mmoe._fitted_digest() == before and source_mmoe.n_epochs_ == 2
    j = source_mmoe.categorical_features_.index("department_name")
    assert "Jackets" not in set(source_mmoe._features.vocabularies_[j])
    assert set(Xs["department_name"]) == {"Tops", "Dresses"}
    summary = report.summary()
    assert set(summary.index.get_level_values(0)) == {"fine-tuned"} and len(summary) == 2
    # A comparison's stored identity tells two sources with the same parameters apart.
    other = clone(source_mmoe).set_params(random_state=1).fit(Xs.iloc[:300], Ys.iloc[:300])
    other.set_params(random_state=0)
    assert describe(FrozenEstimator(other)) != describe(FrozenEstimator(source_mmoe))


def test_fit_on_a_parquet_source_starts_from_the_source_model(domains, source_mmoe, tmp_path):
    pytest.importorskip("pyarrow")
    from sklearn_mtl.sources import ParquetSource

    _, _, Xt, Yt = domains
    Xt.join(Yt).to_parquet(tmp_path / "jackets.parquet")
    files = ParquetSource(tmp_path / "jackets.parquet", targets=list(Yt.columns), batch_rows=200)
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, freeze="bottom", **TINY).fit(files)
    assert torch.equal(tuned.net_.module_.experts.weights[0],
                       source_mmoe.net_.module_.experts.weights[0])
    j = tuned.categorical_features_.index("department_name")
    assert list(tuned._features.vocabularies_[j])[-1] == "Jackets"
    assert tuned.predict(Xt).shape == (len(Xt), 3)


@pytest.mark.slow
def test_data_parallel_fine_tuning_keeps_the_frozen_layers(domains, source_mmoe):
    _, _, Xt, Yt = domains
    tuned = MultiTaskRecommender("mmoe", init=source_mmoe, freeze="bottom", devices=2,
                                 device="cpu", **TINY).fit(Xt, Yt)
    frozen = [n for n, p in tuned.net_.module_.named_parameters() if not p.requires_grad]
    assert "experts.weights.0" in frozen
    assert torch.equal(tuned.net_.module_.experts.weights[0],
                       source_mmoe.net_.module_.experts.weights[0])
