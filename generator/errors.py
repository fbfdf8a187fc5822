"""The exception hierarchy. Every problem a user can fix names the file, the line and the field."""

from __future__ import annotations


class CodesiteError(Exception):
    """Base class: anything codesite reports to the user instead of a traceback."""


class ContentError(CodesiteError):
    """A problem in one content (or config) file, printed as ``path:line: field: message``."""

    severity = "error"

    def __init__(self, path: str, line: int, field: str, message: str, col: int = 1) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.message = message
        self.col = col  # 1-based column where the problem starts, when known (else 1)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContentError) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __reduce__(self) -> tuple[type, tuple[str, int, str, str, int]]:
        """Pickle by fields, so errors found in a worker process reach the parent."""
        return (type(self), (*self.key(), self.col))

    def key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.field, self.message)


class PathError(ContentError):
    """A problem with a file as a whole (line 0: none in it), printed as ``path: field: message``."""

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


class ContentWarning(ContentError):
    """A problem worth fixing that does not stop a build (``codesite check --strict`` fails on it)."""

    severity = "warning"


class CheckFailed(CodesiteError):
    """The check stage found problems; nothing was rendered."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.path, e.line, e.field, e.message))
        super().__init__(f"{len(self.errors)} error(s)")


class ConfigError(ContentError):
    """A problem in content/site.yaml."""


class BuildError(CodesiteError):
    """The build could not complete (output folder, templates, I/O)."""
