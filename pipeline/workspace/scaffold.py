"""A new campaign workspace, copied from the shipped example (``ladder init``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.files import example_dir, writing
from pipeline.workspace.models import CONFIG_FILE


def scaffold(directory: Path, force: bool = False) -> None:
    """Copy the example's settings, channels, segments, prompts and layouts into ``directory``,
    with an empty outputs/ that git ignores. A folder that is already a workspace is refused
    unless ``force``."""
    if (directory / CONFIG_FILE).exists() and not force:
        raise InvalidWorkspace([Problem(str(directory / CONFIG_FILE), None, "",
                                        "already a workspace (use --force to overwrite)")])
    src = example_dir()
    with writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_FILE, "channels.yaml"):
            shutil.copy2(src / name, directory / name)
        for folder in ("segments", "prompts", "templates"):
            shutil.copytree(src / folder, directory / folder, dirs_exist_ok=True)
        (directory / "outputs").mkdir(exist_ok=True)
        gitignore = directory / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("outputs/\n", encoding="utf-8")
