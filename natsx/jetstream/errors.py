"""JetStream API errors as nats-server sends them: {"code": <http-like>, "err_code": <JSErr>,
"description": <text>}. The table is nats-server's errors.json, generated into errors_table.py.

    raise ApiError.of("JSStreamNotFoundErr")
    raise ApiError.of("JSStreamInvalidConfigF", err="max age can not be negative")
"""
from __future__ import annotations

import re
from typing import Any

from natsx.jetstream.errors_table import ERRORS

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class ApiError(Exception):
    """An error answer to a $JS.API request (or a publish): raised by "decide" code, rendered by the router."""

    def __init__(self, code: int, err_code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.err_code = err_code
        self.description = description

    @classmethod
    def of(cls, constant: str, **args: Any) -> "ApiError":
        """nats-server's error `constant` with its {placeholders} filled from args (as its NewJS*Error)."""
        code, err_code, template = ERRORS[constant]
        text = _PLACEHOLDER.sub(lambda m: str(args[m.group(1)]) if m.group(1) in args else m.group(0), template)
        return cls(code, err_code, text)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "err_code": self.err_code, "description": self.description}


def invalid_config(text: str) -> ApiError:
    """JSStreamInvalidConfigF (10052): nats-server's answer for most stream config refusals."""
    return ApiError.of("JSStreamInvalidConfigF", err=text)
