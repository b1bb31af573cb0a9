"""scikit-learn's estimator checks for estimators that take a modality table.

scikit-learn's checks feed bare arrays (or sparse matrices, memmaps, lists),
which estimators needing modality blocks refuse by design (DESIGN.md §1). Those
checks are listed with the reason, and :func:`run_check` asserts that each one
really fails with the modality-table error: a listed check that passes, or
fails for another reason, fails the test. The same behaviours are tested on
modality tables in each estimator's test file.
"""

import pytest

BLOCKS_NEEDED = "needs a modality table; a bare ndarray raises by design (DESIGN.md §1)"

# The checks that feed a bare array to a transformer's fit.
TABLE_CHECKS = (
    "check_complex_data",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)


def expected_table_failures(checks=TABLE_CHECKS):
    """``{check name: reason}`` for checks that cannot take a bare array."""
    return {check: BLOCKS_NEEDED for check in checks}


def _raised_for_missing_blocks(exc):
    # The phrase that both validate_blocks and split_modalities use to refuse
    # a bare array (skcrossmodal/_frame.py).
    while exc is not None:
        if "a bare array has no modality names" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run_check(estimator, check, expected_failures):
    """Run one scikit-learn check; an expected failure must be the table error.

    Use with ``parametrize_with_checks`` WITHOUT ``expected_failed_checks``
    (its non-strict xfail marks would hide a check that starts to pass). An
    expected failure is reported with ``pytest.xfail`` from here, which also
    spares pytest formatting the deep traceback into sklearn's checks.
    """
    name = getattr(check, "func", check).__name__
    if name not in expected_failures:
        check(estimator)
        return
    try:
        check(estimator)
    except Exception as exc:  # noqa: BLE001 - inspected below
        failure = exc
    else:
        pytest.fail(f"{name} is listed as an expected failure but passed.")
    assert _raised_for_missing_blocks(failure), f"{name} failed otherwise: {failure!r}"
    # Outside the except clause, so that the xfail carries no exception chain.
    pytest.xfail(expected_failures[name])
