"""``python -m pipeline``: the ``ladder`` command."""

from pipeline.cli.commands import main

main(prog_name="ladder")
