"""Domain errors. Each carries a code the edge turns into a localized message."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; nothing has been changed when it is raised."""

    code = "error.generic"
    # The input of a form the refusal is about, when it is about one ("question").
    field = ""

    def __init__(self, code: str | None = None, **params: str | int) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(self.code)


class NotAuthorised(DomainError):
    code = "error.not_authorised"


class NotFound(DomainError):
    code = "error.not_found"


class InvalidInput(DomainError):
    code = "error.invalid_input"


class IdentityCodeRefused(InvalidInput):
    code = "error.identity_code"


class Conflict(DomainError):
    """Someone else changed the same thing first; the user may simply try again."""

    code = "error.conflict"
