"""``PerTaskLGBM``: one LightGBM model per task behind the multi-task contract (private; public
through the package root). No torch import.

``_estimator`` is the estimator; ``_params`` its constraint table and the LightGBM parameter
checks; ``_data`` what LightGBM is handed (coded feature frame, safe names, centred labels).
"""

from ._estimator import PerTaskLGBM

__all__ = ["PerTaskLGBM"]
