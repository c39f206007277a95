"""ParquetSource (sklearn_mtl.sources) and fit / predict from it (sklearn_mtl._recommender._source):
census rows written to Parquet files in tmp_path, read back in record batches."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, load  # noqa: E402
from sklearn_mtl._recommender._source import SourceDataset, SourceLoader  # noqa: E402
from sklearn_mtl.features import FeatureEncoder  # noqa: E402
from sklearn_mtl.metrics import make_multitask_scorer, per_task_scores  # noqa: E402
from sklearn_mtl.sources import ParquetSource  # noqa: E402
from sklearn_mtl.sources._encoders import FeatureStatistics, TargetStatistics  # noqa: E402
from sklearn_mtl.tasks import TargetEncoder  # noqa: E402

TASKS = ["income", "never_married"]
SMALL = dict(hidden_units=(16,), tower_units=(8,), batch_size=128, lr=1e-2, max_epochs=3,
             random_state=0)


@pytest.fixture(scope="module")
def census_files(census_small, tmp_path_factory):
    """The first 4,000 rows of census_small in 4 files of 4 row groups each; the rest held out."""
    X, Y = census_small
    folder = tmp_path_factory.mktemp("census_parquet")
    frame = X.join(Y).iloc[:4000]
    for i in range(4):
        frame.iloc[i * 1000 : (i + 1) * 1000].to_parquet(folder / f"part-{i}.parquet",
                                                         row_group_size=250)
    return folder, frame, (X.iloc[4000:], Y.iloc[4000:])


def test_fit_and_predict_from_a_directory_of_files(census_files):
    folder, frame, (X_test, Y_test) = census_files
    source = ParquetSource(folder, targets=TASKS, batch_rows=200, shuffle_rows=1000)
    assert source.n_rows == 4000 and len(source.row_groups()) == 16
    model = MultiTaskRecommender("mmoe", n_experts=2, **SMALL).fit(source)
    assert model.task_names_ == TASKS and model.tasks_ == ["binary", "binary"]
    assert list(model.feature_names_in_) == list(X_test.columns)
    assert model.n_epochs_ == 3 and np.isfinite(model.history_[-1, "valid_score_income"])
    assert model.score(X_test, Y_test) > 0.85
    # predict on a source streams it and gives what predict on the same rows in memory gives
    features = ParquetSource(folder / "part-1.parquet", batch_rows=300)
    np.testing.assert_allclose(model.predict_proba(features)[0],
                               model.predict_proba(frame.iloc[1000:2000][X_test.columns])[0],
                               rtol=1e-5)
    assert model.predict(features).shape == (1000, 2)


def test_streamed_encoders_equal_in_memory_ones(census_files):
    folder, frame, _ = census_files
    X = frame.drop(columns=TASKS).copy()
    X.loc[X.index[::5], "age"] = np.nan  # a column with NaN: median imputation and indicator
    feature_stats = FeatureStatistics("auto", 3, "auto", n_rows=len(X))
    target_stats = TargetStatistics("auto", one_d=False)
    for start in range(0, len(X), 700):
        feature_stats.update(X.iloc[start : start + 700])
        target_stats.update(frame[TASKS].iloc[start : start + 700])
    streamed, memory = feature_stats.finish(), FeatureEncoder("auto", 3, "auto").fit(X)
    assert streamed.cardinalities_ == memory.cardinalities_
    assert streamed.indicator_columns_ == memory.indicator_columns_ == ["age"]
    assert all(set(a) == set(b) for a, b in zip(streamed.vocabularies_, memory.vocabularies_))
    np.testing.assert_allclose(streamed.mean_, memory.mean_, rtol=1e-12)
    np.testing.assert_allclose(streamed.scale_, memory.scale_, rtol=1e-12)
    np.testing.assert_allclose(streamed.median_, memory.median_)
    targets = target_stats.finish()
    fitted = TargetEncoder().fit(frame[TASKS])
    assert targets.kinds_ == fitted.kinds_
    assert [c.tolist() for c in targets.classes_] == [c.tolist() for c in fitted.classes_]


def test_a_first_batch_without_positives_still_gets_both_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000)
    y = (x > 1.5).astype(int)
    order = np.argsort(y, kind="stable")  # every positive in the last row groups
    pd.DataFrame({"x": x[order], "y": y[order]}).to_parquet(tmp_path / "d.parquet",
                                                             row_group_size=500)
    source = ParquetSource(tmp_path / "d.parquet", "y", batch_rows=700)
    model = MultiTaskRecommender("hard", **SMALL).fit(source)
    assert model.classes_[0].tolist() == [0, 1]
    assert model.predict(pd.DataFrame({"x": [3.0, -3.0]})).tolist() == [1, 0]  # a 1-D y
    # score reads the one target as a 1-D y, as fit did
    assert model.score(source) == pytest.approx(
        model.score(pd.DataFrame({"x": x[order]}), pd.Series(y[order], name="y")), abs=1e-6)


def test_validation_rows_are_the_same_on_rerun_and_follow_the_key(census_files, tmp_path):
    folder, _, _ = census_files
    histories = []
    for _ in range(2):
        model = MultiTaskRecommender("hard", **SMALL).fit(
            ParquetSource(folder, targets=TASKS, shuffle_rows=600))
        histories.append([(h["train_loss"], h["valid_loss"]) for h in model.history_])
    assert histories[0] == histories[1]
    events = pd.DataFrame({"user_id": np.repeat(np.arange(200), 10), "x": np.arange(2000.0),
                           "click": np.tile([0, 1], 1000)})
    events.to_parquet(tmp_path / "events.parquet", row_group_size=300)
    source = ParquetSource(tmp_path / "events.parquet", targets=["click"], key="user_id")
    _, read = next(source.iter_frames(columns=["user_id"]))
    mask = source.validation_mask(read, 0.2)
    side = pd.Series(mask).groupby(read["user_id"].to_numpy()).nunique()
    assert (side == 1).all() and 0.05 < mask.mean() < 0.4  # every user on one side


def test_loader_reads_every_training_row_once_an_epoch_in_a_new_order(census_files):
    folder, _, _ = census_files
    source = ParquetSource(folder, targets=TASKS, batch_rows=100, shuffle_rows=500)
    features = FeatureEncoder().fit(pd.read_parquet(folder).drop(columns=TASKS))
    targets = TargetEncoder().fit(pd.read_parquet(folder)[TASKS])
    data = SourceDataset(source, features, targets, [], part="train", fraction=0.1,
                         n_rows=0, device="cpu")
    loader = SourceLoader(data, batch_size=64, shuffle=True, seed=0)
    epochs = [[X["x_num"][:, 0].tolist() for X, _ in loader] for _ in range(2)]
    sizes = [len(b) for b in epochs[0]]
    assert all(s == 64 for s in sizes[:-1])
    n_train = sum(sizes)
    assert 3400 < n_train < 3800  # the validation hash keeps ~10 %
    assert sum(len(b) for b in epochs[1]) == n_train
    first, second = (sorted(x for b in e for x in b) for e in epochs)
    np.testing.assert_allclose(first, second)  # the same rows
    assert epochs[0][0] != epochs[1][0]  # in another order


def test_glob_single_file_and_list_paths(census_files):
    folder, _, _ = census_files
    assert ParquetSource(str(folder / "part-*.parquet"), TASKS).n_rows == 4000
    assert ParquetSource(folder / "part-2.parquet", TASKS).n_rows == 1000
    assert ParquetSource([folder / "part-0.parquet", folder / "part-3.parquet"], TASKS).n_rows == 2000
    with pytest.raises(ValueError, match="does not exist"):
        ParquetSource(folder / "nothing.parquet", TASKS).files()
    with pytest.raises(ValueError, match="matches no Parquet file"):
        ParquetSource(str(folder / "none-*.parquet"), TASKS).files()


def test_bad_sources_are_refused_naming_the_file_and_column(census_files, tmp_path):
    folder, frame, _ = census_files
    part = frame.iloc[:300]
    part.to_parquet(tmp_path / "a.parquet")
    part.drop(columns="education").to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"files disagree on columns: .*b\.parquet lacks column "
                                         r"'education', which .*a\.parquet has"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS))
    (tmp_path / "b.parquet").unlink()
    part.drop(columns="never_married").to_parquet(tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"target column 'never_married' is missing from "
                                         r".*c\.parquet"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS))
    (tmp_path / "c.parquet").unlink()
    part.astype({"age": "float64"}).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match=r"disagree on column 'age': it is double in .*d\.parquet"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS))
    (tmp_path / "d.parquet").unlink()
    with pytest.raises(ValueError, match="y must be None when X is a ParquetSource"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS), frame[TASKS])
    with pytest.raises(ValueError, match="names no target column"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path))
    with pytest.raises(ValueError, match="key='user' is not a column"):
        MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS, key="user"))
    model = MultiTaskRecommender(**SMALL).fit(ParquetSource(tmp_path, TASKS))
    part.drop(columns="age").to_parquet(tmp_path / "e.parquet")
    with pytest.raises(ValueError, match=r"column 'age', which the model was fitted on, is missing"):
        model.predict(ParquetSource(tmp_path / "e.parquet"))


def test_a_model_fitted_from_files_pickles_saves_and_streams_on(census_files, tmp_path):
    folder, frame, (X_test, Y_test) = census_files
    model = MultiTaskRecommender("hard", **SMALL).fit(ParquetSource(folder, TASKS))
    blob = pickle.dumps(model)
    assert b"ParquetSource" not in blob and b"SourceLoader" not in blob
    model.save(tmp_path / "m.zip")
    for other in (pickle.loads(blob), load(tmp_path / "m.zip")):
        np.testing.assert_allclose(other.predict_proba(X_test)[1], model.predict_proba(X_test)[1],
                                   rtol=1e-6)
    model.partial_fit(X_test, Y_test)  # and it takes in-memory chunks afterwards
    assert model.n_epochs_ == 4


@pytest.fixture(scope="module")
def cascade_files(census_small, tmp_path_factory):
    """4,000 census rows with a user column, a parent task and a child labelled 0 off the
    parent's positives, in 3 files of uneven row groups."""
    X, Y = census_small
    frame = X.iloc[:4000].assign(
        user=np.arange(4000) % 53,
        never_married=Y["never_married"].iloc[:4000],
        income=Y["income"].iloc[:4000] * Y["never_married"].iloc[:4000])
    folder = tmp_path_factory.mktemp("cascade_parquet")
    for i, rows in enumerate(np.array_split(np.arange(4000), 3)):
        frame.iloc[rows].to_parquet(folder / f"part-{i}.parquet", row_group_size=400)
    return folder, frame, list(X.columns)


