"""Progress with a time-left estimate for the ``sklearn-mtl`` command, on stderr.

:class:`FitProgress` is a skorch callback that every net of a comparison or a tuning run
shares. On a terminal (``--progress bar``) one tqdm bar counts the fits (its rate gives the
estimate of the time left for the whole run) and a second one the epochs of the fit in progress.
Written to a file or a pipe (``--progress lines``, what ``auto`` picks there: a scheduler's or
CI's log) each finished fit prints one plain line instead, so the log holds no carriage-return
redraws. scikit-learn's ``clone`` copies
an estimator's ``callbacks``; :class:`Bars` deep-copies to itself, so every copy advances the
same bars. In a joblib
worker process (``--n-jobs`` > 1) the bars do not travel and the callback does nothing there.
"""

from __future__ import annotations

import sys
import time

from skorch.callbacks import Callback
from tqdm.auto import tqdm

PROGRESS_MODES = ("auto", "bar", "lines", "none")


def progress_mode(progress: str, quiet: bool, stream=None) -> str:
    """``"bar"``, ``"lines"`` or ``"none"``: ``auto`` draws bars on a terminal only."""
    if quiet or progress == "none":
        return "none"
    if progress == "auto":
        stream = stream or sys.stderr
        return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"
    return progress


class Bars:
    """The shared state: a bar over ``total`` fits and, while a net trains, one over its epochs
    (``mode="bar"``), or one line per finished fit (``mode="lines"``)."""

    def __init__(self, total: int | None, desc: str = "fits", file=None, mode: str = "bar"):
        self.file = file or sys.stderr
        self.mode, self.total, self.desc = mode, total, desc
        self.done, self.label, self.started = 0, None, time.monotonic()
        self.fits = None
        if mode == "bar":
            self.fits = tqdm(total=total, desc=desc, unit="fit", file=self.file,
                             dynamic_ncols=True)
            self.fits.clear()
        self.epochs = None

    def __deepcopy__(self, memo):
        return self  # clone() copies callbacks through get_params: the copies share the bars

    def __reduce__(self):
        return _no_bars, ()  # tqdm bars do not cross to a worker process: None there

    def start_fit(self, max_epochs: int, label: str) -> None:
        self.close_epochs()
        self.label = label
        if self.mode == "bar":
            self.epochs = tqdm(total=max_epochs, desc=f"  {label} epochs", unit="epoch",
                               leave=False, file=self.file, dynamic_ncols=True)

    def close_epochs(self) -> None:
        if self.epochs is not None:
            self.epochs.close()
            self.epochs = None

    def end_fit(self) -> None:
        self.close_epochs()
        self.done += 1
        if self.fits is not None:
            self.fits.update(1)
            return
        elapsed = time.monotonic() - self.started
        line = f"{self.desc}: {self.done}"
        if self.total:
            left = elapsed / self.done * max(self.total - self.done, 0)
            line += f"/{self.total} done ({self.label}), {elapsed:.0f} s, about {left:.0f} s left"
        else:
            line += f" done ({self.label}), {elapsed:.0f} s"
        print(line, file=self.file, flush=True)

    def close(self) -> None:
        self.close_epochs()
        if self.fits is not None:
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
