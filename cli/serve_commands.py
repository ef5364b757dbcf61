"""Serving the dashboards (with the core API beside them for the demo) and their users."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from .options import UserError, settings_from

REPO = Path(__file__).resolve().parent.parent


def serve_app(settings, port: int, core_port: int | None = None) -> int:
    """Serve the dashboards on `settings.host`; with `core_port`, the core API beside them on
    the same address (the demo), stopped with them."""
    from app.serve import streamlit_command

    env = os.environ | {"CHURNIQ_HOME": str(settings.home.resolve())}
    core = None
    if core_port is not None:
        churniq = Path(sys.executable).with_name("churniq")
        core = subprocess.Popen(
            [
                str(churniq), "--home", str(settings.home), "core", "serve",
                "--port", str(core_port), "--host", settings.host,
            ],
            env=env,
        )  # fmt: skip
    cmd = streamlit_command(port, settings.host)
    print(f"dashboards on {settings.local_url(port)} (Ctrl+C to stop)")
    # A service manager stops us with SIGTERM: end through `finally`, taking the servers along
    # (by default SIGTERM ends Python at once and left the dashboards and the API running).
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    app = subprocess.Popen(cmd, env=env)
    try:
        return app.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for server in (app, core):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_app(args: argparse.Namespace) -> int:
    return serve_app(settings_from(args), args.port)


def ensure_app_core_key(settings, core_port: int) -> str:
    """The dashboards' retention key for the demo's core (created once, kept in the home)."""
    from app.core_client import connection_path, save_connection
    from core import keys
    from core.unit import Core

    path = connection_path(settings.home)
    if path.exists():
        return f"the dashboards reach the core API with the key in {path}"
    core = Core(settings.core_url)
    try:
        with core.unit(actor="cli", role="admin") as u:
            row, secret = keys.create_key(u, "retention", "dashboards (demo)")
    finally:
        core.close()
    save_connection(settings.home, settings.local_url(core_port), secret)
    return f"core API key {row.id} (retention) saved for the dashboards in {path}"


def cmd_users(args: argparse.Namespace) -> int:
    from app import users

    settings = settings_from(args)
    try:
        if args.users_command == "list":
            found = users.load_users(settings.home)
            for user in found.values():
                print(f"{user.name}\t{user.role}")
            if not found:
                print(f"no users yet: `churniq users add NAME --role {users.ROLES[-1]}`")
            return 0
        if args.users_command == "remove":
            if not users.remove_user(settings.home, args.name):
                raise UserError(f"no user {args.name}")
            print(f"removed {args.name}")
            return 0
        if args.oidc:
            user = users.save_oidc_user(settings.home, args.name, args.role)
            print(f"user {user.name} ({user.role}, single sign-on) saved")
            return 0
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif args.generate:
            password = users.new_password()
        else:
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
        user = users.save_user(settings.home, args.name, password, args.role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"user {user.name} ({user.role}) saved in {users.users_path(settings.home)}")
    if args.generate:
        print(f"password: {password}")
    return 0


def ensure_demo_user(settings) -> str:
    """The demo's sign-in: user `demo` (admin), with a new password printed once."""
    from app import users

    if "demo" in users.load_users(settings.home):
        return (
            "sign in as demo with the password printed when it was created "
            "(new one: `churniq users add demo --role admin --generate`)"
        )
    password = users.new_password()
    users.save_user(settings.home, "demo", password, "admin")
    return f"sign in as demo with password {password}"