@pytest.mark.slow  # eleven streamed passes over 4,000 rows: 14 s
def test_score_gates_and_conditional_proba_on_a_source_equal_those_on_its_rows(cascade_files):
    folder, frame, features = cascade_files
    tasks = ["never_married", "income"]
    source = ParquetSource(folder, tasks, features=features, batch_rows=300)
    model = MultiTaskRecommender("mmoe", n_experts=2, cascade={"income": "never_married"},
                                 **SMALL).fit(source)
    X, Y = frame[features], frame[tasks]
    # y=None: the labels are the source's target columns, as in fit
    assert model.score(source) == pytest.approx(model.score(X, Y), abs=1e-6)
    for metric, groups in ((["roc_auc", "average_precision"], None), ("gauc", "user")):
        streamed = per_task_scores(model, source, metric=metric, groups=groups)
        memory = per_task_scores(model, X, Y, metric=metric,
                                 groups=None if groups is None else frame[groups])
        assert list(streamed) == tasks
        np.testing.assert_allclose(list(streamed.values()), list(memory.values()), atol=1e-6)
    assert make_multitask_scorer(group_by="user", metric="gauc")(model, source) == pytest.approx(
        make_multitask_scorer(metric="gauc")(model, X, Y, groups=frame["user"]), abs=1e-6)
    # the source also holds the targets and the users: only the model's features are read
    np.testing.assert_allclose(model.gate_weights(source), model.gate_weights(X), atol=1e-6)
    conditional = model.predict_conditional_proba(source)
    for streamed, memory in zip(conditional, model.predict_conditional_proba(X)):
        np.testing.assert_allclose(streamed, memory, atol=1e-6)
    assert not np.allclose(conditional[1], model.predict_proba(X)[1])  # pCVR, not pCTCVR
    features_only = ParquetSource(folder / "part-1.parquet", features=features)
    assert model.gate_weights(features_only).shape == (1333, 2, 2)


