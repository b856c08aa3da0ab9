"""`make demo`: the Amagasaki story, played with the installed `keyserver` and `rwc` commands.

A key server starts on a free loopback port with its embedded SQLite database in a temporary
directory. A contractor seals a synthetic resident register onto a "USB stick", a city clerk
opens it, the stick is lost and a finder with a stolen reader token tries a password. The
official mistypes the medium (the typo is caught, nothing changes), reports the loss with the
time it was lost, and the medium's report answers "was it opened after the loss?" three ways
(opened / possibly opened / not opened), with times in Asia/Tokyo. The keys are destroyed when
a second official approves the first one's request, and the audit chain is verified.

Everything runs as separate processes talking over real sockets, exactly as people would use
the commands. The script exits non-zero as soon as a step does not behave as expected, and
always stops the server.

Usage::

    .venv/bin/python demo/demo.py [--rows N] [--keep] [--kdf-memory KIB] [--kdf-time N]
        [--kdf-parallelism N]

The ``--kdf-*`` options go to ``rwc seal`` as given (default: rwc's own Argon2id
parameters, what a contractor gets); the test suite plays the story with small ones.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from register import DEFAULT_ROWS, generate_register

BIN = Path(sys.executable).parent
KEYSERVER = BIN / "keyserver"
RWC = BIN / "rwc"
MEDIUM = "USB-2022-06-AMA"
LABEL = "Amagasaki resident register, benefit payments export (synthetic)"
WRITER = "contractor@vendor.example"
READER = "clerk@city.example"
OFFICIAL = "security@city.example"
HEAD_OFFICIAL = "head@city.example"  # the second official of the two-person rule
CONTACT = "the city's information-security desk, security@city.example"
TOKEN_RE = re.compile(r"\brwc_[A-Za-z0-9_-]{43}\b")
HEALTH_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
# A demo password for a synthetic register; real ones come from a password manager.
PASSWORD = "Amagasaki-2022-benefits"  # noqa: S105
GUESS = "amagasaki2022"  # the finder's wrong guess
EXIT_REVOKED = 3  # rwc: the container was revoked (its key was destroyed)
EXIT_SUSPENDED = 4  # rwc: the container is suspended
EXIT_WRONG_PASSWORD = 6  # rwc: no slot unwrapped
EXIT_NOT_FOUND = 5  # keyserver: a name that matches nothing
TYPO = "USB-2022-06-AMX"  # what the official types under stress
ZONE = "Asia/Tokyo"  # times shown to the officials (JSON keeps UTC)


class DemoError(Exception):
    """A step did not behave as the story says it should."""


def say(text: str) -> None:
    """Tell the audience what happens, in plain words."""
    sys.stdout.write(f"\n== {text}\n")
    sys.stdout.flush()


def show(text: str, prefix: str = "   | ") -> None:
    """Show a command's output, indented."""
    for line in text.rstrip("\n").splitlines():
        sys.stdout.write(f"{prefix}{line}\n")
    sys.stdout.flush()


