"""`rwc login URL` and `rwc logout URL`: the per-server token store (pycontainer.client.tokens).

The token is read without echo from the terminal, or from stdin with --token-stdin (never
from the command line, where other users could see it in the process list). It is checked
with whoami before it is stored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from pycontainer.cli.common import (
    CLIENT_IMPORTS,
    ENV_SERVER,
    SubParsers,
    add_tls_option,
    make_client,
    start_tls,
    store_for,
)
from pycontainer.cli.exits import SaidUsageError
from pycontainer.cli.texts import say
from pycontainer.cli.ui import Ui
from pycontainer.client.server_url import normalize_server_url
from pycontainer.client.tokens import ENV_TOKEN, TOKEN_MAX, check_token


def add_parsers(
    sub: SubParsers,
    parents: list[argparse.ArgumentParser],
) -> None:
    """Add login and logout."""
    p = sub.add_parser(
        "login",
        parents=parents,
        help="store a token for a key server",
        description="Check a token with the key server and store it for URL in "
        "$XDG_CONFIG_HOME/rwc/tokens.json (mode 0600). It is only ever sent to URL. RWC_TOKEN "
        "takes precedence when the server is named with --server or RWC_SERVER.",
    )
    p.add_argument("url", metavar="URL", help="the key server (https://HOST[:PORT][/PATH])")
    p.add_argument("--token-stdin", action="store_true", help="read the token from stdin")
    add_tls_option(p)
    p.set_defaults(
        run=run_login,
        imports=CLIENT_IMPORTS,
        # TLS context building starts before the imports (cli.common.start_tls).
        prepare=lambda args, env: start_tls(args.url, args, env),
    )
    p = sub.add_parser("logout", parents=parents, help="forget the token stored for a key server")
    p.add_argument("url", metavar="URL", help="the key server whose token to forget")
    p.set_defaults(run=run_logout)


def _read_token(args: argparse.Namespace, lang: str) -> str:
    try:
        if args.token_stdin:
            line = sys.stdin.readline(TOKEN_MAX + 2)
        elif sys.stdin.isatty():
            import getpass  # noqa: PLC0415 - only to prompt; every `rwc` run imports this module

            line = getpass.getpass(say("token_prompt", lang, url=args.url))
        else:
            raise SaidUsageError("no_terminal_for_token")
    except EOFError:  # Ctrl-D at the prompt
        raise SaidUsageError("no_token_entered") from None
    except UnicodeDecodeError:  # bytes on stdin that are no text cannot be a token either
        line = ""
    return check_token(line)


def run_login(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Check the token with whoami, then store it."""
    url = normalize_server_url(args.url)
    token = _read_token(args, ui.lang)
    with make_client(url, token, args, env, lang=ui.lang) as client:
        who = client.whoami()
    store = store_for(env)
    store.put(url, token)
    if env.get(ENV_TOKEN):
        ui.warn(say("token_env_wins", ui.lang, variable=ENV_TOKEN, server_variable=ENV_SERVER))
    roles = ", ".join(who.roles) or say("no_roles", ui.lang)
    ui.result(
        "login",
        {"server": url, "name": who.name, "roles": list(who.roles), "store": str(store.path)},
        say("logged_in", ui.lang, url=url, name=who.name, roles=roles, store=store.path),
    )


def run_logout(args: argparse.Namespace, ui: Ui, env: Mapping[str, str]) -> None:
    """Remove the stored token."""
    url = normalize_server_url(args.url)
    removed = store_for(env).remove(url)
    ui.result(
        "logout",
        {"server": url, "removed": removed},
        say("logged_out" if removed else "no_token_stored", ui.lang, url=url),
    )