def test_sources_that_cannot_be_scored_are_refused_naming_what(cascade_files, tmp_path):
    folder, frame, features = cascade_files
    tasks = ["never_married", "income"]
    model = MultiTaskRecommender("hard", **SMALL).fit(frame[features], frame[tasks])
    source = ParquetSource(folder, tasks, features=features)
    with pytest.raises(ValueError, match=r"Y must be None when X is a ParquetSource: its targets "
                                         r"are the columns named by targets="):
        model.score(source, frame[tasks])
    with pytest.raises(ValueError, match="names no target column: give targets=.* to score on it"):
        model.score(ParquetSource(folder, features=features))
    with pytest.raises(ValueError, match=r"Y has task columns \['income', 'never_married'\] but "
                                         r"the estimator was fitted on"):
        model.score(ParquetSource(folder, tasks[::-1], features=features))
    with pytest.raises(ValueError, match=r"column 'session' is missing from .*part-0\.parquet"):
        per_task_scores(model, source, metric="gauc", groups="session")
    with pytest.raises(ValueError, match="requires y to be passed"):
        model.score(frame[features])  # y=None is for sources only
    part = frame.iloc[:500]
    part.to_parquet(tmp_path / "a.parquet")
    part.drop(columns="income").to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"target column 'income' is missing from .*b\.parquet"):
        model.score(ParquetSource(tmp_path, tasks))
    part.drop(columns=["income", "age"]).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"files disagree on columns: .*b\.parquet lacks column "
                                         r"'age'"):
        model.predict_conditional_proba(ParquetSource(tmp_path))
    with pytest.raises(TypeError, match="partial_fit takes one chunk in memory, not a "
                                        "ParquetSource"):
        model.partial_fit(source, None)
    lgbm = PerTaskLGBM(n_estimators=5, verbose=-1).fit(frame[features], frame[tasks])
    with pytest.raises(TypeError, match="PerTaskLGBM cannot take a ParquetSource here"):
        lgbm.score(source)


