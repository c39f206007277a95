"""``MultiTaskRecommender``: a scikit-learn estimator that trains a skorch net (private; public
through the package root).

The estimator (``_estimator``) checks and resolves its parameters once into a plain spec and
hands plain values to the helpers below, which never see it:

* what a model is: ``_params`` (the constraint table and fit-time checks), ``_spec`` (the
  resolved spec, the data's shape, parameters counted on the meta device);
* fitting: ``_fit`` (the data of an in-memory fit and what every fit shares), ``_source`` (a
  source read record batch by record batch), ``_partial_fit`` (chunk by chunk),
  ``_distributed`` with ``_spawn`` and ``_rank_entry`` (data-parallel ranks), ``_warm_start``
  (fine-tuning from a source model); all of them feed ``_kernel``, the one fit kernel, which
  builds the net (``_assembly``: callbacks, the net, its rebuild from a learned state) and
  trains it with ``_skorch`` (dataset, loaders, the NeuralNet subclass); ``_sparse`` densifies
  sparse input batch by batch;
* predicting: ``_predict`` (encode, run the module batch by batch), ``_prescaled`` (the
  standardization folded into the first layers), ``_outputs`` (outputs into predictions),
  ``_transform`` (the shared representation as features).

The ``cascade`` parameter's label rule is ``sklearn_mtl._cascade`` (no torch:
``compare_transfer`` reads it too), the architectures by name ``sklearn_mtl._architectures``.
"""

from ._estimator import MultiTaskRecommender

__all__ = ["MultiTaskRecommender"]
