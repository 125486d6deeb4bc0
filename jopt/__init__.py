"""jopt: functional, optax-compatible optimizer transforms for JAX."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jopt")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
