"""User-facing input errors: one message naming the file, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input (scenario or data file). The CLI prints it and exits with code 2."""

    def __init__(self, file: str | Path | None, field: str | None, problem: str, allowed: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.problem = problem
        self.allowed = allowed
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.field:
            parts.append(f"field '{self.field}'")
        where = ": ".join(parts)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text


class AccountingError(RuntimeError):
    """An invariant of the population state was violated (never a warning)."""