def base_env(**extra: str) -> dict[str, str]:
    """The environment without the user's own RWC_*/KEYSERVER_* settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RWC_", "KEYSERVER_"))}
    env.update(extra)
    return env


def run(
    argv: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str],
    *,
    expect: int = 0,
    echo: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run one command; show it (never its environment, which holds tokens); check its exit.

    Raises:
        DemoError: The command exited with another code than ``expect``.
    """
    args = [os.fspath(a) for a in argv]
    if echo:
        show(shlex.join([Path(args[0]).name, *args[1:]]), prefix="   $ ")
    # The argv is built by this script from fixed strings and paths it created.
    proc = subprocess.run(  # noqa: S603
        args,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if proc.returncode != expect:
        show(proc.stdout)
        show(proc.stderr)
        raise DemoError(f"{Path(args[0]).name} {args[1]} exited {proc.returncode}, not {expect}")
    return proc


def one_token(stdout: str) -> str:
    """The single bearer token a command printed."""
    tokens = TOKEN_RE.findall(stdout)
    if len(tokens) != 1:
        raise DemoError("expected the command to print exactly one token")
    return str(tokens[0])


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_secret(path: Path, text: str) -> None:
    """Create a file readable by its owner only (it holds a password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


class Server:
    """A `keyserver serve` process on a free loopback port."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        """Remember where the data and the log go; nothing starts yet."""
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL (plain http is accepted for loopback only)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and wait for /healthz.

        Raises:
            DemoError: The server exited or did not answer in time.
        """
        self.port = free_port()
        argv: list[str] = [os.fspath(KEYSERVER), "serve", "--data-dir", os.fspath(self.data_dir)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--contact", CONTACT]
        show(shlex.join(["keyserver", *argv[1:]]), prefix="   $ ")
        with self.log_path.open("wb") as log:
            # Fixed argv built by this script.
            self.proc = subprocess.Popen(  # noqa: S603
                argv,
                env=base_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        show(self.log_path.read_text(errors="replace"))
        raise DemoError("the key server did not come up")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def keyserver(server: Server, token: str, *args: str, expect: int = 0) -> str:
    """Run a `keyserver` management command against the running server (remote mode)."""
    proc = run(
        [KEYSERVER, *args, "--server", server.url],
        base_env(KEYSERVER_TOKEN=token, KEYSERVER_DISPLAY_TIMEZONE=ZONE),
        expect=expect,
    )
    return proc.stdout + (proc.stderr if expect else "")


def keyserver_json(server: Server, token: str, *args: str) -> Any:
    """Run a `keyserver` command with --json and decode its output."""
    proc = run(
        [KEYSERVER, *args, "--json", "--server", server.url],
        base_env(KEYSERVER_TOKEN=token),
        echo=False,
    )
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise DemoError(f"keyserver {args[0]} --json did not print JSON") from exc


def story(work: Path, rows: int, kdf: Sequence[str] = ()) -> None:
    """Play the story; raise DemoError at the first step that misbehaves.

    ``kdf``: ``rwc seal`` options for the password's Argon2id parameters (none: rwc's own).
    """
    data_dir = work / "keyserver"
    say("The city sets up its key server (SQLite in a temporary directory).")
    init = run([KEYSERVER, "init", "--data-dir", data_dir], base_env())
    admin = one_token(init.stdout)
    show("(the admin token is printed once; the demo keeps it in memory)")
    server = Server(data_dir, work / "keyserver.log")
    try:
        server.start()
        show(f"listening on {server.url}")
        play(server, admin, work, rows, kdf)
    finally:
        say("The demo stops the key server.")
        server.stop()


def play(server: Server, admin: str, work: Path, rows: int, kdf: Sequence[str]) -> None:
    """The story proper, with a running server."""
    say(
        "The administrator registers a contractor (writer), a clerk (reader), an official "
        "and the head of the section (a second official)."
    )
    writer = one_token(keyserver(server, admin, "principal", "add", WRITER, "--role", "writer"))
    reader = one_token(keyserver(server, admin, "principal", "add", READER, "--role", "reader"))
    official = one_token(
        keyserver(server, admin, "principal", "add", OFFICIAL, "--role", "official")
    )
    head = one_token(
        keyserver(server, admin, "principal", "add", HEAD_OFFICIAL, "--role", "official")
    )

    export = work / "export"
    export.mkdir()
    register = export / "register.csv"
    register.write_bytes(generate_register(rows))
    original = register.read_bytes()
    say(f"The contractor has an export of {rows} residents (synthetic, seeded): register.csv")
    show(original.decode("utf-8").splitlines()[1])

    usb = work / "usb"
    usb.mkdir()
    container = usb / "export.rwc"
    password_file = work / "password.txt"
    write_secret(password_file, PASSWORD)
    say(f"The contractor seals it onto the USB stick {MEDIUM}, for the clerk only.")
    # --people: the contractor knows how many residents the export covers; the medium
    # report prints it as the writer's declaration (the press's first question).
    sealed = run(
        [
            *(RWC, "seal", register, "-o", container, "--server", server.url),
            *("--label", LABEL, "--medium", MEDIUM, "--reader", READER),
            *("--people", str(rows), "--password-file", password_file),
            *kdf,
        ],
        base_env(RWC_TOKEN=writer),
    )
    show(sealed.stdout)
    show(f"{container.name}: {container.stat().st_size} bytes on the stick")
    info = run([RWC, "info", container], base_env())
    show(info.stdout)

    say("The clerk opens the stick at the city office (online, with the password).")
    # RWC_TOKEN goes only to the key server named in RWC_SERVER (or --server).
    clerk_env = base_env(RWC_TOKEN=reader, RWC_SERVER=server.url, RWC_PASSWORD=PASSWORD)
    listing = run([RWC, "ls", container, "--long"], clerk_env)
    show(listing.stdout)
    desk = work / "clerk"
    run([RWC, "open", container, "-C", desk], clerk_env)
    opened = [p for p in desk.rglob("register.csv") if p.is_file()]
    if len(opened) != 1 or opened[0].read_bytes() != original:
        raise DemoError("the opened register.csv differs from the original")
    show(f"{opened[0].relative_to(desk)}: {len(original)} bytes, identical to the original")

    lost_at = datetime.now(UTC)
    time.sleep(0.01)  # the loss comes strictly after the clerk's confirmed open
    say("On the way home the stick is lost. A finder with a stolen reader token guesses:")
    thief_env = base_env(RWC_TOKEN=reader, RWC_SERVER=server.url, RWC_PASSWORD=GUESS)
    guess = run(
        [RWC, "open", container, "-C", work / "thief"], thief_env, expect=EXIT_WRONG_PASSWORD
    )
    show(guess.stderr)
    show(
        "the key server released an evaluation for that guess: it cannot tell a wrong "
        "password from a right one unless the reader confirms with a receipt",
        prefix="   => ",
    )

    say(f"The official, under stress, types the medium wrong ({TYPO}):")
    typo = keyserver(
        server,
        official,
        *("report-loss", "--medium", TYPO, "--reason", "USB stick lost"),
        expect=EXIT_NOT_FOUND,
    )
    show(typo)
    if "did you mean " + MEDIUM not in typo:
        raise DemoError("the typo was not answered with the right medium")
    state = keyserver_json(server, official, "media", "show", MEDIUM)
    if state.get("states") != {"active": 1}:
        raise DemoError("the typo changed something")
    show("nothing was changed; the medium as registered:", prefix="   => ")
    show(keyserver(server, official, "media", "list"))

    say("The official reports the loss, with the time the stick was lost:")
    show(
        keyserver(
            server,
            official,
            *("report-loss", "--medium", MEDIUM.lower(), "--lost-at", lost_at.isoformat()),
            *("--reason", "USB stick lost on the way home after an evening out"),
            *("--public-reason", "the medium holding this container was reported lost"),
        )
    )

    say("The finder tries again, even with the right password, and is refused:")
    refused = run(
        [RWC, "open", container, "-C", work / "finder"],
        base_env(RWC_TOKEN=reader, RWC_SERVER=server.url, RWC_PASSWORD=PASSWORD),
        expect=EXIT_SUSPENDED,
    )
    show(refused.stderr)

    say("The official asks: was it opened after the loss? The medium's report:")
    show(keyserver(server, official, "report", "--medium", MEDIUM))
    report = keyserver_json(server, official, "report", "--medium", MEDIUM)
    check_report(report)
    if report.get("people_up_to") != rows:
        raise DemoError("the report does not say how many residents the stick held")

    say("The stick is not found: the official asks to destroy the keys now.")
    asked = keyserver_json(
        server,
        official,
        *("report-loss", "--medium", MEDIUM, "--now", "--yes"),
        *("--reason", "not found after three days"),
        *("--public-reason", "the medium holding this container was reported lost"),
    )
    if not isinstance(asked, dict) or not asked.get("approval_required"):
        raise DemoError("destroying a whole medium did not wait for a second official")
    number = str(asked["approval"]["id"])
    show(f"request {number} created, awaiting a second official (nothing destroyed yet)")
    say("The official cannot approve their own request:")
    show(keyserver(server, official, "approvals", "approve", number, "--yes", expect=4))
    say("The head of the section sees what it affects, and approves: the keys are destroyed.")
    show(keyserver(server, head, "approvals", "show", number))
    show(keyserver(server, head, "approvals", "approve", number, "--yes"))
    finder = work / "finder"
    refused = run([RWC, "open", container, "-C", finder], clerk_env, expect=EXIT_REVOKED)
    show(refused.stderr)
    if finder.exists() and any(finder.iterdir()):
        raise DemoError("a refused open wrote files")

    say("The audit chain is verified (every release and refusal, tamper-evident).")
    show(keyserver(server, official, "audit", "verify"))
    verdict = keyserver_json(server, official, "audit", "verify")
    if not isinstance(verdict, dict) or verdict.get("ok") is not True:
        raise DemoError("the audit chain does not verify")


def check_report(report: Any) -> None:
    """The report must say "possibly opened": a release without a receipt after the loss.

    The clerk's confirmed open is before the time of loss; the finder's guess released an
    evaluation (no receipt: the password may have been right) and the retry was refused.

    Raises:
        DemoError: The report says something else.
    """
    containers = report.get("containers") if isinstance(report, dict) else None
    if not isinstance(containers, list) or len(containers) != 1:
        raise DemoError("the medium report does not list the one container on the stick")
    entry = containers[0]
    lost_at = report.get("lost_at")
    last = entry.get("last_confirmed_open_before_loss")
    if not isinstance(lost_at, str) or report.get("window_start") != lost_at:
        raise DemoError("the report's window does not start at the time of loss")
    if not isinstance(last, dict) or last.get("actor") != READER or last["at"] > lost_at:
        raise DemoError("the report does not show the clerk's confirmed open before the loss")
    if report.get("answer") != "possibly opened" or entry.get("releases_after_loss") != 1:
        raise DemoError("the report does not say 'possibly opened' for the unconfirmed release")
    refused = [a for a in entry.get("attempts", []) if a.get("outcome") != "ok"]
    if not refused:
        raise DemoError("the report does not show the refused attempt after the report")
    show(
        f"answer: possibly opened (1 key release after the loss without a receipt, "
        f"{len(refused)} refused); last confirmed open before the loss by {last['actor']}",
        prefix="   => ",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 if every step behaved as expected."""
    parser = argparse.ArgumentParser(description="Play the rwc story end to end.")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="residents to generate")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    for name, what in (("memory", "KiB of memory"), ("time", "passes"), ("parallelism", "lanes")):
        parser.add_argument(
            f"--kdf-{name}",
            type=int,
            default=None,
            help=f"Argon2id {what} for rwc seal (default: rwc's own)",
        )
    args = parser.parse_args(argv)
    kdf = [
        f"--kdf-{name}={value}"
        for name, value in (
            ("memory", args.kdf_memory),
            ("time", args.kdf_time),
            ("parallelism", args.kdf_parallelism),
        )
        if value is not None
    ]
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    for tool in (KEYSERVER, RWC):
        if not tool.exists():
            sys.stderr.write(f"demo: {tool} not found; run `make demo` (it creates .venv)\n")
            return 1
    work = Path(tempfile.mkdtemp(prefix="rwc-demo-"))
    try:
        story(work, args.rows, kdf)
    except (DemoError, OSError, subprocess.SubprocessError) as exc:
        sys.stderr.write(f"\ndemo FAILED: {exc}\n")
        return 1
    finally:
        if args.keep:
            sys.stdout.write(f"\n(files kept in {work})\n")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(
        "Done: the lost stick is worthless now; the city can say exactly what happened after "
        "the loss (one unconfirmed release: 'possibly opened'), and that nothing can happen since."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
