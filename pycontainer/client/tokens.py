"""Where `rwc` finds its bearer tokens: RWC_TOKEN, or the per-server token store.

The store is ``$XDG_CONFIG_HOME/rwc/tokens.json`` (default ``~/.config/rwc/tokens.json``):
``{"version": 1, "tokens": {"<normalised server URL>": "<token>"}}``. It holds secrets, so:
the directory is created 0700, the file 0600 (created with that mode, never chmod-ed after
the fact), replaced atomically (temporary file, fsync, rename) under an advisory lock, and a
store readable by group or others is refused rather than used.

Token scope (a security decision): the key-server URL in a container's header is chosen by
whoever wrote the container, who may be hostile (spec/format.md §security-considerations,
"Credentials and the header URL"). A token must therefore never be chosen, or sent,
because of that URL alone:

* a stored token is only ever sent to the server it was stored for (the store is keyed by
  the normalised URL, and the lookup is for exactly the URL about to be contacted);
* RWC_TOKEN is not tied to any server, so it is sent only to a server the user named
  (``--server``/RWC_SERVER, or seal's ``--server``). Without such a name, a reader uses the
  container's URL only if ``rwc login`` stored a token for it, and otherwise refuses
  (TokenScopeError) rather than hand RWC_TOKEN to a server a container picked.

Spec anchors: spec/protocol.md §auth (token syntax); spec/format.md §security-considerations.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator, Mapping

from pycontainer import _portable
from pycontainer.client.server_url import normalize_server_url
from pycontainer.errors import ContainerError

ENV_TOKEN = "RWC_TOKEN"  # noqa: S105 (the variable name, not a token)
ENV_CONFIG_HOME = "XDG_CONFIG_HOME"
STORE_VERSION = 1
STORE_FILE = "tokens.json"
LOCK_FILE = "tokens.lock"
STORE_MAX_BYTES = 1 << 20
# RFC 6750 b64token, ``[A-Za-z0-9._~+/-]+=*``: these characters, then any "=" (check_token);
# rwc tokens are "rwc_" + 43 base64url characters (spec §auth), but any b64token is passed
# through so that a server with another token format still works. Checked with str methods,
# not a regular expression: compiling one cost every reader's run ~0.3 M instructions
# (issue 15, bench/profiles/startup.md).
_B64TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/-"
TOKEN_MAX = 1024


class TokenConfigError(ContainerError):
    """The token or the token store is unusable."""


class TokenScopeError(TokenConfigError):
    """RWC_TOKEN is set, but the user named no server to send it to (a usage error)."""


def check_token(token: str) -> str:
    """Return the token without surrounding whitespace, or raise if it cannot be a token.

    Raises:
        TokenConfigError: Empty, too long, or characters a bearer token cannot contain. The message
            never repeats the token.
    """
    token = token.strip()
    core = token.rstrip("=")  # what is left must be b64token characters, one at least
    if not core or len(token) > TOKEN_MAX or core.strip(_B64TOKEN_CHARS):
        raise TokenConfigError(
            "that is not a valid token",
            hint='a token looks like "rwc_" followed by 43 letters, digits, "-" or "_"',
        )
    return token


def config_dir(env: Mapping[str, str] | None = None) -> str:
    """Return the rwc configuration directory ($XDG_CONFIG_HOME/rwc or ~/.config/rwc)."""
    env = os.environ if env is None else env
    base = env.get(ENV_CONFIG_HOME)
    # XDG: a relative value is invalid and must be ignored. On Windows \config is relative to
    # the current drive, which os.path.isabs accepts and pathlib did not: a drive too.
    if base and os.path.isabs(base) and (os.name != "nt" or os.path.splitdrive(base)[0]):
        return os.path.join(base, "rwc")
    # The home directory as Path.home() finds it (HOME, else the password database; on
    # Windows USERPROFILE). Where none is known expanduser leaves "~" as it is: that must
    # not become a directory named "~" under the current one, holding tokens.
    home = os.path.expanduser("~")
    if home.startswith("~"):
        raise TokenConfigError(
            "rwc cannot find your home directory for its token store",
            hint=f"set HOME, or {ENV_CONFIG_HOME} to an absolute path",
        )
    return os.path.join(home, ".config", "rwc")


class TokenStore:
    """The per-server token store (see the module docstring for the file rules)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        """Create a store handle; nothing is read or written yet.

        Args:
            directory: The rwc configuration directory (default: config_dir()).
        """
        self.directory = os.fspath(directory) if directory is not None else config_dir()
        self.path = os.path.join(self.directory, STORE_FILE)

    def get(self, url: str) -> str | None:
        """Return the token stored for ``url`` (normalised), or None."""
        return self._load().get(normalize_server_url(url))

    def servers(self) -> list[str]:
        """Return the server URLs that have a stored token."""
        return sorted(self._load())

    def put(self, url: str, token: str) -> None:
        """Store ``token`` for ``url``, replacing any previous one."""
        key = normalize_server_url(url)
        token = check_token(token)
        with self._locked():
            tokens = self._load()
            tokens[key] = token
            self._write(tokens)

    def remove(self, url: str) -> bool:
        """Forget the token for ``url``; return False if there was none."""
        key = normalize_server_url(url)
        if not os.path.exists(self.path):
            return False
        with self._locked():
            tokens = self._load()
            if key not in tokens:
                return False
            del tokens[key]
            self._write(tokens)
            return True

    # --- files ------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        st = os.lstat(self.directory)
        if not stat.S_ISDIR(st.st_mode):
            raise TokenConfigError(f"{self.directory} is not a directory")
        getuid = getattr(os, "getuid", None)  # POSIX only: Windows has no mode bits to fix
        if getuid is not None and st.st_mode & 0o077 and st.st_uid == getuid():
            # Our own rwc directory: tighten it rather than leave tokens next to open doors.
            os.chmod(self.directory, 0o700)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers (two `rwc login` at once must not lose a token)."""
        self._ensure_dir()
        fd = os.open(
            os.path.join(self.directory, LOCK_FILE),
            os.O_RDWR | os.O_CREAT | _portable.flag("O_NOFOLLOW") | _portable.flag("O_CLOEXEC"),
            0o600,
        )
        try:
            _portable.lock_exclusive(fd)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _load(self) -> dict[str, str]:
        try:
            # O_NOFOLLOW: a symlink planted in our place is refused, not followed.
            fd = os.open(
                self.path,
                os.O_RDONLY | _portable.flag("O_NOFOLLOW") | _portable.flag("O_CLOEXEC"),
            )
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenConfigError(
                f"cannot read the token store {self.path}: {exc.strerror}"
            ) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            # A directory opens for reading too: os.fdopen then failed as "3: Is a directory".
            os.close(fd)
            raise TokenConfigError(
                f"the token store {self.path} is not a file",
                hint="move it away and run `rwc login URL` again",
            )
        with os.fdopen(fd, "rb") as f:
            if st.st_mode & 0o077:
                raise TokenConfigError(
                    f"the token store {self.path} is readable by other users; refusing to use it",
                    hint=f"chmod 600 {self.path} (and consider replacing the tokens in it)",
                )
            raw = f.read(STORE_MAX_BYTES + 1)
        return _parse_store(raw, self.path)

    def _write(self, tokens: dict[str, str]) -> None:
        data = json.dumps(
            {"version": STORE_VERSION, "tokens": dict(sorted(tokens.items()))}, indent=2
        ).encode("utf-8")
        # rwc's one atomic publish (pycontainer/_engine/staging.py): created 0600 from the
        # start beside the store, fsynced, then renamed over it and the directory fsynced; a
        # run killed half-way leaves the old store, and its temporary file is removed by the
        # next (remove_stale).
        from pathlib import Path  # noqa: PLC0415 - only to save tokens (issue 15)

        from pycontainer._engine import staging  # noqa: PLC0415 - the same

        staging.remove_stale(Path(self.directory))
        staged = staging.StagedFile(Path(self.path), 0o600)
        try:
            _portable.pwrite_all(staged.fd, memoryview(data + b"\n"), 0)
        except BaseException:
            staged.discard()
            raise
        staged.publish(force=True)


def _parse_store(raw: bytes, path: str) -> dict[str, str]:
    bad = TokenConfigError(
        f"the token store {path} is damaged",
        hint="remove it and run `rwc login URL` again",
    )
    if len(raw) > STORE_MAX_BYTES:
        raise bad
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(doc, dict) or doc.get("version") != STORE_VERSION:
        raise bad
    tokens = doc.get("tokens")
    if not isinstance(tokens, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()
    ):
        raise bad
    return dict(tokens)


def resolve_token(
    url: str,
    *,
    named: bool,
    env: Mapping[str, str] | None = None,
    store: TokenStore | None = None,
) -> str | None:
    """Find the token to send to the key server at ``url`` (see "Token scope" above).

    Args:
        url: The server about to be contacted.
        named: True if the user named ``url`` (--server, RWC_SERVER); False if it comes
            from a container's header.
        env: Environment (default os.environ).
        store: Token store (default: the user's).

    Returns:
        RWC_TOKEN if ``named``, else (or without RWC_TOKEN) the token stored for exactly
        ``url``, or None if there is none.

    Raises:
        TokenScopeError: RWC_TOKEN is set, ``url`` was not named, and no token is stored
            for it.
        TokenConfigError: RWC_TOKEN is malformed, or the store is unusable.
    """
    env = os.environ if env is None else env
    from_env = env.get(ENV_TOKEN)
    # Security decision: RWC_TOKEN goes only to a server the user named. A URL taken from a
    # container header may be an attacker's server collecting tokens (token harvesting).
    if from_env and named:
        return check_token(from_env)
    store = store or TokenStore(config_dir(env))
    # Only the token stored for this very URL: a token never goes to another server.
    stored = store.get(url)
    if stored:
        return check_token(stored)
    if from_env:
        raise TokenScopeError(
            f"{ENV_TOKEN} is set but no key server was named",
            hint="set RWC_SERVER (or --server) to the key server this token belongs to",
        )
    return None
