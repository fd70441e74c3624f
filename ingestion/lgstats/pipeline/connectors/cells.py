"""A published cell as a number: what every text-based connector (SDMX-CSV, tabular CSV) reads the same way."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def decimal_cell(text: str, where: str, column: str) -> Decimal | None:
    """The cell's exact decimal value; an empty cell is NULL (no figure), never zero. Text that is not a finite
    number is refused naming the place and the column, never read as something else."""
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: column {column} holds {text!r}, not a number") from None
    if not value.is_finite():
        raise ValueError(f"{where}: column {column} holds {text!r}, not a finite number")
    return value
