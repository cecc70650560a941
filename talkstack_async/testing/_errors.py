"""How an emulated endpoint refuses a request."""

from __future__ import annotations

from typing import Any

__all__ = ["Refusal"]


class Refusal(Exception):
    """An error answer: ``{"message": ..., "status": "error", **fields}`` with an HTTP status."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **fields: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "status": "error", **self.fields}
