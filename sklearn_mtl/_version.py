"""The package's version: a leaf module, so that any layer can read it without importing the
package root (as Optuna's ``optuna/version.py``)."""

__version__ = "0.1.0"
