"""What every command shares: the one-line user error and the settings of the command line."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from foundation.home import make_private
from foundation.settings import Settings, get_settings


class UserError(Exception):
    """Reported as one line on stderr with exit code 2."""


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, with the command line's `--home` and `--host` over the environment's; the
    home is created (or made) owner-only."""
    given = {k: getattr(args, k, None) for k in ("home", "host")}
    try:
        settings = get_settings(**{k: v for k, v in given.items() if v})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    make_private(settings.home)
    return settings
