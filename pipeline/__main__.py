"""``python -m pipeline``: the ``ladder`` command."""

from .cli import main

main(prog_name="ladder")
