"""scikit-learn's reference suite over both estimators, MultiTaskRecommender and PerTaskLGBM.

Generated data only: these checks run without ../shared/data.
"""

from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM

# Every check passes except these, each with the reason it cannot hold for this estimator.
_MINIBATCH = (
    "shuffled minibatch training with a validation split: a row weighted 2 is not the same run "
    "as the row repeated"
)
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _MINIBATCH,
    "check_sample_weight_equivalence_on_sparse_data": _MINIBATCH,
}
# Every scikit-learn check passes for PerTaskLGBM; a failing one would be listed here with its reason.
LGBM_EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _expected_failed_checks(estimator):
    if isinstance(estimator, PerTaskLGBM):
        return LGBM_EXPECTED_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS


def _small(architecture):
    return MultiTaskRecommender(
        architecture=architecture,
        hidden_units=(8,),
        tower_units=(4,),
        n_experts=2,
        max_epochs=3,
        batch_size=32,
        random_state=0,
    )


@parametrize_with_checks(
    [
        *[_small(a) for a in ("hard", "mmoe", "soft", "single", "omoe", "cgc", "ple", "esmm",
                              "aitm")],
        PerTaskLGBM(n_estimators=5, random_state=0, n_jobs=1),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# Loss balancing, gradient surgery and task affinity change the training step: same contract.
_BALANCING = [
    ("hard", {"task_weights": "gradnorm", "gradient_method": "pcgrad"}),
    ("mmoe", {"task_weights": "dwa", "gradient_method": "cagrad"}),
    ("hard", {"track_task_affinity": True}),
]


@parametrize_with_checks(
    [_small(a).set_params(**params) for a, params in _BALANCING],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_with_balancing(estimator, check):
    check(estimator)


def test_dataframe_column_names_consistency():
    # Not in parametrize_with_checks' default set, and DataFrames are PerTaskLGBM's main input.
    check_dataframe_column_names_consistency("PerTaskLGBM", PerTaskLGBM(n_estimators=5, n_jobs=1))
