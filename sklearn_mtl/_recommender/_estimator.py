"""MultiTaskRecommender: a scikit-learn estimator that builds and trains a skorch net in ``fit``."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from .._architectures import REFERENCE_ARCHITECTURE
from .._base import MultiTaskEstimator
from .._cascade import cascade_links
from .._checks import explain_non_numeric
from ..affinity import task_affinity_matrix
from ..features import FeatureEncoder
from ..nets import CHAIN_ARCHITECTURES, EXPERT_ARCHITECTURES
from ..sources import is_source
from ..tasks import TargetEncoder
from ._assembly import make_net, restore_net
from ._fit import memory_data, resolve_links
from ._kernel import fit_net, train
from ._outputs import binary_proba, concat_gate_weights, proba_or_values
from ._params import PARAMETER_CONSTRAINTS
from ._partial_fit import check_chunk_call, first_chunk, next_chunk, streaming_net
from ._predict import (
    FittedNet,
    encoded_rows,
    module_method,
    module_outputs,
    predict_batch_size,
    task_outputs,
)
from ._skorch import as_numpy
from ._source import source_data, source_frames
from ._spec import NetShape, RecommenderSpec, count_parameters
from ._transform import feature_names, representation
from ._warm_start import fitted_digest


class MultiTaskRecommender(TransformerMixin, MultiTaskEstimator):
    """Multi-task neural recommender: hard / soft sharing, MMoE, OMoE, CGC / PLE, ESMM or single.

    A scikit-learn estimator whose ``fit`` encodes ``X`` and ``Y``, builds the torch module of
    the chosen architecture and trains it through a skorch ``NeuralNet`` (kept in ``net_``).

    Parameters
    ----------
    architecture : {"mmoe", "hard", "soft", "single", "omoe", "cgc", "ple", "esmm", "aitm"}, \
