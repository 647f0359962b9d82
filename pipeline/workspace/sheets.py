"""Segments from a sheet (.csv or .xlsx): one row a segment, lists separated by ';', each
problem with its row and column."""

from __future__ import annotations

import csv
import io
from typing import Any, Protocol

from pydantic import BaseModel

from pipeline.workspace.models import (
    Segment,
)
from pipeline.workspace.yaml_lines import Source

LIST_SEPARATOR = ";"  # between the items of a list in one cell


class Loading(Protocol):
    """What a sheet needs of the loader: its files, its problems and its validation."""

    def read_bytes(self, rel: str) -> bytes | None: ...
    def problem(self, file: str, line: int | None, path: str, message: str, level: str = "error") -> None: ...
    def validate(self, data: Any, model: type[BaseModel], source: Source) -> Any: ...


def sheet_segments(ld: Loading, rel: str) -> list[Segment]:
    import pandas as pd  # only when a sheet is present: pandas takes a while to import

    data = ld.read_bytes(rel)
    if data is None:
        return []
    try:
        if rel.endswith(".csv"):
            text = csv_text(ld, rel, data)
            if text is None:
                return []
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False)
        else:
            frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises many kinds for a bad sheet
        ld.problem(rel, None, "", f"cannot read sheet: {e}")
        return []
    known = set(SHEET_COLUMNS)
    for col in frame.columns:
        if str(col) not in known:
            ld.problem(rel, 1, str(col), f"unknown column (allowed: {', '.join(SHEET_COLUMNS)})")
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2  # the header is line 1
        data: dict[str, Any] = {}
        for col, cell in row.items():
            col = str(col)
            cell = str(cell).strip()
            if col not in known or not cell:
                continue
            _put(data, col.split("."), SHEET_COLUMNS[col](cell))
        lines = {(): line}
        seg = ld.validate(data, Segment, Source(rel, lines))
        if seg:
            out.append(seg)
    return out


def csv_text(ld: Loading, rel: str, data: bytes) -> str | None:
    """A CSV sheet's text: UTF-8, no row longer than the header (pandas would shift it)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        ld.problem(rel, data.count(b"\n", 0, e.start) + 1, "",
                     f"not UTF-8 text ({e.reason} at byte {e.start}): save the sheet as UTF-8 CSV")
        return None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    long = [(reader.line_num, len(row)) for row in reader if len(row) > len(header)]
    for line, cells in long:
        ld.problem(rel, line, "", f"{cells} cells, but the header has {len(header)} columns")
    return None if long else text


def _split(cell: str) -> list[str]:
    return [v.strip() for v in cell.split(LIST_SEPARATOR) if v.strip()]


def _pairs(cell: str) -> list[tuple[str, str]]:
    return [tuple(v.strip() for v in item.split("=", 1)) if "=" in item else (item, "") for item in _split(cell)]


SHEET_COLUMNS = {
    "id": str,
    "name": str,
    "language": str,
    "role": str,
    "priority": str,
    "current_step": str,
    "target_step": str,
    "needs": _split,
    "objections": _split,
    "value_drivers": _split,
    "channels": _split,
    "vocabulary.use": _split,
    "vocabulary.avoid": lambda c: [{"term": t, "replacement": r} for t, r in _pairs(c)],
    "vocabulary.concepts": lambda c: dict(_pairs(c)),
    "tone.formality": str,
    "tone.address": str,
    "tone.energy": str,
    "tone.sentence_length": str,
    "tone.examples": _split,
}


def _put(data: dict, keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value