def test_a_hive_partitioned_layout_is_refused_naming_the_folder_column(census_files, tmp_path):
    _, frame, _ = census_files
    for region, part in (("a", frame.iloc[:500]), ("b", frame.iloc[500:1000])):
        (tmp_path / f"region={region}").mkdir()
        part.to_parquet(tmp_path / f"region={region}" / "part.parquet")
    # pandas reads the folder names as a column; the source must not drop it without a word.
    assert "region" in pd.read_parquet(tmp_path).columns
    with pytest.raises(ValueError, match=r"ParquetSource: .*region=a.part.parquet is in a "
                                         r"partitioned \(Hive\) layout: its folder 'region=a' "
                                         r"holds column 'region', which is in no file"):
        ParquetSource(tmp_path, targets=TASKS).files()
    # The files themselves, named on purpose, are read without the folder column.
    files = sorted(str(p) for p in tmp_path.rglob("*.parquet"))
    assert ParquetSource(files, targets=TASKS).n_rows == 1000


def test_an_integer_column_with_missing_values_in_one_file_is_read_as_nullable_int(
        census_files, tmp_path):
    _, frame, _ = census_files
    first, second = frame.iloc[:500].copy(), frame.iloc[500:1000].copy()
    column = next(c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c].dtype)
                  and c not in TASKS)
    second[column] = second[column].astype("Int64")
    second.iloc[3, second.columns.get_loc(column)] = pd.NA
    first.to_parquet(tmp_path / "part-0.parquet")
    second.to_parquet(tmp_path / "part-1.parquet")
    source = ParquetSource(tmp_path, targets=TASKS, batch_rows=200)
    assert {str(f[column].dtype) for _, f in source.iter_frames()} == {"Int64"}
    model = MultiTaskRecommender("hard", **{**SMALL, "max_epochs": 1}).fit(source)
    assert model.predict(source).shape == (1000, 2)


