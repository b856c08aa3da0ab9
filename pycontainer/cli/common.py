"""Pieces shared by the `rwc` subcommands: environment names, token, client and password."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from pycontainer.cli.password import ENV_PASSWORD, get_password
from pycontainer.cli.strictargs import file_name
from pycontainer.cli.ui import Ui
from pycontainer.client.tokens import ENV_TOKEN, TokenStore, config_dir, resolve_token
from pycontainer.errors import KeyServerDeniedError, Refusal

if TYPE_CHECKING:
    from pycontainer.client.keyserver import KeyServerClient

# Modules that only some subcommands use (the HTTP client and requests, the container
# reader and writer, rich) are imported inside the functions that use them: every `rwc`
# run imports the parsers of all subcommands, and a clerk's `rwc cat` of a small file
# should not wait for the imports of `rwc seal` (issue 15, bench/README.md). Each
# subcommand names them (``imports`` in its parser's defaults), and cli.main imports them
# right after parsing, so the process's import phase ends before the work begins
# (pycontainer/cli/entry.py: the garbage collector is off until then).
# (No "encodings.idna": the client gives getaddrinfo and TLS its ASCII host name as bytes,
# pycontainer/client/connection.py.)
CLIENT_IMPORTS = ("pycontainer.client.keyserver",)
READER_IMPORTS = ("pycontainer.reader", *CLIENT_IMPORTS)
# cli.times: a seal's expiry as said, imported here, not by the parser's module, which
# every `rwc` run loads (issue 15).
WRITER_IMPORTS = (
    "pycontainer.writer",
    "pycontainer.cli.expires",
    "pycontainer.cli.times",
    *CLIENT_IMPORTS,
)

ENV_SERVER = "RWC_SERVER"
ENV_CA_BUNDLE = "RWC_CA_BUNDLE"
# The subcommand table (its parser class is cli._Parser, hence Any).
SubParsers: TypeAlias = "argparse._SubParsersAction[Any]"


def b64(data: bytes) -> str:
    """Container ids and the like as people and scripts see them (base64url, no padding)."""
    from pycontainer.client.wire import b64url_encode  # noqa: PLC0415 - see above

    return b64url_encode(data)


def add_tls_option(p: argparse.ArgumentParser) -> None:
    """Add --ca-bundle (TLS verification itself cannot be switched off)."""
    p.add_argument(
        "--ca-bundle",
        type=file_name,
        metavar="FILE",
        help=f"PEM file of CA certificates to trust for the key server (or {ENV_CA_BUNDLE})",
    )


def add_password_options(p: argparse.ArgumentParser) -> None:
    """Add --password-file and --no-password (readers)."""
    p.add_argument(
        "--password-file",
        type=file_name,
        metavar="FILE",
        help=f"read the password from FILE (or {ENV_PASSWORD})",
    )
    p.add_argument(
        "--no-password",
        action="store_true",
        help="the container was sealed with --no-password (uses the empty password)",
    )


def store_for(env: Mapping[str, str]) -> TokenStore:
    """The user's token store, honouring XDG_CONFIG_HOME from ``env``."""
    return TokenStore(config_dir(env))


def require_token(url: str, env: Mapping[str, str], *, named: bool) -> str:
    """Return the token to send to ``url`` (pycontainer.client.tokens, "Token scope").

    Args:
        url: The key server about to be contacted.
        env: Environment.
        named: The user named ``url`` (--server, RWC_SERVER); False for a URL taken from a
            container's header, to which RWC_TOKEN is never sent.

    Raises:
        TokenScopeError: RWC_TOKEN is set but no server was named (exit code 2).
        KeyServerDeniedError: No token at all (exit code 5, not authenticated).
    """
    token = resolve_token(url, named=named, env=env, store=store_for(env))
    if token is None:
        how = f"set {ENV_TOKEN}" if named else f"set {ENV_TOKEN} and {ENV_SERVER} (or --server)"
        raise KeyServerDeniedError(
            f"no token for the key server {url}",
            hint=f"run `rwc login {url}` or {how}",
            refusal=Refusal("no_token" if named else "no_token_for_slot", {"url": url}),
        )
    return token


def _ca_bundle(args: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    """The CA bundle the user named: --ca-bundle, else RWC_CA_BUNDLE, else None (certifi)."""
    return getattr(args, "ca_bundle", None) or env.get(ENV_CA_BUNDLE) or None


def start_tls(url: str | None, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """Start building the TLS context for ``url`` now; :func:`make_client` hands it over.

    Called before the subcommand's imports (cli.main: ``prepare``) by a subcommand that
    already knows its server, so that loading the trust store (~23 ms of CPU with
    certifi's, without the GIL) overlaps them (pycontainer.client.tls, issue 15). Best
    effort: no thread for http:// or where the client will refuse the URL or the bundle
    (it says why itself, in its usual order).
    """
    args.tls = None
    # No TLS to prepare for http:// (loopback; tls.start says so too, after importing it):
    # a loopback run does not load the module (the bench's start-up row, issue 15).
    if url and url[:6].lower() == "https:":
        from pycontainer.client import tls  # noqa: PLC0415 - https only

        args.tls = tls.start(url, _ca_bundle(args, env))


def make_client(
    url: str, token: str, args: argparse.Namespace, env: Mapping[str, str], *, lang: str
) -> KeyServerClient:
    """Build the HTTP client for ``url`` with --ca-bundle / RWC_CA_BUNDLE.

    ``lang`` (the run's, Ui.lang: ``en`` with --json) goes out as Accept-Language on every
    request, so a refusal's detail comes back in the reader's language (spec §problems).
    The TLS context :func:`start_tls` started is used if it was for the same trust store
    (pycontainer.client.connection checks), else built at the first request.
    """
    from pycontainer.client.keyserver import KeyServerClient  # noqa: PLC0415 - see above

    return KeyServerClient(
        url, token, ca_bundle=_ca_bundle(args, env), language=lang, tls=getattr(args, "tls", None)
    )


def read_password(
    args: argparse.Namespace, ui: Ui, env: Mapping[str, str], *, confirm: bool, what: str
) -> str:
    """Get the password from the options, RWC_PASSWORD or the terminal."""
    return get_password(
        no_password=args.no_password,
        password_file=args.password_file,
        confirm=confirm,
        what=what,
        warn=ui.warn,
        env=env,
        lang=ui.lang,
    )
