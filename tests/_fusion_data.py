"""Data and expected-failure tables shared by the fusion test files."""

import numpy as np

from skcrossmodal import make_frame

NEEDS_TABLE = (
    "needs a modality table; a bare ndarray raises by design (DESIGN §1), the "
    "behaviour is tested on DataFrames in this file"
)


def make_views(n_samples=90, n_classes=3, seed=0):
    """Three noisy views of the same classes, each informative on its own."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    centers = rng.normal(size=(n_classes, 4))
    blocks = {
        name: centers[y][:, :width] * scale + rng.normal(size=(n_samples, width))
        for name, width, scale in [
            ("text", 4, 1.0),
            ("image", 3, 0.8),
            ("audio", 2, 0.6),
        ]
    }
    return make_frame(**blocks), y


_NEEDS_TABLE = {
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
}


_SUPERVISED_NEEDS_TABLE = {
    "check_all_zero_sample_weights_error",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
    "check_supervised_y_2d",
}


_CLASSIFIER_NEEDS_TABLE = {
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
    "check_classifiers_one_label",
    "check_classifiers_one_label_sample_weights",
    "check_classifiers_train",
}


_REGRESSOR_NEEDS_TABLE = {
    "check_complex_data",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
}


_TRANSFORMER_NEEDS_TABLE = {
    "check_complex_data",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
}


def _error_chain(exc):
    messages = []
    while exc is not None:
        messages.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " ".join(messages)


def _two_view_task(seed=0, n_samples=200):
    """Two views mixing one shared latent (fixed mixing, samples drawn by seed)."""
    mixing = np.random.default_rng(42).normal(size=(2, 9))
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    latent = (2 * y - 1)[:, None] * np.array([[1.5, 0.0]]) + rng.normal(
        size=(n_samples, 2)
    )
    views = latent @ mixing + 0.3 * rng.normal(size=(n_samples, 9))
    return make_frame(text=views[:, :5], image=views[:, 5:]), y
