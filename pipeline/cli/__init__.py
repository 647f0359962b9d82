"""The `ladder` command: parsing arguments and formatting output; the work is done below it."""

from pipeline.cli.commands import main

__all__ = ["main"]