def test_per_task_lgbm_says_it_trains_in_memory_and_how(census_files):
    folder, _, _ = census_files
    with pytest.raises(TypeError, match=r"PerTaskLGBM trains in memory, as LightGBM does: it "
                                        r"does not read ParquetSource\(.*\) batch by batch. "
                                        r"Read its rows into a DataFrame .*pd.read_parquet"):
        PerTaskLGBM().fit(ParquetSource(folder, targets=TASKS))
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        PerTaskLGBM().fit(np.zeros((5, 2)))


class FrameSource:
    """A source of another kind than Parquet: rows of a DataFrame, read in chunks. It has the
    members of sklearn_mtl.sources.RowSource and nothing from ParquetSource."""

    def __init__(self, frame, targets, batch_rows=500, shuffle_rows=1000):
        self.frame, self.targets, self.features, self.key = frame, targets, None, None
        self.batch_rows, self.shuffle_rows = batch_rows, shuffle_rows

    feature_columns = property(lambda self: [c for c in self.frame if c not in self.targets])
    target_columns = property(lambda self: list(self.targets))
    one_d = property(lambda self: False)
    n_rows = property(lambda self: len(self.frame))

    def row_groups(self):
        return [(None, i, start, self.batch_rows)
                for i, start in enumerate(range(0, len(self.frame), self.batch_rows))]

    def iter_frames(self, columns=None, order=None, with_targets=True):
        groups = self.row_groups()
        for i in range(len(groups)) if order is None else order:
            start = groups[i][2]
            chunk = self.frame.iloc[start : start + self.batch_rows].reset_index(drop=True)
            chunk.index = chunk.index + start
            yield start, chunk if columns is None else chunk[list(columns)]

    def read_columns(self, columns):
        return self.frame[list(columns)]

    def check_columns(self, columns, why=""):
        missing = [c for c in columns if c not in self.frame]
        if missing:
            raise ValueError(f"column {missing[0]!r}{why} is missing")

    def validation_mask(self, frame, fraction):
        return (frame.index.to_numpy() % 10) < 10 * fraction


def test_a_source_of_another_kind_fits_and_predicts_through_the_protocol(census_files):
    from sklearn_mtl.sources import RowSource, is_source

    _, frame, (X_test, Y_test) = census_files
    source = FrameSource(frame.reset_index(drop=True), TASKS)
    assert isinstance(source, RowSource) and is_source(source) and not is_source(frame)
    model = MultiTaskRecommender("hard", **SMALL).fit(source)
    assert model.n_epochs_ == 3 and np.isfinite(model.history_[-1, "valid_loss"])
    assert model.score(X_test, Y_test) > 0.8
    np.testing.assert_allclose(model.predict_proba(FrameSource(X_test.iloc[:300], []))[0],
                               model.predict_proba(X_test.iloc[:300])[0], rtol=1e-5)
