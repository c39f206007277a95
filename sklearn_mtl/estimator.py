"""MultiTaskRecommender: a scikit-learn estimator that builds and trains a skorch net in ``fit``."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping
from skorch.helper import predefined_split

from ._validation import check_number as _check_number
from ._validation import check_units as _check_units
from ._validation import resolve_device as _resolve_device
from .diagnostics import GradientConflict
from .features import FeatureEncoder
from .losses import MultiTaskLoss
from .metrics import mean_score
from .nets import ARCHITECTURES, build_module
from .tasks import TargetEncoder
from .training import MultiTaskDataset, MultiTaskNeuralNet, TaskScoring, TensorBatchLoader, as_numpy


class MultiTaskRecommender(BaseEstimator):
    """Multi-task neural recommender: hard sharing, soft sharing, MMoE or single-task columns.

    A scikit-learn estimator whose ``fit`` encodes ``X`` and ``Y``, builds the torch module of
    the chosen architecture and trains it through a skorch ``NeuralNet`` (kept in ``net_``).

    Parameters
    ----------
    architecture : {"mmoe", "hard", "soft", "single"}, default="mmoe"
        ``"hard"``: a shared bottom MLP, then a tower and head per task. ``"soft"``: one bottom
        per task, tied by ``sharing_strength * sum_{k<l} ||theta_k - theta_l||^2`` over matching
        bottom parameters. ``"mmoe"``: ``n_experts`` shared expert MLPs and one softmax gate per
        task (Ma et al., KDD 2018). ``"single"``: an independent bottom and tower per task, the
        single-task reference with the same per-task capacity as ``"hard"``.
    tasks : "auto", str, list or dict, default="auto"
        Kind of each task (``"binary"``, ``"multiclass"``, ``"regression"``); ``"auto"`` infers
        it from each column of ``Y`` (scikit-learn's ``type_of_target`` on the labelled rows).
    hidden_units : tuple of int, default=(64, 32)
        Widths of the bottom MLP (hard), of each expert (mmoe) or of each task's bottom.
    tower_units : tuple of int, default=(16,)
        Widths of each task's tower MLP before its output layer.
    n_experts : int, default=4
        Number of experts (mmoe only).
    sharing_strength : float, default=1e-3
        Weight of the soft-sharing penalty (soft only).
    dropout : float, default=0.0
        Dropout after every hidden layer.
    embedding_dim : "auto" or int, default="auto"
        Width of categorical embeddings; ``"auto"`` gives ``min(50, round(1.6 * k ** 0.56))``
        for a column with ``k`` categories.
    categorical_features : "auto", None or list, default="auto"
        Columns to embed besides the category / ``str`` / object columns of a DataFrame, which
        are always embedded (names for DataFrames, positions for arrays); e.g. integer ids.
    min_frequency : int, float or None, default=None
        Categories rarer than this in ``fit`` share the unknown embedding with categories that
        are new at predict time.
    task_weights : None, list of float or "uncertainty", default=None
        Static loss weights per task (default all 1), or learned uncertainty weighting
        (Kendall et al., CVPR 2018); the weights used are in ``task_weights_`` after fit.
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=0.0
        Adam weight decay.
    batch_size : int, default=1024
    max_epochs : int, default=20
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for ``patience`` epochs and restore the
        best epoch's weights.
    validation_fraction : float or None, default=0.1
        Share of the rows held out for early stopping; ``None`` trains on every row and
        monitors the training loss. Unused when ``early_stopping=False`` (every row trains).
    patience : int, default=5
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"auto"`` uses CUDA when available. A model trained on CUDA unpickles on a CPU machine.
    random_state : int, RandomState or None, default=None
        Seeds weight initialization, dropout, shuffling and the validation split: two CPU fits
        with the same int give identical predictions. The global torch RNG is left untouched.
    verbose : int, default=0
        ``1`` prints skorch's table of epochs.
    callbacks : list of skorch callbacks or None, default=None
        Passed to the skorch net (copied, so the instances you give are not changed). They run
        after the net's per-task validation scoring and before early stopping, so they can read
        the epoch's ``valid_score`` and ``valid_score_<task>``: optuna-integration's
        ``SkorchPruningCallback(trial, "valid_score")`` works as it is.
    track_gradient_conflict : bool, default=False
        Record after every epoch the cosine similarity between the tasks' gradients on the
        shared parameters ("hard", "mmoe") in ``history_`` (``grad_cosine``,
        ``grad_cosine_mean``); see :class:`sklearn_mtl.diagnostics.GradientConflict`.

    Attributes
    ----------
    tasks_ : list of str
        Kind of each task.
    task_names_ : list
        Task names: the columns of ``Y`` or ``task_0``, ``task_1``, ...
    classes_ : list
        Per task, the array of class labels (None for regression).
    task_weights_ : ndarray of shape (n_tasks,)
        Loss weight of each task at the end of training.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` was a DataFrame with string column names.
    net_ : MultiTaskNeuralNet
        The fitted skorch net.
    history_ : skorch.History
        Per epoch: training and validation loss, and with a validation split each task's
        validation score (``valid_score_<task>``: ROC AUC, accuracy or R²) and their mean
        (``valid_score``).
    n_epochs_ : int
        Number of epochs run.
    n_params_ : int
        Trainable parameters of the torch module (embeddings included): the capacity that
        :func:`~sklearn_mtl.compare_transfer` reports next to the verdict.
    device_ : str
        Device the net was trained on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 5))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] + 0.1 * rng.normal(size=500)])
    >>> model = MultiTaskRecommender(architecture="hard", max_epochs=5, random_state=0)
    >>> model.fit(X, Y).predict(X[:3]).shape
    (3, 2)
    >>> model.tasks_
    ['binary', 'regression']
    """

    def __init__(
        self,
        architecture="mmoe",
        *,
        tasks="auto",
        hidden_units=(64, 32),
        tower_units=(16,),
        n_experts=4,
        sharing_strength=1e-3,
        dropout=0.0,
        embedding_dim="auto",
        categorical_features="auto",
        min_frequency=None,
        task_weights=None,
        lr=1e-3,
        weight_decay=0.0,
        batch_size=1024,
        max_epochs=20,
        early_stopping=True,
        validation_fraction=0.1,
        patience=5,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        track_gradient_conflict=False,
    ):
        self.architecture = architecture
        self.tasks = tasks
        self.hidden_units = hidden_units
        self.tower_units = tower_units
        self.n_experts = n_experts
        self.sharing_strength = sharing_strength
        self.dropout = dropout
        self.embedding_dim = embedding_dim
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.task_weights = task_weights
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.track_gradient_conflict = track_gradient_conflict

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = False
        # Classification tasks give probabilities, so scikit-learn's checks may read these.
        tags.classifier_tags = ClassifierTags(multi_class=True)
        return tags

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture={self.architecture!r} is not valid: use one of {ARCHITECTURES}."
            )
        hidden = _check_units("hidden_units", self.hidden_units,
                              allow_empty=self.architecture != "mmoe")
        tower = _check_units("tower_units", self.tower_units)
        _check_number("n_experts", self.n_experts, low=1, integer=True)
        _check_number("sharing_strength", self.sharing_strength, low=0)
        _check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        _check_number("lr", self.lr, low=0, low_open=True)
        _check_number("weight_decay", self.weight_decay, low=0)
        _check_number("batch_size", self.batch_size, low=1, integer=True)
        _check_number("max_epochs", self.max_epochs, low=1, integer=True)
        _check_number("patience", self.patience, low=1, integer=True)
        _check_number("verbose", self.verbose, low=0, integer=True)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise ValueError(f"early_stopping={self.early_stopping!r} is not valid: use True or False.")
        if self.validation_fraction is not None:
            _check_number("validation_fraction", self.validation_fraction, low=0, high=1,
                          low_open=True, high_open=True)
        if not isinstance(self.track_gradient_conflict, (bool, np.bool_)):
            raise ValueError(
                f"track_gradient_conflict={self.track_gradient_conflict!r} is not valid: use True or False."
            )
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise ValueError(f"callbacks={self.callbacks!r} is not valid: use a list or None.")
        return hidden, tower

    def _check_task_weights(self, n_tasks):
        tw = self.task_weights
        if tw is None or (isinstance(tw, str) and tw == "uncertainty"):
            return tw
        if isinstance(tw, str):
            raise ValueError(
                f"task_weights={tw!r} is not valid: use None, 'uncertainty' or a list of floats."
            )
        try:
            weights = np.asarray(tw, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"task_weights={tw!r} is not valid: use None, 'uncertainty' or a list of floats."
            ) from None
        if weights.shape != (n_tasks,):
            raise ValueError(
                f"task_weights={tw!r} has {weights.size} entries but Y has {n_tasks} tasks."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() == 0:
            raise ValueError(
                f"task_weights={tw!r} is not valid: weights must be finite, >= 0 and not all 0."
            )
        return weights

    def _validate_X(self, X, reset):
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                                 "minimum of 1 is required.")
            return X
        if not reset and hasattr(self, "feature_names_in_"):
            # Fitted on a DataFrame: scikit-learn warns about the missing names; read the
            # columns by position, as every scikit-learn estimator does.
            validate_data(self, X, skip_check_array=True, reset=False)
            return pd.DataFrame(np.asarray(X), columns=self.feature_names_in_)
        listed = not (isinstance(self.categorical_features, str) or self.categorical_features is None)
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc", "coo"],
            dtype=None if listed else "numeric",
            ensure_all_finite=False,
        )
        if sp.issparse(X):
            X = X.toarray()
        return X

    def _check_sample_weight(self, sample_weight, n):
        if sample_weight is None:
            return None
        sw = np.asarray(sample_weight, dtype=float)
        if sw.ndim == 0:
            sw = np.full(n, float(sw))
        if sw.shape != (n,):
            raise ValueError(
                f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per row of X."
            )
        if not np.all(np.isfinite(sw)) or np.any(sw < 0):
            raise ValueError("sample_weight must be finite and >= 0.")
        if sw.sum() == 0:
            raise ValueError("sample_weight is all zero: no row would carry any loss.")
        return sw

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None) -> MultiTaskRecommender:
        """Fit the network.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Numeric, bool, category and ``str`` columns; NaN allowed in numeric columns.
        y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
            The targets ``Y``: one column per task; NaN means "no label for this task on
            this row". A 1-D ``y`` is one task.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights applied to every task's loss.

        Returns
        -------
        self
        """
        hidden, tower = self._check_params()
        device = _resolve_device(self.device)
        X = self._validate_X(X, reset=True)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        targets = TargetEncoder(self.tasks).fit(y)
        check_consistent_length(X, y)
        n = X.shape[0]
        task_weights = self._check_task_weights(len(targets.names_))
        sw = self._check_sample_weight(sample_weight, n)

        features = FeatureEncoder(self.categorical_features, self.min_frequency,
                                  self.embedding_dim).fit(X)
        x_num, x_cat = features.encode(X)
        y_enc = targets.transform(y)
        unlabelled = int(np.isnan(y_enc).all(axis=1).sum())
        if unlabelled:
            warnings.warn(
                f"{unlabelled} of {n} rows have no label for any task; they carry no loss.",
                UserWarning,
                stacklevel=2,
            )

        rng = check_random_state(self.random_state)
        seeded = self.random_state is not None
        torch_seed, loader_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        use_valid = bool(self.early_stopping) and self.validation_fraction is not None
        data = MultiTaskDataset(x_num, x_cat, y_enc, sw, device=device,
                                offset=features.input_offset_, scale=features.input_scale_)
        train_split = None
        if use_valid:
            n_valid = int(np.ceil(self.validation_fraction * n))
            if n - n_valid < 1:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} leaves no training rows "
                    f"out of {n}; lower it or set validation_fraction=None."
                )
            order = rng.permutation(n)
            train_split = predefined_split(data.subset(order[:n_valid]))
            data = data.subset(np.sort(order[n_valid:]))

        # The net's own scoring runs first, so that user callbacks (optuna-integration's
        # SkorchPruningCallback, a checkpoint) find valid_score_* in the epoch's history row.
        callbacks = []
        if use_valid:
            callbacks.append(
                ("task_scoring", TaskScoring(targets.kinds_, targets.names_, targets.n_outputs_))
            )
        if self.track_gradient_conflict:
            callbacks.append(("gradient_conflict", GradientConflict(targets.names_)))
        # Shallow copies: skorch initializes callbacks in place, and the user's instances stay
        # untouched; a deep copy would also copy what a callback refers to (an Optuna trial).
        callbacks += [copy.copy(cb) for cb in (self.callbacks or [])]
        if self.early_stopping:
            monitor = "valid_loss" if use_valid else "train_loss"
            callbacks.append(
                ("early_stopping",
                 EarlyStopping(monitor=monitor, patience=self.patience, load_best=True))
            )

        with torch.random.fork_rng(devices=[] if device == "cpu" else None, enabled=seeded):
            if seeded:
                torch.manual_seed(torch_seed)
            module = build_module(
                self.architecture,
                n_numeric=features.n_numeric_inputs_,
                cardinalities=features.cardinalities_,
                embedding_dims=features.embedding_dims_,
                n_outputs=targets.n_outputs_,
                hidden_units=hidden,
                tower_units=tower,
                dropout=float(self.dropout),
                n_experts=int(self.n_experts),
            )
            criterion = MultiTaskLoss(targets.kinds_, targets.n_outputs_, task_weights)
            net = MultiTaskNeuralNet(
                module,
                criterion=criterion,
                optimizer=torch.optim.Adam,
                lr=self.lr,
                optimizer__weight_decay=self.weight_decay,
                batch_size=int(self.batch_size),
                max_epochs=int(self.max_epochs),
                train_split=train_split,
                iterator_train=TensorBatchLoader,
                iterator_train__shuffle=True,
                iterator_train__seed=loader_seed if seeded else None,
                iterator_valid=TensorBatchLoader,
                callbacks=callbacks,
                device=device,
                verbose=int(self.verbose),
                sharing_strength=float(self.sharing_strength)
                if self.architecture == "soft" else 0.0,
            )
            net.fit(data, None)

        self._targets = targets
        self._features = features
        self.net_ = net
        self.history_ = net.history
        self.n_epochs_ = len(net.history)
        self.device_ = device
        self.tasks_ = list(targets.kinds_)
        self.task_names_ = list(targets.names_)
        self.classes_ = list(targets.classes_)
        self.task_weights_ = net.criterion_.effective_weights()
        self.n_params_ = int(sum(p.numel() for p in net.module_.parameters() if p.requires_grad))
        return self

    def __setstate__(self, state):
        self.__dict__.update(state)
        # skorch maps a CUDA-trained net onto the CPU when CUDA is missing; follow it.
        net = self.__dict__.get("net_")
        if net is not None:
            self.device_ = str(net.device)

    # ------------------------------------------------------------------ predict
    def _dataset(self, X, check=True):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        x_num, x_cat = self._features.encode(X, check=check)
        return MultiTaskDataset(x_num, x_cat, device=self.device_,
                                offset=self._features.input_offset_,
                                scale=self._features.input_scale_)

    def _forward(self, data) -> np.ndarray:
        module = self.net_.module_
        module.eval()
        # The module is called directly, batch by batch: skorch's forward adds per-batch
        # bookkeeping (and no_grad is slower than inference_mode) for nothing at predict time.
        with torch.inference_mode():
            return as_numpy(torch.cat([
                module(**batch)
                for batch, _ in TensorBatchLoader(data, batch_size=int(self.batch_size))
            ]))

    def _task_outputs(self, X) -> list[np.ndarray]:
        check_is_fitted(self)
        # A NaN or infinity in X makes every output of its row non-finite, so the pass over X
        # that looks for them runs only when the outputs say so (most inputs have none).
        out = self._forward(self._dataset(X, check=False))
        if not np.isfinite(out).all():
            out = self._forward(self._dataset(X))  # imputes NaN, raises on infinity
        if not np.isfinite(out).all():
            # Name an input column that overflowed float32 once scaled, if there is one.
            self._features.check_representable(self._validate_X(X, reset=False))
        bounds = np.cumsum([0, *self._targets.n_outputs_])
        return [out[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _proba_or_values(self, X):
        check_is_fitted(self)
        result = []
        for t, (kind, out) in enumerate(zip(self.tasks_, self._task_outputs(X))):
            if kind == "binary":
                p = 1.0 / (1.0 + np.exp(-out[:, 0].astype(np.float64)))
                result.append(np.column_stack([1.0 - p, p]))
            elif kind == "multiclass":
                z = out.astype(np.float64)
                z = np.exp(z - z.max(axis=1, keepdims=True))
                result.append(z / z.sum(axis=1, keepdims=True))
            else:
                result.append(self._targets.inverse_regression(t, out[:, 0].astype(np.float64)))
        return result

    def predict(self, X) -> np.ndarray:
        """Predict every task: class labels for classification, values for regression.

        Returns
        -------
        ndarray of shape (n_samples, n_tasks), or (n_samples,) when fitted on a 1-D ``y``.
            Numeric when every task's labels are numeric, else of dtype object.
        """
        outputs = self._proba_or_values(X)
        columns = []
        for kind, classes, res in zip(self.tasks_, self.classes_, outputs):
            columns.append(res if kind == "regression" else classes[np.argmax(res, axis=1)])
        return self._targets.stack_predictions(columns)

    def predict_proba(self, X):
        """Class probabilities per task.

        Returns
        -------
        list of ndarray of shape (n_samples, n_classes_t)
            One entry per task (the ``MultiOutputClassifier`` convention); regression tasks,
            which have no probabilities, are ``None`` in the list. A model fitted on a 1-D
            ``y`` returns the single array.
        """
        outputs = self._proba_or_values(X)
        result = [None if kind == "regression" else res for kind, res in zip(self.tasks_, outputs)]
        if self._targets.one_d_:
            if result[0] is None:
                raise AttributeError("predict_proba is not available for a regression task.")
            return result[0]
        return result

    def gate_weights(self, X) -> np.ndarray:
        """MMoE gate weights, an (n_samples, n_tasks, n_experts) array summing to 1 over experts.

        Shows which experts each task relies on; only defined for ``architecture="mmoe"``.
        """
        check_is_fitted(self)
        if self.architecture != "mmoe":
            raise ValueError(
                f"gate_weights needs architecture='mmoe'; this model is {self.architecture!r}."
            )
        data = self._dataset(X)
        module = self.net_.module_
        module.eval()
        with torch.no_grad():
            parts = [
                as_numpy(module.gate_weights(**batch))
                for batch, _ in TensorBatchLoader(data, batch_size=int(self.batch_size))
            ]
        return np.concatenate(parts)

    def score(self, X, y) -> float:
        """Mean over tasks of ROC AUC (binary), accuracy (multiclass) and R² (regression).

        Rows without a label for a task are skipped for that task; see
        :func:`sklearn_mtl.metrics.per_task_scores` for the score of each task.
        """
        check_is_fitted(self)
        return mean_score(self, X, y)

    def save(self, path) -> None:
        """Save the fitted model as data, without pickle; read it back with :func:`sklearn_mtl.load`.

        See :func:`sklearn_mtl.persistence.save`.
        """
        from .persistence import save

        save(self, path)
