"""PerDomain: one model per domain, and the shared model compared with it domain by domain."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_validate

from sklearn_mtl import PerDomain, PerTaskLGBM, compare_transfer


@pytest.fixture(scope="module")
def clothing(data_home):
    from sklearn_mtl.datasets import fetch_womens_clothing_reviews

    X, Y = fetch_womens_clothing_reviews(data_home=data_home, download_if_missing=False,
                                         return_X_y=True)
    keep = X["department_name"].notna().to_numpy()
    X = X.loc[keep, ["clothing_id", "age", "department_name", "class_name"]]
    Y = Y[keep]
    idx = np.random.default_rng(0).choice(len(X), size=1500, replace=False)
    X = X.iloc[idx].reset_index(drop=True).astype({"department_name": str, "class_name": str})
    return X, Y.iloc[idx].reset_index(drop=True)


def _lgbm(**kw):
    return PerTaskLGBM(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1, **kw)


def test_each_domain_model_is_fitted_on_its_rows_only(clothing):
    X, Y = clothing
    model = PerDomain(_lgbm(), "department_name").fit(X, Y)
    assert list(model.domains_) == sorted(X["department_name"].unique())
    assert model.task_names_ == ["recommended", "rating", "helpful"]
    for value in ("Tops", "Dresses"):
        rows = (X["department_name"] == value).to_numpy()
        alone = _lgbm().fit(X[rows], Y[rows])
        np.testing.assert_allclose(model.predict(X[rows]), alone.predict(X[rows]))
    # Rows are routed to their own domain's model whatever their order.
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(model.predict(X.iloc[order]), model.predict(X)[order])


def test_predict_proba_aligns_classes_a_domain_lacks(clothing):
    X, Y = clothing
    Y = Y.copy()
    jackets = (X["department_name"] == "Jackets").to_numpy()
    Y.loc[jackets & (Y["rating"] == 1).to_numpy(), "rating"] = 2.0  # no 1 star among jackets
    tasks = {"rating": "multiclass"}
    model = PerDomain(_lgbm(tasks=tasks), "department_name").fit(X, Y)
    assert model.classes_[1].tolist() == [1, 2, 3, 4, 5]
    assert model.estimators_["Jackets"].classes_[1].tolist() == [2, 3, 4, 5]
    proba = model.predict_proba(X)
    assert [p.shape[1] for p in proba] == [2, 5, 2]
    np.testing.assert_allclose(proba[1][jackets, 0], 0.0)  # the class that domain never saw
    np.testing.assert_allclose(proba[1].sum(axis=1), 1.0)
    assert 0 < model.score(X, Y) < 1


def test_per_domain_clones_pickles_and_cross_validates(clothing):
    X, Y = clothing
    keep = (X["department_name"] != "Trend").to_numpy()  # too few rows for every fold
    X, Y = X[keep], Y[keep]
    model = PerDomain(_lgbm(), "department_name")
    assert clone(model).get_params()["estimator__n_estimators"] == 15
    fitted = model.fit(X, Y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict(X), fitted.predict(X))
    scores = cross_validate(model, X, Y, cv=3)["test_score"]
    assert np.isfinite(scores).all()


def test_bad_domains_are_refused(clothing):
    X, Y = clothing
    with pytest.raises(ValueError, match="domain='market' is not a column of X"):
        PerDomain(_lgbm(), "market").fit(X, Y)
    with pytest.raises(ValueError, match="domain='x' is not valid for an X without column names"):
        PerDomain(_lgbm(), "x").fit(X[["age"]].to_numpy(), Y)
    gaps = X.assign(department_name=X["department_name"].where(X.index > 0))
    with pytest.raises(ValueError, match="has 1 missing values"):
        PerDomain(_lgbm(), "department_name").fit(gaps, Y)
    model = PerDomain(_lgbm(), "department_name").fit(X[X["department_name"] != "Trend"],
                                                      Y[X["department_name"] != "Trend"])
    with pytest.raises(ValueError, match="X holds domains \\['Trend'\\] that fit never saw"):
        model.predict(X)


def test_shared_model_against_one_model_per_domain_per_domain_and_task(clothing, tmp_path):
    X, Y = clothing
    keep = (X["department_name"] != "Trend").to_numpy()  # too few rows for every fold
    X, Y = X[keep].reset_index(drop=True), Y[keep].reset_index(drop=True)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    shared = _lgbm(max_depth=4)
    report = compare_transfer({"shared": shared}, X, Y, cv=folds, segments="department_name",
                              reference=PerDomain(shared, "department_name"))
    assert "against one PerTaskLGBM per 'department_name' (PerDomain) (" in repr(report)
    report.to_html(tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "Each model against one PerTaskLGBM per &#x27;department_name&#x27; (PerDomain)" in html
    assert "single-task reference" not in html
    table = report.segments()
    departments = set(table.index.get_level_values("segment"))
    assert departments == set(X["department_name"])
    assert set(table.index.get_level_values("task")) == {"recommended", "rating", "helpful"}
    # The per-domain side is scored on the same test rows: its per-segment rows add up to them.
    seg = report.segment_scores
    for split, (_, test) in enumerate(folds):
        rows = seg[(seg["fold"] == split) & (seg["model"] == "reference")
                   & (seg["task"] == "rating")]
        assert rows["n_rows"].sum() == len(test)
    assert table["verdict"].isin(["worse", "worse within margin", "better", "equivalent",
                                  "inconclusive", "too small to test"]).all()


@pytest.mark.slow
def test_cli_compare_with_domains_segments_and_fused(data_home, tmp_path, capsys):
    from sklearn_mtl.cli import main

    out = tmp_path / "out"
    code = main(["compare", "--data", "clothing", "--data-home", str(data_home), "--n-rows",
                 "1500", "--models", "lgbm", "--max-epochs", "1", "--cv", "3", "--repeats", "1",
                 "--domains", "department_name", "--segments", "age:3", "--group-by",
                 "clothing_id", "--fused", "recommended*helpful", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "the reference is one lgbm per domain" in printed
    assert "by segment (" in printed
    segments = (out / "segments.csv").read_text()
    assert "department_name" in segments and "age" in segments
    assert "fused: recommended × helpful" in (out / "summary.csv").read_text()
    assert (out / "segments.png").stat().st_size > 0
    assert "Where each model gains and loses" in (out / "report.html").read_text()
    assert main(["compare", "--data", "clothing", "--data-home", str(data_home), "--fused",
                 "recommended*helpful", "--out", str(out)]) == 2
    assert "--fused scores the fused ranking per user: give --group-by" in capsys.readouterr().err