default="mmoe"
        ``"hard"``: a shared bottom MLP, then a tower and head per task. ``"soft"``: one bottom
        per task, tied by ``sharing_strength * sum_{k<l} ||theta_k - theta_l||^2`` over matching
        bottom parameters. ``"mmoe"``: ``n_experts`` shared expert MLPs and one softmax gate per
        task (Ma et al., KDD 2018). ``"omoe"``: the same experts mixed by one gate for all tasks
        (MMoE's ablation). ``"ple"``: ``n_levels`` extraction levels with ``n_shared_experts``
        shared and ``n_task_experts`` per-task experts; task k's gate mixes its own and the
        shared experts, and a shared gate over all experts feeds the next level (Tang et al.,
        RecSys 2020); ``"cgc"`` is one such level. ``"esmm"``: shared embeddings and an MLP
        tower per task, trained as an entire-space cascade (Ma et al., SIGIR 2018; see
        ``cascade``). ``"aitm"``: shared embeddings, a tower per task and an adaptive
        information transfer (attention) from each task of a chain of binary tasks to the next,
        every output an entire-space probability, with the behavioural expectation calibrator
        ``calibration_strength * max(p_child - p_parent, 0)`` in the loss (Xi et al., KDD
        2021); the chain is ``cascade``, or the tasks in the order of ``Y``.
        ``"single"``: an independent bottom and tower per task, the single-task
        reference with the same per-task capacity as ``"hard"``.
    tasks : "auto", str, list or dict, default="auto"
        Kind of each task (``"binary"``, ``"multiclass"``, ``"regression"``); ``"auto"`` infers
        it from each column's dtype and labelled values: a float column is regression unless its
        values are two whole numbers, integer / text / category columns are classes, and a text
        column of mostly unique values is an error (see docs/bad-inputs.md).
    hidden_units : tuple of int, default=(64, 32)
        Widths of the bottom MLP (hard), of each expert (mmoe) or of each task's bottom.
    tower_units : tuple of int, default=(16,)
        Widths of each task's tower MLP before its output layer.
    n_experts : int, default=4
        Number of experts (mmoe, omoe).
    n_levels : int, default=2
        Number of extraction levels (ple; cgc has one).
    n_shared_experts : int, default=2
        Shared experts per level (cgc, ple).
    n_task_experts : int, default=1
        Experts of each task per level (cgc, ple). With two tasks the defaults give each level
        four experts, as many as mmoe's default ``n_experts``.
    cascade : None or dict, default=None
        Entire-space cascades ``{child task: parent task}`` between binary tasks, e.g.
        ``{"purchase": "click"}``: ``P(click and purchase | x) = P(click | x) * P(purchase | click, x)``.
        The parent's loss is on its labelled rows and the child's loss on that product over
        every row, so the conditional tower never trains on clicked rows alone (ESMM). Child
        labels are entire-space: on rows whose parent label is 0 the child label is 0 whatever
        was written there (NaN or 0; a 1 gets a warning). ``predict_proba`` gives the child's
        entire-space probability, :meth:`predict_conditional_proba` the conditional one.
        Works with every architecture; ``architecture="esmm"`` or ``"aitm"`` with
        ``cascade=None`` chains the tasks in the order of ``Y`` (task k's parent is task k - 1).
        ``"aitm"`` has no product: its outputs are entire-space, and the conditional
        probability is ``min(p_child / p_parent, 1)``.
    cascade_debias : None, "ips" or "dr", default=None
        Add ESCM²'s counterfactual risk on each cascaded child's conditional output (Wang et
        al., SIGIR 2022), over every row: ``"ips"`` weighs the child's loss on the parent's
        positive rows by ``1 / pCTR``, the parent's predicted probability (detached, clipped
        below at ``min_propensity``); ``"dr"`` (doubly robust) adds an imputation tower that
        predicts the child's loss on every row. Needs a cascade (``"esmm"`` or ``cascade=``;
        not ``"aitm"``, which has no conditional tower). Training loss only; see
        :mod:`sklearn_mtl.nets.cascade`.
    min_propensity : float in (0, 1], default=0.05
        Propensity clip of ``cascade_debias``: no inverse-propensity weight exceeds
        ``1 / min_propensity`` (20 at the default).
    debias_weight : float, default=1.0
        Weight of the counterfactual risk in the loss (ESCM²'s ``lambda_c``).
    calibration_strength : float, default=0.6
        Weight of AITM's behavioural expectation calibrator (``"aitm"`` only).
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
        ``"auto"`` also embeds the integer columns whose name marks an id (``user_id``,
        ``item-id``, ``movieId``, ``id``; see :func:`sklearn_mtl.features.is_id_name`);
        ``None`` embeds only the text-like columns. The embedded columns are in
        ``categorical_features_`` after fit (printed with ``verbose >= 1``).
    min_frequency : int, float or None, default=None
        Categories rarer than this in ``fit`` share the unknown embedding with categories that
        are new at predict time.
    id_dropout : float in [0, 1), default=0.01
        Share of the categorical indices of each training batch replaced by the unknown index,
        so that the unknown embedding, which users and items first seen at predict time get
        (cold start), is trained. ``0`` turns it off.
    task_weights : None, list of float, "uncertainty", "gradnorm" or "dwa", default=None
        Static loss weights per task (default all 1), learned uncertainty weighting
        (Kendall et al., CVPR 2018), GradNorm (Chen et al., ICML 2018, with
        ``gradnorm_alpha``) or Dynamic Weight Average (Liu et al., CVPR 2019, with
        ``dwa_temperature``); see :mod:`sklearn_mtl.losses`. The weights of every epoch are
        in ``history_`` (``task_weight_<task>``), the final ones in ``task_weights_``.
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=0.0
        Adam weight decay.
    batch_size : int or "auto", default="auto"
        ``"auto"``: the largest power of two at most ``n_train / 100``, clipped to [32, 1024],
        so that a few thousand rows still get about 100 optimizer steps per epoch while large
        data keeps batches of 1024 (a 69,833-row census split: 512). The size used is
        ``batch_size_``.
    predict_batch_size : int or "auto", default="auto"
        Rows per forward pass in ``predict``, ``predict_proba`` and the other methods that run
        the net on new rows, independent of training's. ``"auto"``: 4096, or ``batch_size_``
        if larger (a larger batch costs less Python per row; memory grows with it).
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
    devices : int or None, default=None
        Train one model data-parallel on this many devices with torch's
        ``DistributedDataParallel``: with ``device="cuda"`` one GPU per process (NCCL), with
        ``device="cpu"`` as many CPU processes (gloo on loopback). ``fit`` starts the
        processes itself, or runs as one rank inside a launch that started them (``torchrun``
        with ``torch.distributed`` initialized), and returns an ordinary fitted model. Each
        rank trains on its own shard of every epoch, so the effective batch is
        ``devices * batch_size``; every rank validates on the whole validation split, and
        early stopping stops all of them at the same epoch. When a rank raises (a loss that
        diverges on its shard, a callback), ``fit`` stops the others and raises that
        exception, with the rank's traceback as its cause; a rank killed without one is named
        with its signal, and a rank left waiting 5 minutes in a collective fails with a
        message that says so (gloo; NCCL's watchdog aborts the rank, which is then named
        with its signal); no process that ``fit`` started outlives it. Not with
        ``gradient_method``, ``task_weights="gradnorm"``, ``track_gradient_conflict`` or
        ``track_task_affinity`` (per-task gradients of a whole batch), nor with
        ``partial_fit`` or a source.
        ``None`` (or 1) trains in this process.
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
    gradient_method : None, "pcgrad" or "cagrad", default=None
        Combine the tasks' gradients on the shared parameters with PCGrad (Yu et al.,
        NeurIPS 2020) or CAGrad (Liu et al., NeurIPS 2021) instead of summing them; costs one
        extra backward pass per task and step (see :mod:`sklearn_mtl.gradients`). Without
        shared parameters ("soft", "single") it changes nothing.
    gradnorm_alpha : float, default=1.5
        GradNorm's asymmetry ``alpha`` (``task_weights="gradnorm"`` only).
    dwa_temperature : float, default=2.0
        DWA's temperature (``task_weights="dwa"`` only).
    cagrad_c : float, default=0.4
        CAGrad's radius ``c`` (``gradient_method="cagrad"`` only); 0 is plain training.
    track_task_affinity : bool, default=False
        Measure the lookahead inter-task affinity of Fifty et al. (NeurIPS 2021) every 5
        training steps on the shared parameters, per epoch in ``history_``
        (``task_affinity``) and averaged in ``task_affinity_``; see
        :class:`sklearn_mtl.affinity.TaskAffinity` and
        :func:`sklearn_mtl.affinity.propose_task_groups`.
    init : None, fitted MultiTaskRecommender or FrozenEstimator, default=None
        Fine-tune: start from this fitted source model's parameters (trained on another
        market, category or period) instead of a random initialization, and train them on
        the rows given to ``fit`` (or ``partial_fit``). Wrap it in
        ``sklearn.frozen.FrozenEstimator`` where the model is cloned (``cross_validate``,
        ``GridSearchCV``, :func:`~sklearn_mtl.compare_transfer`): ``clone`` keeps a frozen
        estimator fitted and unfits a plain one. The architecture and every layer width must
        be the source's, and so must the columns of ``X``. Ids and categories the source
        knew keep their embeddings; new ones start from the source's unknown-id vector.
        Numeric columns keep the source's standardisation. Tasks are matched by name: one
        with the source's kind and classes keeps its tower and head (and its gate, experts or
        bottom where it has its own), a new one gets fresh ones, and source tasks missing
        from ``Y`` are dropped. The learning rate is ``lr`` (lower it to stay closer to the
        source). See docs/transfer-learning.md. Not saved by :meth:`save` (the
        fine-tuned weights are; the loaded model has ``init=None``).
    freeze : None, "embeddings" or "bottom", default=None
        With ``init``: keep carried parameters fixed while fine-tuning. ``"embeddings"``: the
        embedding tables; ``"bottom"``: everything below the towers that came from the
        source (input layer, shared bottom, experts, the gates of carried tasks, carried
        tasks' own bottoms), so only towers, heads and what is new to the target train.
        Frozen layers stay frozen through ``partial_fit``, pickling and :meth:`save`.

    Attributes
    ----------
    tasks_ : list of str
        Kind of each task.
    task_names_ : list
        Task names: the columns of ``Y`` or ``task_0``, ``task_1``, ...
    classes_ : list
        Per task, the array of class labels (None for regression).
    target_encoder_ : TargetEncoder
        The fitted encoder of ``Y`` (task kinds, classes, regression scaling), shared with
        ``PerTaskLGBM``.
    categorical_features_ : list
        The embedded columns (names for DataFrames, positions for arrays).
    batch_size_ : int
        The batch size used (``batch_size`` resolved).
    task_weights_ : ndarray of shape (n_tasks,)
        Loss weight of each task at the end of training.
    task_affinity_ : ndarray of shape (n_tasks, n_tasks)
        With ``track_task_affinity=True``: ``[i, j]`` is the mean lookahead affinity
        ``Z(i -> j)`` (NaN where never measured, e.g. without shared parameters).
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
    cascade_ : dict
        The cascades trained, ``{child: parent}`` (empty without one).
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
        n_levels=2,
        n_shared_experts=2,
        n_task_experts=1,
        cascade=None,
        cascade_debias=None,
        min_propensity=0.05,
        debias_weight=1.0,
        calibration_strength=0.6,
        sharing_strength=1e-3,
        dropout=0.0,
        embedding_dim="auto",
        categorical_features="auto",
        min_frequency=None,
        id_dropout=0.01,
        task_weights=None,
        lr=1e-3,
        weight_decay=0.0,
        batch_size="auto",
        predict_batch_size="auto",
        max_epochs=20,
        early_stopping=True,
        validation_fraction=0.1,
        patience=5,
        device="auto",
        devices=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        track_gradient_conflict=False,
        gradient_method=None,
        gradnorm_alpha=1.5,
        dwa_temperature=2.0,
        cagrad_c=0.4,
        track_task_affinity=False,
        init=None,
        freeze=None,
    ):
        self.architecture = architecture
        self.tasks = tasks
        self.hidden_units = hidden_units
        self.tower_units = tower_units
        self.n_experts = n_experts
        self.n_levels = n_levels
        self.n_shared_experts = n_shared_experts
        self.n_task_experts = n_task_experts
        self.cascade = cascade
        self.cascade_debias = cascade_debias
        self.min_propensity = min_propensity
        self.debias_weight = debias_weight
        self.calibration_strength = calibration_strength
        self.sharing_strength = sharing_strength
        self.dropout = dropout
        self.embedding_dim = embedding_dim
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.id_dropout = id_dropout
        self.task_weights = task_weights
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.devices = devices
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.track_gradient_conflict = track_gradient_conflict
        self.gradient_method = gradient_method
        self.gradnorm_alpha = gradnorm_alpha
        self.dwa_temperature = dwa_temperature
        self.cagrad_c = cagrad_c
        self.track_task_affinity = track_task_affinity
        self.init = init
        self.freeze = freeze

    _constraints = PARAMETER_CONSTRAINTS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Arrays of text are read too, when categorical_features lists their columns.
        tags.input_tags.string = True
        # transform gives float32 whatever the input's precision.
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _validate_array(self, X, *, reset: bool):
        listed = not (isinstance(self.categorical_features, str) or self.categorical_features is None)
        try:
            X = validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=["csr", "csc", "coo"],
                dtype=None if listed else "numeric",
                ensure_all_finite=False,
            )
        except ValueError as exc:
            better = None if listed else explain_non_numeric(
                X, "pass a DataFrame (text columns are embedded), or list the column in "
                "categorical_features."
            )
            if better is None:
                raise
            raise better from exc
        # Sparse X stays sparse: the net's dataset densifies one batch at a time.
        return X.tocsr() if sp.issparse(X) else X

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None) -> MultiTaskRecommender:
        """Fit the network.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame of shape (n_samples, n_features), or \
:class:`~sklearn_mtl.sources.ParquetSource`
            Numeric, bool, category and ``str`` columns; NaN allowed in numeric columns. A
            ``ParquetSource`` (with ``y=None``) is read in record batches, in memory that does
            not grow with its rows: see the user guide, "Data larger than memory".
        y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
            The targets ``Y``: one column per task; NaN means "no label for this task on
            this row". A 1-D ``y`` is one task. None when ``X`` is a source (its
            ``targets`` columns are the tasks).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights applied to every task's loss.

        Returns
        -------
        self
        """
        spec = self._spec()
        data = (source_data if is_source(X) else memory_data)(spec, X, y, sample_weight,
                                                              self._validate_X)
        net = train(self._make_net, spec, data.shape, data.batches, batch_size=data.batch_size,
                    seeds=data.seeds, data_seed=data.data_seed, n_devices=data.n_devices)
        self._record_fit(data, net, spec.device)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None) -> MultiTaskRecommender:
        """One pass over a chunk of a stream (scikit-learn's ``partial_fit`` contract).

        The first call fixes the schema: the columns and their dtypes, the task kinds and
        classes, the numeric statistics (scaling, medians) and the category vocabularies,
        all learned from that chunk (``min_frequency`` as a fraction counts its rows), and
        the batch size (``batch_size="auto"`` from its rows). Later chunks must have the same
        columns and dtypes (a difference is refused naming the column); their ids that the
        first chunk did not have take the unknown embedding, which ``id_dropout`` trains.
        Each call is one epoch over the chunk, one row of ``history_``; there is no
        validation split, so ``early_stopping``, ``validation_fraction``, ``patience`` and
        ``max_epochs`` do not apply. On a model fitted by :meth:`fit`, training goes on from
        it (without its validation split and early stopping); :meth:`fit` after
        ``partial_fit`` starts over. For data in a Dask DataFrame, pass its partitions in turn
        (``for part in ddf.partitions: model.partial_fit(part.compute()...)``) or use
        ``dask_ml.wrappers.Incremental`` on Dask arrays (see the user guide).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
            NaN marks a missing label, as in :meth:`fit`.
        classes : array-like, list or dict, default=None
            Classes of the classification tasks, for a first chunk that may not hold every
            class: one array for a 1-D ``y``, a list with one array (or None) per task, or a
            dict ``{task: classes}``. Only the first call uses it; a later call may repeat it,
            and must give the same classes.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mtl import MultiTaskRecommender
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(600, 4))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> model = MultiTaskRecommender("hard", batch_size=64, random_state=0)
        >>> for chunk in np.array_split(np.arange(600), 3):
        ...     model = model.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        >>> model.n_epochs_, model.predict(X[:2]).shape
        (3, (2,))
        """
        if is_source(X):
            raise TypeError(
                f"partial_fit takes one chunk in memory, not a {type(X).__name__}: fit(source) "
                "streams the files, or pass its record batches in turn (for _, chunk in "
                "source.iter_frames(): model.partial_fit(chunk[source.feature_columns], "
                "chunk[source.target_columns]))."
            )
        spec = self._spec(getattr(self, "device_", None))
        check_chunk_call(spec, y)
        if not hasattr(self, "net_"):
            data = first_chunk(spec, X, y, classes, sample_weight, self._validate_X)
            net, seeds, batches, device = None, data.seeds, data.batches, spec.device
            batch_size, shape = data.batch_size, data.shape
        else:
            data, net, seeds = None, streaming_net(self.net_), self._seeds
            device, batch_size = self.device_, self.batch_size_
            shape = None  # the net is built already
            batches = next_chunk(X, y, classes, sample_weight, self._validate_X,
                                 schema=getattr(self, "_input_schema", None),
                                 features=self._features, targets=self.target_encoder_,
                                 cascade=self.cascade_, device=device)
        net = fit_net(self._make_net, spec, shape, batches, batch_size=batch_size, seeds=seeds,
                      device=device, net=net, one_pass=True)
        if data is not None:
            self._record_fit(data, net, device)
        else:
            self._record_history(net)
        return self

    # ------------------------------------------------------------------ the net
    def _spec(self, device: str | None = None) -> RecommenderSpec:
        """The parameters checked and resolved once, as the plain values the helpers read
        (``device``: the device a fitted net is on, instead of ``self.device`` resolved)."""
        return RecommenderSpec.from_params({**self.get_params(deep=False), **self._check_params()},
                                           device=device)

    def _make_net(self, spec: RecommenderSpec, shape: NetShape, *, batch_size: int, train_split,
                  callbacks: list, device: str, seeds):
        """The unfitted skorch net of ``spec`` for data of ``shape``: the one method that
        builds it, for every fit, a data-parallel rank and a loaded model alike (override it
        to change the module, the loss or the optimizer). The module's weights are drawn from
        torch's global RNG, which the caller has seeded."""
        return make_net(spec, shape, batch_size=batch_size, train_split=train_split,
                        callbacks=callbacks, device=device, seeds=seeds)

    def _record_fit(self, data, net, device: str) -> None:
        """The fitted attributes that the encoders and the net fix (every fit, the first
        ``partial_fit``), then those of the history."""
        targets, features = data.targets, data.features
        self.target_encoder_ = targets
        self._features = features
        self._seeds = data.seeds
        self._input_schema = data.schema
        self.net_ = net
        self.device_ = device
        self.tasks_ = list(targets.kinds_)
        self.task_names_ = list(targets.names_)
        self.classes_ = list(targets.classes_)
        self.categorical_features_ = list(features.categorical_columns_)
        self.batch_size_ = data.batch_size
        self.n_params_ = int(sum(p.numel() for p in net.module_.parameters() if p.requires_grad))
        self.cascade_ = data.cascade
        self._record_history(net)

    def _record_history(self, net) -> None:
        """The fitted attributes that each epoch updates."""
        names = self.target_encoder_.names_
        self.history_ = net.history
        self.n_epochs_ = len(net.history)
        # The weights the last epoch trained with (DWA has already computed the next ones).
        self.task_weights_ = np.array([net.history[-1, f"task_weight_{name}"] for name in names],
                                      dtype=float)
        if self.track_task_affinity:
            self.task_affinity_ = task_affinity_matrix(net.history, names)

    def _count_params(self, X, y) -> int:
        """``n_params_`` of a fit on ``(X, y)``, without the fit: the encoders are fitted (the
        module's size depends on the categories and the classes) and the module is built on
        the meta device."""
        spec = self._spec()
        X = self._validate_X(X, reset=True)
        targets = TargetEncoder(spec.tasks).fit(y)
        features = FeatureEncoder(spec.categorical_features, spec.min_frequency,
                                  spec.embedding_dim).fit(X)
        _, links = resolve_links(spec, targets)
        return count_parameters(spec, NetShape.of(features, targets, links))

    # ------------------------------------------------------------------ state
    def __setstate__(self, state):
        self.__dict__.update(state)
        self._follow_net()

    def _follow_net(self):
        # A CUDA-trained net is mapped onto the CPU when CUDA is missing (by skorch when
        # unpickling, by restore_net when loading); the estimator follows it.
        net = self.__dict__.get("net_")
        if net is not None:
            self.history_ = net.history
            self.device_ = str(net.device)

    def _get_state(self) -> dict:
        """The model as data for :func:`sklearn_mtl.persistence.save`.

        Parameters and fitted attributes as they are; of the net only what ``fit`` learned
        (the module's and the loss's ``state_dict`` and the history): :meth:`_set_state`
        rebuilds the net with the ``make_net`` that ``fit`` uses.
        """
        state = dict(vars(self))
        state.pop("history_", None)
        # The source model only seeds fit; every weight it gave is in the net's state.
        state["init"] = None
        if state.get("callbacks"):
            warnings.warn(
                f"{type(self).__name__}.callbacks holds {len(state['callbacks'])} callback "
                "object(s), which are not saved: the loaded model has callbacks=None (they only "
                "act in fit).",
                UserWarning, stacklevel=4,
            )
            state["callbacks"] = None
        net = state.pop("net_", None)
        if net is not None:
            state["net_"] = {"module": net.module_.state_dict(),
                             "criterion": net.criterion_.state_dict(),
                             "history": list(net.history),
                             "frozen": [name for name, p in net.module_.named_parameters()
                                        if not p.requires_grad]}
        return state

    def _set_state(self, state: dict) -> None:
        """Rebuild a model from :meth:`_get_state`'s dict (see :func:`sklearn_mtl.load`)."""
        net = state.pop("net_", None)
        state = {"init": None, "freeze": None, **state}
        self.__dict__.update(state)
        if net is not None:
            spec = self._spec(self.device_)
            targets = self.target_encoder_
            shape = NetShape.of(self._features, targets,
                                cascade_links(self.cascade_, targets.names_))
            self.net_ = restore_net(self._make_net, spec, shape, net, batch_size=self.batch_size_,
                                    device=self.device_, seeds=self._seeds)
        self._follow_net()

    # ------------------------------------------------------------------ predict
    def _fitted_net(self) -> FittedNet:
        """What prediction reads of the fitted model, as one plain value (raises before fit)."""
        check_is_fitted(self)
        return FittedNet(self.net_.module_, self._features, self.device_,
                         predict_batch_size(self.predict_batch_size, self.batch_size_),
                         tuple(self.target_encoder_.n_outputs_))

    def _checked_rows(self, X):
        """``X`` checked against the fit: itself, or a source's record batches in turn."""
        if not is_source(X):
            yield self._validate_X(X, reset=False)
            return
        for frame in source_frames(X, self._fit_columns):
            yield self._validate_X(frame, reset=False)

    def _dataset(self, X, check=True):
        """The rows of ``X`` encoded as the module reads them."""
        fitted = self._fitted_net()
        return encoded_rows(fitted, self._validate_X(X, reset=False), check)

    def _predict_batch_size(self) -> int:
        return predict_batch_size(self.predict_batch_size, self.batch_size_)

    def _forward(self, data) -> np.ndarray:
        return module_outputs(self._fitted_net(), data)

    def _task_outputs(self, X) -> list[np.ndarray]:
        """Per task, the module's raw outputs for the rows of ``X`` (a source's record batch by
        record batch)."""
        fitted = self._fitted_net()
        parts = [task_outputs(fitted, rows) for rows in self._checked_rows(X)]
        if len(parts) == 1:
            return parts[0]
        return [np.concatenate([p[t] for p in parts]) for t in range(len(parts[0]))]

    def _proba_or_values(self, X):
        check_is_fitted(self)  # before tasks_ is read
        return proba_or_values(self.tasks_, self._task_outputs(X),
                               self.target_encoder_.inverse_regression)

    def predict(self, X) -> np.ndarray:
        """Predict every task: class labels for classification, values for regression.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or :class:`~sklearn_mtl.sources.ParquetSource`
            A source is read record batch by record batch (its target columns are not read):
            memory holds the predictions, not the features. So do :meth:`predict_proba`,
            :meth:`score` (with ``y=None``), :meth:`gate_weights` and
            :meth:`predict_conditional_proba`.

        Returns
        -------
        ndarray of shape (n_samples, n_tasks), or (n_samples,) when fitted on a 1-D ``y``.
            Numeric when every task's labels are numeric, else of dtype object.
        """
        outputs = self._proba_or_values(X)
        columns = []
        for kind, classes, res in zip(self.tasks_, self.classes_, outputs):
            columns.append(res if kind == "regression" else classes[np.argmax(res, axis=1)])
        return self._stack(columns)

    def _task_probas(self, X) -> list:
        outputs = self._proba_or_values(X)
        return [None if kind == "regression" else res for kind, res in zip(self.tasks_, outputs)]

    def _run_module(self, X, method: str) -> list:
        """Call ``module_.<method>(x_num, x_cat)`` batch by batch in eval mode; one result a batch
        (a source's record batches in turn)."""
        fitted = self._fitted_net()
        return [out for rows in self._checked_rows(X) for out in module_method(fitted, rows, method)]

    def gate_weights(self, X):
        """Gate weights of the mixture-of-experts architectures (mmoe, omoe, cgc, ple).

        Shows which experts each task relies on.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or :class:`~sklearn_mtl.sources.ParquetSource`
            A source is read record batch by record batch (its target columns are not read).

        Returns
        -------
        ndarray or list of dict
            ``"mmoe"`` / ``"omoe"``: an (n_samples, n_tasks, n_experts) array summing to 1
            over experts (omoe repeats its one gate for every task).
            ``"cgc"`` / ``"ple"``: one dict per level (one level for cgc) with
            ``"tasks"``, an (n_samples, n_tasks, n_task_experts + n_shared_experts) array whose
            row for task k weighs task k's own experts first, then the shared experts; and
            ``"shared"``, the shared gate on every level but the last, an (n_samples,
            n_tasks * n_task_experts + n_shared_experts) array over task 0's experts, task 1's,
            ..., then the shared experts (None on the last level or without shared experts).
        """
        check_is_fitted(self)
        if self.architecture not in EXPERT_ARCHITECTURES:
            raise ValueError(
                f"gate_weights needs architecture in {EXPERT_ARCHITECTURES}; this model is "
                f"{self.architecture!r}."
            )
        return concat_gate_weights(self._run_module(X, "gate_weights"), self.architecture)

    def transform(self, X) -> np.ndarray:
        """The net's shared representation of ``X``: what the towers read.

        ``"hard"``: the shared bottom's output; ``"omoe"``: the one gate's mixture of the
        experts; ``"mmoe"``, ``"cgc"``, ``"ple"``: each task's gate-weighted mixture of the
        experts (the last level's for ple), task after task; ``"soft"``, ``"single"``,
        ``"esmm"``, ``"aitm"``: each task's own bottom, task after task. Column names are in
        :meth:`get_feature_names_out`. ``make_pipeline(MultiTaskRecommender(...),
        PerTaskLGBM())`` trains LightGBM on these features (neural embeddings feeding trees).

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or :class:`~sklearn_mtl.sources.ParquetSource`
            A source is read record batch by record batch (its target columns are not read).

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_mtl import MultiTaskRecommender
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 4))
        >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0])
        >>> model = MultiTaskRecommender("hard", hidden_units=(8, 3), max_epochs=2,
        ...                              random_state=0).fit(X, Y)
        >>> model.transform(X[:5]).shape, list(model.get_feature_names_out())
        ((5, 3), ['shared_0', 'shared_1', 'shared_2'])
        """
        parts = self._run_module(X, "representation")  # checks that the model is fitted
        if not parts:  # no rows
            return np.zeros((0, len(self.get_feature_names_out())), dtype=np.float32)
        return representation(parts)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of :meth:`transform`: ``shared_<i>`` where every task reads one
        representation (``"hard"``, ``"omoe"``), else ``<task>_<i>`` per task.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the fit's feature names (scikit-learn's convention); the output
            names do not depend on them.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        return np.asarray(feature_names(self.net_.module_, self._features, self.device_,
                                        self.task_names_), dtype=object)

    def predict_conditional_proba(self, X):
        """Like :meth:`predict_proba`, but cascaded children give ``P(child | parent, x)``.

        ``predict_proba`` gives a cascaded child's entire-space probability
        ``P(parent and child | x)`` (e.g. pCTCVR); this gives its conditional probability
        given the parent event (pCVR), the output of the child's own tower. Other tasks are as
        in ``predict_proba``.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or :class:`~sklearn_mtl.sources.ParquetSource`
            A source is read record batch by record batch (its target columns are not read).

        Returns
        -------
        list of ndarray of shape (n_samples, n_classes_t)
        """
        check_is_fitted(self)
        result = self.predict_proba(X)
        if not self.cascade_:
            return result
        out = np.concatenate([as_numpy(p) for p in self._run_module(X, "conditional_outputs")])
        bounds = np.cumsum([0, *self.target_encoder_.n_outputs_])
        for child in self.cascade_:
            t = self.task_names_.index(child)
            result[t] = binary_proba(out[:, bounds[t]])
        return result

    def _reference_params(self) -> dict:
        """The ``set_params`` that turn this model into its single-task reference.

        Every task gets its own bottom and tower (``"single"``). A cascade (``esmm`` included)
        is dropped too: the product ties the child's prediction to the parent's column, so it
        is not single-task. The reference then learns each task from its own column as given,
        which for a cascaded child written over all impressions (0 where the parent is 0) is a
        direct entire-space model, and for one written NaN off the parent's positives is the
        naive model trained on the parent's positive rows only.
        """
        params = {"architecture": REFERENCE_ARCHITECTURE}
        if self.cascade is not None or self.architecture in CHAIN_ARCHITECTURES:
            params["cascade"] = None
        if self.cascade_debias is not None:
            params["cascade_debias"] = None
        if self.init is not None:  # trained from scratch: a source of another architecture
            params["init"] = params["freeze"] = None
        return params

    def _fitted_digest(self) -> str | None:
        """A digest of the fitted weights and encoders (None before fit): what a stored
        comparison's identity records of a fitted model held as a parameter (``init``)."""
        if not hasattr(self, "net_"):
            return None
        return fitted_digest(self.net_.module_, self.task_names_, self._features.vocabularies_)
