"""ladder: segment-aware content drafts, checked against the customer value ladder."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ladder")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
