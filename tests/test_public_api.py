"""Every public name can be imported and is documented with runnable examples."""

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "skcrossmodal",
    "skcrossmodal.compose",
    "skcrossmodal.datasets",
    "skcrossmodal.feature_extraction",
    "skcrossmodal.fusion",
    "skcrossmodal.mapping",
    "skcrossmodal.metrics",
    "skcrossmodal.retrieval",
]


def _public_names():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                name
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj))
                and getattr(obj, "__module__", "").startswith(module_name)
            ]
        for name in names:
            if not name.startswith("__"):
                yield module_name, name


@pytest.mark.parametrize("module_name, name", list(_public_names()))
def test_public_name_is_documented(module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    doc = inspect.getdoc(obj)
    assert doc, f"{module_name}.{name} has no docstring"
    assert "Parameters" in doc or not inspect.signature(obj).parameters, (
        f"{module_name}.{name} does not document its parameters"
    )
    assert "Examples" in doc, f"{module_name}.{name} has no Examples section"
