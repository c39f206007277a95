"""What ``MultiTaskRecommender`` is, as plain values: its parameters resolved once into a spec.

As scikit-learn's ``BaseHistGradientBoosting`` checks its parameters once in ``fit`` and hands
plain values to the binner, the grower and the predictor, the estimator turns its parameters
into a :class:`RecommenderSpec` (:meth:`RecommenderSpec.from_params`) and every helper that
builds or trains the net reads that, never the estimator. What the data decides (the inputs'
widths, the categories, the classes, the cascade's links) is a :class:`NetShape`, fixed by the
fitted encoders. The two together determine the module, so its size is known without training
it (:func:`count_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets import build_module
from ._params import resolve_device


@dataclass(frozen=True)
class RecommenderSpec:
    """The checked parameters of a ``MultiTaskRecommender`` (see its docstring for each)."""

    architecture: str
    hidden_units: tuple
    tower_units: tuple
    n_experts: int
    n_levels: int
    n_shared_experts: int
    n_task_experts: int
    cascade: dict | None
    cascade_debias: str | None
    min_propensity: float
    debias_weight: float
    calibration_strength: float
    sharing_strength: float
    dropout: float
    tasks: object
    categorical_features: object
    min_frequency: object
    embedding_dim: object
    id_dropout: float
    task_weights: object
    lr: float
    weight_decay: float
    batch_size: object
    max_epochs: int
    early_stopping: bool
    validation_fraction: float | None
    patience: int
    device: str
    devices: int | None
    random_state: object
    verbose: int
    callbacks: tuple
    track_gradient_conflict: bool
    gradient_method: str | None
    gradnorm_alpha: float
    dwa_temperature: float
    cagrad_c: float
    track_task_affinity: bool
    init: object = None
    freeze: object = None

    @classmethod
    def from_params(cls, params: dict, *, device: str | None = None) -> RecommenderSpec:
        """The spec of checked parameters (``get_params`` updated with ``validate_params``'
        output); ``device`` resolved
        from ``params["device"]`` unless given (a loaded model keeps the device it has)."""
        fields = {name: params.get(name) for name in cls.__dataclass_fields__}
        arch = params["architecture"]
        fields.update(
            hidden_units=tuple(params["hidden_units"]),
            tower_units=tuple(params["tower_units"]),
            n_experts=int(params["n_experts"]),
            n_levels=int(params["n_levels"]),
            n_shared_experts=int(params["n_shared_experts"]),
            n_task_experts=int(params["n_task_experts"]),
            min_propensity=float(params["min_propensity"]),
            debias_weight=float(params["debias_weight"]),
            calibration_strength=float(params["calibration_strength"]),
            sharing_strength=float(params["sharing_strength"]) if arch == "soft" else 0.0,
            dropout=float(params["dropout"]),
            id_dropout=float(params["id_dropout"]),
            max_epochs=int(params["max_epochs"]),
            verbose=int(params["verbose"]),
            callbacks=tuple(params["callbacks"] or ()),
            gradnorm_alpha=float(params["gradnorm_alpha"]),
            dwa_temperature=float(params["dwa_temperature"]),
            cagrad_c=float(params["cagrad_c"]),
            device=resolve_device(params["device"]) if device is None else device,
        )
        return cls(**fields)

    @property
    def use_valid(self) -> bool:
        """Whether ``fit`` holds out validation rows (early stopping on a validation split)."""
        return bool(self.early_stopping) and self.validation_fraction is not None

    @property
    def n_devices(self) -> int:
        return 1 if self.devices is None else int(self.devices)


@dataclass(frozen=True)
class NetShape:
    """What the data fixes of the net: inputs, outputs and the cascade's ``(child, parent)``
    task indices, read from the fitted encoders (:meth:`of`)."""

    n_numeric: int
    cardinalities: tuple
    embedding_dims: tuple
    n_outputs: tuple
    kinds: tuple
    names: tuple
    links: tuple

    @classmethod
    def of(cls, features, targets, links) -> NetShape:
        return cls(n_numeric=int(features.n_numeric_inputs_),
                   cardinalities=tuple(features.cardinalities_),
                   embedding_dims=tuple(features.embedding_dims_),
                   n_outputs=tuple(targets.n_outputs_), kinds=tuple(targets.kinds_),
                   names=tuple(targets.names_), links=tuple(tuple(link) for link in links))


def build_spec_module(spec: RecommenderSpec, shape: NetShape):
    """The torch module of ``spec`` for data of ``shape`` (weights drawn from torch's global RNG)."""
    return build_module(
        spec.architecture,
        n_numeric=shape.n_numeric,
        cardinalities=list(shape.cardinalities),
        embedding_dims=list(shape.embedding_dims),
        n_outputs=list(shape.n_outputs),
        hidden_units=spec.hidden_units,
        tower_units=spec.tower_units,
        dropout=spec.dropout,
        n_experts=spec.n_experts,
        n_levels=spec.n_levels,
        n_shared_experts=spec.n_shared_experts,
        n_task_experts=spec.n_task_experts,
        cascade=[tuple(link) for link in shape.links],
        debias=spec.cascade_debias,
        min_propensity=spec.min_propensity,
        debias_weight=spec.debias_weight,
        calibration_strength=spec.calibration_strength,
    )


def count_parameters(spec: RecommenderSpec, shape: NetShape) -> int:
    """Trainable parameters of the module (embeddings included), built on the meta device:
    shapes only, no memory and no random draw."""
    with torch.device("meta"):
        module = build_spec_module(spec, shape)
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))
