"""What every skcrossmodal estimator's ``fit`` shares: validation and fail-safety.

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
