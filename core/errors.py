"""Domain errors: each maps to one HTTP status in the API and one line on the command line."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every refusal of the core; `status` is the HTTP status the API answers."""

    status = 400
    code = "bad_request"


class NotFound(CoreError):
    status = 404
    code = "not_found"


class InvalidTransition(CoreError):
    """The operation is not allowed in the subscription's (or purchase's) current state."""

    status = 409
    code = "invalid_transition"


class Conflict(CoreError):
    status = 409
    code = "conflict"


class InvalidInput(CoreError):
    status = 422
    code = "invalid_input"


class PaymentDeclined(CoreError):
    """The provider refused a charge the operation needed (sign-up, purchase)."""

    status = 402
    code = "payment_declined"

    def __init__(self, message: str, failure_code: str) -> None:
        super().__init__(message)
        self.failure_code = failure_code
