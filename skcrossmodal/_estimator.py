"""What every skcrossmodal estimator shares: a fail-safe fit, progress messages.

:func:`fit_context` decorates every ``fit``, ``partial_fit`` and
``fit_transform`` of the library. It validates the parameters (scikit-learn's
``_fit_context``, through the version-safe shim of ``sklearn-compat``) and runs
the method as a transaction: if it raises, for any reason (a bad input found
halfway, a training loss that became NaN, a ``KeyboardInterrupt``), the
estimator's attributes are put back exactly as they were before the call, so a
fitted estimator stays fitted with its previous state and an unfitted one
stays unfitted.

The rule that makes a snapshot of ``vars(estimator)`` enough: ``fit`` never
modifies a fitted attribute's object in place; it builds new objects (arrays,
networks, dicts, fitted clones) and assigns them. The previous objects are
then still intact in the snapshot.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import functools
import sys
import time
from contextlib import contextmanager

from sklearn_compat.base import _fit_context


@contextmanager
def unchanged_on_error(estimator):
    """Restore ``vars(estimator)`` if the ``with`` block raises.

    Parameters
    ----------
    estimator : object
        The estimator whose attributes are protected.
    """
    state = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(state)
        raise


def fit_context(*, prefer_skip_nested_validation):
    """Decorate a fitting method: validate parameters, restore state on error.

    Parameters
    ----------
    prefer_skip_nested_validation : bool
        As in scikit-learn's ``_fit_context``: True skips the parameter
        validation of the estimators and functions called inside (set False
        for meta-estimators, whose members are validated by their own fit).

    Returns
    -------
    decorator : callable
        Wraps ``fit``, ``partial_fit`` or ``fit_transform``.
    """

    def decorator(fit_method):
        validated = _fit_context(
            prefer_skip_nested_validation=prefer_skip_nested_validation
        )(fit_method)

        @functools.wraps(fit_method)
        def wrapper(estimator, *args, **kwargs):
            with unchanged_on_error(estimator):
                return validated(estimator, *args, **kwargs)

        return wrapper

    return decorator


class Progress:
    """The one way an estimator reports progress (``verbose``, docs/glossary.md).

    Messages go to stderr in one format, ``[ClassName] <step>: <what> (<s> s)``,
    where the seconds count from the creation of this object (the start of the
    ``fit``, ``transform`` or search being reported).

    Parameters
    ----------
    estimator : estimator instance
        Its class name starts every message.
    verbose : int or bool
        Messages of ``level`` at most ``verbose`` are printed.

    Examples
    --------
    >>> import sys
    >>> from skcrossmodal._estimator import Progress
    >>> from skcrossmodal.mapping import CCA
    >>> progress = Progress(CCA(), verbose=1)
    >>> sys.stderr = sys.stdout  # show the message here
    >>> progress("epoch 1/3", "loss 0.25")  # doctest: +ELLIPSIS
    [CCA] epoch 1/3: loss 0.25 (... s)
    >>> sys.stderr = sys.__stderr__
    """

    def __init__(self, estimator, verbose):
        self.name = type(estimator).__name__
        self.verbose = int(verbose)
        self.start = time.perf_counter()

    def __bool__(self):
        return self.verbose > 0

    def __call__(self, step, what="", *, level=1):
        """Print one message if ``level <= verbose``.

        Parameters
        ----------
        step : str
            Where the work is, e.g. ``"epoch 3/10"`` or ``"batch 2/8"``.
        what : str, default=""
            What was done or measured.
        level : int, default=1
            1 for the steps of long work, 2 for finer ones.
        """
        if self.verbose < level:
            return
        elapsed = time.perf_counter() - self.start
        detail = f": {what}" if what else ""
        print(
            f"[{self.name}] {step}{detail} ({elapsed:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
