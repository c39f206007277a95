"""Progress bars with a time-left estimate for the ``sklearn-mtl`` command (tqdm, on stderr).

:class:`FitProgress` is a skorch callback that every net of a comparison or a tuning run
shares: one bar counts the fits (its rate gives the estimate of the time left for the whole
run), a second bar counts the epochs of the fit in progress. scikit-learn's ``clone`` copies
an estimator's ``callbacks``; :class:`Bars` deep-copies to itself, so every copy advances the
same bars. In a joblib
worker process (``--n-jobs`` > 1) the bars do not travel and the callback does nothing there.
"""

from __future__ import annotations

import sys

from skorch.callbacks import Callback
from tqdm.auto import tqdm


class Bars:
    """The shared state: a bar over ``total`` fits and, while a net trains, one over its epochs."""

    def __init__(self, total: int | None, desc: str = "fits", file=None):
        self.file = file or sys.stderr
        self.fits = tqdm(total=total, desc=desc, unit="fit", file=self.file, dynamic_ncols=True)
        self.epochs = None

    def __deepcopy__(self, memo):
        return self  # clone() copies callbacks through get_params: the copies share the bars

    def __reduce__(self):
        return _no_bars, ()  # tqdm bars do not cross to a worker process: None there

    def start_fit(self, max_epochs: int, label: str) -> None:
        self.close_epochs()
        self.epochs = tqdm(total=max_epochs, desc=f"  {label} epochs", unit="epoch", leave=False,
                           file=self.file, dynamic_ncols=True)

    def close_epochs(self) -> None:
        if self.epochs is not None:
            self.epochs.close()
            self.epochs = None

    def end_fit(self) -> None:
        self.close_epochs()
        self.fits.update(1)

    def close(self) -> None:
        self.close_epochs()
        self.fits.close()


def _no_bars():
    return None


class FitProgress(Callback):
    """skorch callback: advance the shared :class:`Bars` per epoch and per fit.

    Parameters
    ----------
    bars : Bars or None
        The shared bars; None (or in another process) makes the callback a no-op.
    label : str
        Name shown beside the epoch bar (the model's name in the comparison).
    """

    def __init__(self, bars: Bars | None, label: str = "net"):
        self.bars = bars
        self.label = label

    def on_train_begin(self, net, **kwargs):
        if self.bars is not None:
            self.bars.start_fit(net.max_epochs, self.label)

    def on_epoch_end(self, net, **kwargs):
        if self.bars is not None and self.bars.epochs is not None:
            row = net.history[-1]
            loss = row.get("valid_loss", row.get("train_loss"))
            self.bars.epochs.set_postfix_str(f"loss {loss:.4f}", refresh=False)
            self.bars.epochs.update(1)

    def on_train_end(self, net, **kwargs):
        if self.bars is not None:
            self.bars.end_fit()
