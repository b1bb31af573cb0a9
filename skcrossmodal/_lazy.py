"""Lazy attribute loading for subpackages, so optional dependencies load on use."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import importlib


def attach(package_name, submodule_of):
    """Return ``(__getattr__, __dir__, __all__)`` for a package.

    Parameters
    ----------
    package_name : str
        ``__name__`` of the package.
    submodule_of : dict of str to str
        Public name -> private submodule (relative to the package) defining it.
    """

    def __getattr__(name):
        if name in submodule_of:
            module = importlib.import_module(f"{package_name}.{submodule_of[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package_name!r} has no attribute {name!r}")

    def __dir__():
        return sorted(submodule_of)

    return __getattr__, __dir__, sorted(submodule_of)
