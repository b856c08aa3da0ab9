import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pycontainer.cli.exits import UsageError
from pycontainer.cli.password import get_password
from pycontainer.errors import ContainerError


def ask(answers: list[str]) -> Callable[[str], str]:
    it = iter(answers)
    return lambda _prompt: next(it)


def gp(**kw: object) -> str:
    base: dict[str, object] = {
        "no_password": False,
        "password_file": None,
        "confirm": False,
        "what": "x.rwc",
        "warn": lambda _m: None,
        "env": {},
    }
    base.update(kw)
    return get_password(**base)  # type: ignore[arg-type]


def test_no_password_is_empty() -> None:
    assert gp(no_password=True, env={"RWC_PASSWORD": "ignored"}) == ""


def test_no_password_conflicts_with_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        gp(no_password=True, password_file=str(tmp_path / "f"))


def test_file_strips_one_newline(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_bytes("korrekt häst \n\n".encode())
    f.chmod(0o600)
    assert gp(password_file=str(f)) == "korrekt häst \n"


def test_world_readable_file_warns(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("pw\n")
    os.chmod(f, 0o644)
    warnings: list[str] = []
    assert gp(password_file=str(f), warn=warnings.append) == "pw"
    assert warnings and "readable" in warnings[0]


def test_env_and_empty_refused() -> None:
    assert gp(env={"RWC_PASSWORD": "s3cret"}) == "s3cret"
    with pytest.raises(UsageError, match="empty"):
        gp(env={"RWC_PASSWORD": ""})


def test_prompt_twice_must_match() -> None:
    assert gp(confirm=True, prompt=ask(["a", "a"])) == "a"
    with pytest.raises(UsageError, match="differ"):
        gp(confirm=True, prompt=ask(["a", "b"]))
    with pytest.raises(UsageError, match="empty"):
        gp(confirm=True, prompt=ask(["", ""]))


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="cannot read the password file"):
        gp(password_file=str(tmp_path / "nope"))


@pytest.mark.parametrize("answers", [[], ["pw"]])
def test_ctrl_d_at_the_prompt_is_a_usage_error(answers: list[str]) -> None:
    def prompt(_text: str) -> str:
        if not answers:
            raise EOFError  # what getpass raises on Ctrl-D
        return answers.pop()

    with pytest.raises(UsageError, match="no password entered"):
        gp(prompt=prompt, confirm=True)
