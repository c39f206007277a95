"""Task weights as a tuned parameter: the default spaces' fixed weight per task, and judging a
remedy (uncertainty, GradNorm, DWA, PCGrad, CAGrad) against the tuned fixed weighting."""

import json

import numpy as np
import optuna
import pytest
from conftest import TINY_NET
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl._architectures import ARCHITECTURES
from sklearn_mtl.tuning import default_search_space, tune

WEIGHTS = ["task_weights[0]", "task_weights[1]"]
QUICK = {**TINY_NET, "max_epochs": 1}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_default_space_of_every_net_tunes_a_fixed_weight_per_task(architecture):
    space = default_search_space(MultiTaskRecommender(architecture), n_tasks=2)
    assert set(WEIGHTS) <= set(space) and "task_weights[2]" not in space
    for name in WEIGHTS:
        assert space[name].log and (space[name].low, space[name].high) == (0.1, 10.0)
    # Without the number of tasks, or with one task, there is nothing to weigh.
    assert not any("[" in name for name in default_search_space(MultiTaskRecommender(architecture)))
    assert not any("[" in name for name in default_search_space(MultiTaskRecommender(architecture),
                                                                n_tasks=1))


def test_lgbm_space_has_no_task_weights_and_pipeline_weights_carry_the_prefix():
    assert not any("task_weights" in n for n in default_search_space(PerTaskLGBM(), n_tasks=3))
    pipe = Pipeline([("id", FunctionTransformer()), ("model", MultiTaskRecommender("hard"))])
    space = default_search_space(pipe, n_tasks=3)
    assert {"model__task_weights[0]", "model__task_weights[2]"} <= set(space)


def test_tuned_fixed_weights_reach_the_fitted_net(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:400], Y.iloc[:400]
    net = MultiTaskRecommender("hard", **QUICK)
    # The tuned fixed weighting: the default space with the loss weighting held static.
    space = {k: d for k, d in default_search_space(net, n_tasks=2).items()
             if k not in ("task_weights", "gradient_method")}
    result = tune(net, X, Y, n_trials=3, search_space=space, random_state=0)
    for number in (1, 2):
        params = result.trial_params(number)
        drawn = [result.study.trials[number].params[w] for w in WEIGHTS]
        # The weights are the sampled ones, scaled to mean 1.
        np.testing.assert_allclose(params["task_weights"], np.array(drawn) * 2 / sum(drawn))
        assert not any("[" in name for name in params)
    chosen = result.refit_trial(1)
    np.testing.assert_allclose(chosen.task_weights_, result.trial_params(1)["task_weights"],
                               rtol=1e-6)
    json.dumps(result.trial_params(1))  # best_params.json can hold them


def test_default_tuning_draws_task_weights_only_for_static_weighting(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:400], Y.iloc[:400]
    net = MultiTaskRecommender("hard", **QUICK)
    space = default_search_space(net, n_tasks=2)
    space["task_weights"] = optuna.distributions.CategoricalDistribution([None, "uncertainty"])
    space = {k: d for k, d in space.items() if k in ("task_weights", *WEIGHTS)}
    result = tune(net, X, Y, n_trials=5, search_space=space, random_state=0, pruner=None)
    kinds = set()
    for trial in result.study.trials[1:]:
        params = result.trial_params(trial)
        if trial.params["task_weights"] is None:
            assert len(params["task_weights"]) == 2 and np.isclose(np.mean(params["task_weights"]), 1)
            kinds.add("fixed")
        else:
            assert params["task_weights"] == "uncertainty"
            kinds.add("uncertainty")
    assert kinds == {"fixed", "uncertainty"}


@pytest.mark.parametrize("space, message", [
    ({"task_weights[0]": optuna.distributions.FloatDistribution(0.1, 10)},
     r"1 per-task weights \['task_weights\[0\]'\] but Y has 2 tasks"),
    ({"task_weights[0]": optuna.distributions.FloatDistribution(0.1, 10),
      "task_weights[1]": optuna.distributions.FloatDistribution(0.1, 10),
      "task_weights[2]": optuna.distributions.FloatDistribution(0.1, 10)},
     r"3 per-task weights .* but Y has 2 tasks"),
    ({"task_weight[0]": optuna.distributions.FloatDistribution(0.1, 10)},
     r"search_space names parameter\(s\) \['task_weight\[0\]'\]"),
])
def test_bad_per_task_weights_are_refused_before_any_trial(census_1500, space, message):
    X, Y = census_1500
    with pytest.raises(ValueError, match=message):
        tune(MultiTaskRecommender("hard", **QUICK), X.iloc[:200], Y.iloc[:200], n_trials=1,
             search_space=space)


@pytest.mark.slow
def test_remedy_against_tuned_fixed_weights_in_one_comparison(census_1500):
    """The documented recipe: the same net, the same space and budget, the weighting differs."""
    X, Y = census_1500
    X, Y = X.iloc[:500], Y.iloc[:500]
    net = MultiTaskRecommender("hard", **QUICK)
    base = {k: d for k, d in default_search_space(net, n_tasks=2).items()
            if k in ("lr", *WEIGHTS)}
    remedy_space = {k: d for k, d in base.items() if k not in WEIGHTS}
    report = compare_transfer(
        {"uncertainty": net.set_params(task_weights="uncertainty")},
        X, Y, reference=MultiTaskRecommender("hard", **QUICK), cv=2, n_repeats=1,
        random_state=0,
        tune={"n_trials": 2, "space": {"uncertainty": remedy_space, "reference": base}})
    tuning = report.tuning.set_index(["model", "split"])
    for (model, _), params in tuning["best_params"].items():
        if model == "reference" and params:
            assert len(params["task_weights"]) == 2
        if model == "uncertainty":
            assert "task_weights" not in params  # the remedy keeps its own weighting
    assert report.summary().loc[("uncertainty", "income")]["n_pairs"] == 2
