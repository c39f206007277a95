"""Metadata (``sample_weight``, ``groups``) handed on the way scikit-learn would hand it.

``compare_transfer`` and ``tune`` fit the user's models themselves, as ``cross_validate`` does,
and take the same metadata. With scikit-learn's metadata routing enabled
(``sklearn.set_config(enable_metadata_routing=True)``) a model receives a parameter only if it
requested it (``model.set_fit_request(sample_weight=True)``, every step of a Pipeline as it
asks), and an unset request is scikit-learn's own error naming the estimator. Without routing
the parameter goes to the model's ``fit``, or to the last step of a Pipeline, as before
routing existed. ``groups`` reach a splitter only if it is a group splitter. Imports
scikit-learn only.
"""

from __future__ import annotations

from sklearn.model_selection._split import GroupsConsumerMixin
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, _routing_enabled

from ._pipeline import step_prefix


def uses_groups(splitter) -> bool:
    """Whether a scikit-learn splitter reads ``groups`` (GroupKFold, LeaveOneGroupOut, ...)."""
    return isinstance(splitter, GroupsConsumerMixin)


def fit_params_for(model, params: dict, owner: str) -> dict:
    """The keyword arguments of ``model.fit`` that carry ``params`` (``None`` values dropped).

    ``owner`` names the caller in routing errors (``"compare_transfer"``, ``"tune"``).
    """
    params = {key: value for key, value in params.items() if value is not None}
    if not params:
        return {}
    if _routing_enabled():
        router = MetadataRouter(owner=owner).add(
            estimator=model, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        router.validate_metadata(params=params, method="fit")
        return dict(router.route_params(params=params, caller="fit").estimator.fit)
    prefix = step_prefix(model)
    return {f"{prefix}{key}": value for key, value in params.items()}
