"""The two ways a file is refused: a mistake about the input itself, or a file quarantined
whole."""

from __future__ import annotations

from foundation.contract import Reason


class InputError(Exception):
    """A user mistake about an input file: reported in one line, never as a traceback."""


class FileRejected(Exception):
    """A file that is not loaded at all: quarantined whole with one reason."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
