"""The architectures of ``MultiTaskRecommender`` by name, and what each needs: a leaf module
(no torch), read by the nets, the estimator's checks, the tuning spaces and the comparison."""

ARCHITECTURES = ("hard", "soft", "mmoe", "single", "omoe", "cgc", "ple", "esmm", "aitm")
# Architectures that chain binary tasks by themselves (cascade=None chains the tasks of Y).
CHAIN_ARCHITECTURES = ("esmm", "aitm")
# Architectures whose tasks read a mixture of experts: their experts need a hidden layer.
EXPERT_ARCHITECTURES = ("mmoe", "omoe", "cgc", "ple")
