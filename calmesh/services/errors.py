"""The one shape of a refusal a service raises: a readable message, the HTTP
status it means, a short code and, when it is about one input, that field.

The REST layer answers it as its JSON error (calmesh/http.py) and pages show
the message; each service names its own subclass for readers and callers.
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(
        self,
        message: str,
        status: int = 422,
        code: str = "unprocessable",
        field: str = "",
        details: list[dict[str, str]] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.field = status, code, field
        self._details = details

    @property
    def details(self) -> list[dict[str, str]] | None:
        """``details`` as given, else the one field with the message, else None."""
        if self._details is not None:
            return self._details
        return [{"field": self.field, "message": str(self)}] if self.field else None
