"""Dashboard users: scrypt hashes (never the password), roles that include each other, the
users file written atomically for its owner only, and the `churniq users` commands."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import pytest

from app import users
from cli.main import main


def test_a_password_is_stored_only_as_a_salted_scrypt_hash(tmp_path: Path):
    user = users.save_user(tmp_path, "ana", "correct horse", "retention")
    text = users.users_path(tmp_path).read_text()
    assert "correct horse" not in text and user.password_hash in text
    kind, n, r, p, salt, digest = user.password_hash.split("$")
    # an independent computation of the same hash
    expected = hashlib.scrypt(
        b"correct horse", salt=users.base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    assert kind == "scrypt" and users.base64.b64decode(digest) == expected
    again = users.hash_password("correct horse")
    assert again != user.password_hash  # a new salt every time
    assert stat.S_IMODE(users.users_path(tmp_path).stat().st_mode) == 0o600


def test_authenticate(tmp_path: Path):
    users.save_user(tmp_path, "ana", "correct horse", "retention")
    found = users.load_users(tmp_path)
    assert users.authenticate(found, "ana", "correct horse").role == "retention"
    assert users.authenticate(found, " Ana ", "correct horse") is not None
    assert users.authenticate(found, "ana", "Correct horse") is None
    assert users.authenticate(found, "bob", "correct horse") is None
    assert not users.verify_password("x", "md5$abc")


def test_roles_include_the_weaker_ones():
    admin, retention, viewer = (users.User(r, r, "") for r in ("admin", "retention", "viewer"))
    assert admin.may("retention") and admin.may("viewer") and retention.may("viewer")
    assert not viewer.may("retention") and not retention.may("admin")


@pytest.mark.parametrize(
    ("name", "password", "role", "why"),
    [
        ("Ana", "long enough", "viewer", "user name"),
        ("ana", "short", "viewer", "at least 8"),
        ("ana", "long enough", "owner", "role"),
    ],
)
def test_bad_users_are_refused(tmp_path: Path, name, password, role, why):
    with pytest.raises(ValueError, match=why):
        users.save_user(tmp_path, name, password, role)
    assert not users.users_path(tmp_path).exists()


def test_the_users_commands(tmp_path: Path, capsys, monkeypatch):
    home = ["--home", str(tmp_path)]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main([*home, "users", "add", "ana", "--role", "admin", "--password-stdin"]) == 0
    assert main([*home, "users", "add", "bob", "--role", "viewer", "--generate"]) == 0
    password = capsys.readouterr().out.split("password: ")[1].strip()
    found = users.load_users(tmp_path)
    assert users.authenticate(found, "bob", password).role == "viewer"
    assert users.authenticate(found, "ana", "a long password").role == "admin"
    assert main([*home, "users", "list"]) == 0
    assert capsys.readouterr().out == "ana\tadmin\nbob\tviewer\n"
    assert main([*home, "users", "remove", "bob"]) == 0
    assert main([*home, "users", "remove", "bob"]) == 2
    assert "no user bob" in capsys.readouterr().err
    assert list(users.load_users(tmp_path)) == ["ana"]
    assert main([*home, "users", "add", "Cy@Example.org", "--role", "retention", "--oidc"]) == 0
    cy = users.load_users(tmp_path)["cy@example.org"]
    assert (cy.role, cy.password_hash) == ("retention", users.OIDC_ONLY)
