"""What an import of the catalogue gives back: the procedures read, the problems per record or
row, and `ImportFailed` when a file cannot be imported at all (the catalogue is then unchanged)."""

from __future__ import annotations

from dataclasses import dataclass, field

from procedures.catalogue import (
    Procedure,
)


class ImportFailed(Exception):
    """The file cannot be imported at all; the catalogue was not changed.

    The message is Vietnamese first, then English, and says what to fix.
    """


@dataclass
class Problem:
    """Something in one record or row that could not be parsed, or was repaired."""

    where: str
    message: str
    severity: str = "warning"  # "warning": imported with a repair; "error": not imported

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message, "severity": self.severity}

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ImportResult:
    """What an importer read: the procedures and the problems, per record."""

    source: str
    kind: str
    procedures: list[Procedure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    total: int = 0

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    def report(self) -> str:
        """A readable report for the command line."""
        summary = (
            f"Đã đọc {self.total} bản ghi từ {self.source} ({self.kind}): "
            f"{len(self.procedures)} thủ tục hợp lệ, {self.skipped} bị bỏ qua, "
            f"{len(self.problems)} vấn đề."
        )
        lines = [summary]
        lines += [f"  [{p.severity}] {p}" for p in self.problems]
        return "\n".join(lines)
