"""Dashboard users: names, roles and scrypt password hashes in `<home>/app_users.json`.

No Streamlit here: the command line (`churniq users ...`, `churniq demo`) manages the file and
the app's sign-in reads it. Passwords are never stored, only `scrypt$n$r$p$salt$hash` (the
standard library's memory-hard KDF); the file is written atomically and readable by its owner
only.

Roles, each including the one before: `viewer` (reads every page), `retention` (plus exports
and campaigns), `admin` (plus data-health actions).

Users who sign in through OpenID Connect (`st.login`, when the app's secrets configure it) are
listed by their e-mail address with the password hash :data:`OIDC_ONLY`, which no password
matches: the identity provider proves who they are, this file says what they may do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from foundation.home import Home

ROLES = ("viewer", "retention", "admin")
#: The weakest role that may take subscriber rows out of the app (exports, table downloads).
EXPORT_ROLE = "retention"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
_N, _R, _P = 2**14, 8, 1
#: The "password hash" of users who sign in only through OpenID Connect (no password matches).
OIDC_ONLY = "oidc"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        raw = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(raw),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, raw)


# an unknown name is checked against this, so a wrong name takes as long as a wrong password
_DUMMY = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    def may(self, role: str) -> bool:
        """Whether this user has `role` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def users_path(home: Path) -> Path:
    return Home(home).app_users


def load_users(home: Path) -> dict[str, User]:
    """The users of the dashboards at `home` (none when the file does not exist)."""
    path = users_path(home)
    if not path.exists():
        return {}
    try:
        rows = json.loads(path.read_text())["users"]
        users = {row["name"]: User(row["name"], row["role"], row["password_hash"]) for row in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a users file: {exc}") from None
    bad = [u.name for u in users.values() if u.role not in ROLES]
    if bad:
        raise ValueError(f"{path}: unknown role for {', '.join(bad)}")
    return users


def _write(home: Path, users: dict[str, User]) -> None:
    path = users_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    body = {"users": [asdict(u) for u in sorted(users.values(), key=lambda u: u.name)]}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(body, f, indent=2)
    os.replace(tmp, path)


def _checked(name: str, role: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"user name {name!r}: lower-case letters, digits and _ . @ - only")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: must be one of {', '.join(ROLES)}")


def save_user(home: Path, name: str, password: str, role: str) -> User:
    """Create or replace `name` with this password and role."""
    _checked(name, role)
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    users = load_users(home)
    users[name] = User(name, role, hash_password(password))
    _write(home, users)
    return users[name]


def save_oidc_user(home: Path, email: str, role: str) -> User:
    """Create or replace a user who signs in through OpenID Connect as `email`."""
    name = email.strip().lower()
    _checked(name, role)
    users = load_users(home)
    users[name] = User(name, role, OIDC_ONLY)
    _write(home, users)
    return users[name]


def remove_user(home: Path, name: str) -> bool:
    users = load_users(home)
    if users.pop(name, None) is None:
        return False
    _write(home, users)
    return True


def authenticate(users: dict[str, User], name: str, password: str) -> User | None:
    """The user with this name and password, or None."""
    user = users.get(name.strip().lower())
    ok = verify_password(password, user.password_hash if user else _DUMMY)
    return user if user is not None and ok else None


def new_password() -> str:
    return secrets.token_urlsafe(12)
