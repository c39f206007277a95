"""``MultiTaskRecommender``: a scikit-learn estimator that trains a skorch net (private; public
through the package root).

``_estimator`` is the estimator; ``_params`` its constraint table and fit-time checks;
``_assembly`` builds (and rebuilds, on load) the skorch net; ``_skorch`` is the skorch side
(dataset, whole-batch loaders, the NeuralNet subclass, its callbacks); ``_outputs`` turns the
module's raw outputs into predictions. The ``cascade`` parameter's label rule is
``sklearn_mtl._cascade`` (no torch: ``compare_transfer`` reads it too), the architectures by
name ``sklearn_mtl._architectures``.
"""

from ._estimator import MultiTaskRecommender

__all__ = ["MultiTaskRecommender"]
