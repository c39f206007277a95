"""Data sets for multi-task learning: a synthetic generator and two real-data fetchers.

* :func:`make_multitask_data`: the MMoE paper's synthetic tasks with a controlled correlation.
* :func:`make_ctr_cvr_data`: impressions, clicks and purchases observed only after a click (ESMM).
* :func:`fetch_census_income`: UCI Census-Income (KDD), tasks income > 50K and never married.
* :func:`fetch_movielens_100k`: MovieLens 100K, one row per rating, tasks liked and rating.

The fetchers read from :func:`get_data_home` (``data_home=``, else the environment variable
``SKLEARN_MTL_DATA``, else ``~/sklearn_mtl_data``) and download missing files.
"""

from ._base import get_data_home
from ._census import fetch_census_income
from ._ctr_cvr import make_ctr_cvr_data
from ._movielens import fetch_movielens_100k
from ._synthetic import make_multitask_data

__all__ = [
    "fetch_census_income",
    "fetch_movielens_100k",
    "get_data_home",
    "make_ctr_cvr_data",
    "make_multitask_data",
]
