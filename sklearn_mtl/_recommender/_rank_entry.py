"""``python -m sklearn_mtl._recommender._rank_entry TASK RANK``: one rank of a data-parallel fit.

A module of its own, started by :func:`sklearn_mtl._recommender._spawn.run_ranks`, so that a
rank imports the library and never the caller's script (see there).
"""

import sys

from sklearn_mtl._recommender._spawn import rank_entry

if __name__ == "__main__":
    rank_entry(sys.argv[1], int(sys.argv[2]))
