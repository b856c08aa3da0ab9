"""What `rwc` says to a reader in its own words (prompts, warnings, hints): Japanese, English.

Readers are city clerks; the texts that decide what they type next (a password prompt,
"only 2 attempts left") must be in their language. The language: ``RWC_LANG``, else
``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` (``ja*`` means Japanese), else English; the same
rule as the ``keyserver`` command's ``KEYSERVER_LANG``.

A table, not the key server's gettext catalogue: `rwc` must not import ``keyserver`` (the
import contract), and a dozen texts do not earn a second catalogue and Babel on every
reader's start-up. ``tests/cli/test_texts.py`` checks that every text exists in both
languages with the same placeholders. Errors raised by the library stay English (they are
also what ``--json`` and logs carry); the texts here are the ones a person acts on.
"""

from __future__ import annotations

from collections.abc import Mapping

from pycontainer.cli.strictargs import ENGLISH, UsageText
from pycontainer.cli.strictargs import language as parse_language

LANGUAGES = ("en", "ja")
# After the command's own variable (RWC_LANG, KEYSERVER_LANG), POSIX's order of precedence.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

TEXTS: Mapping[str, Mapping[str, str]] = {
    "password_prompt": {
        "en": "Password for {what}: ",
        "ja": "{what} のパスワード: ",
    },
    "password_repeat": {
        "en": "Repeat the password for {what}: ",
        "ja": "{what} のパスワード(確認のためもう一度): ",
    },
    "token_prompt": {
        "en": "Token for {url}: ",
        "ja": "{url} のトークン: ",
    },
    "few_attempts": {
        "en": "only {left} attempt(s) left before the key server locks this container",
        "ja": "あと {left} 回失敗すると、鍵サーバーがこのコンテナを停止します",
    },
    "few_attempts_hint": {
        "en": "type the password carefully; a wrong one is counted until an official restores it",
        "ja": "パスワードは慎重に入力してください。"
        "誤ったパスワードは、担当者が復元するまで数えられます",
    },
    "attempts_left": {
        "en": "{left} attempt(s) left before the key server locks the container",
        "ja": "あと {left} 回失敗すると、鍵サーバーがコンテナを停止します",
    },
    "sealed_without_password": {
        "en": "the container was sealed without a password; not asking for one",
        "ja": "このコンテナはパスワードなしで作成されています。パスワードは尋ねません",
    },
    "pass_no_password": {
        "en": "the container was sealed without a password: pass --no-password",
        "ja": "このコンテナはパスワードなしで作成されています: --no-password を付けてください",
    },
    "maybe_no_password": {
        "en": "if the container was sealed with --no-password, pass --no-password",
        "ja": "コンテナが --no-password で作成されている場合は、--no-password を付けてください",
    },
    "receipt_failed": {
        "en": "could not confirm the opening to the key server: {error}",
        "ja": "開封の確認を鍵サーバーに送れませんでした: {error}",
    },
    # spec/protocol.md §media (the rule is the key server's; this says it to the writer).
    "value_refused": {
        "en": "{flag} refused: {error}",
        "ja": "{flag} の値は使えません ({error})",
    },
    "value_rule": {
        "en": "change {flag} to follow the key server's rule above",
        "ja": "{flag} の値を、上に示した鍵サーバーの規則に合わせて直してください",
    },
    "medium_rule": {
        "en": "a medium name may hold only ASCII letters A-Z a-z, digits 0-9, spaces and "
        "- _ . : # +, starting and ending with a letter or digit: write the label in these "
        'letters, e.g. --medium "USB-2026-0417 keiri" for USB-2026-0417 経理課',
        "ja": "媒体名に使えるのは半角の英字 A-Z a-z、数字 0-9、空白と - _ . : # + だけで、"
        "先頭と末尾は英字か数字です。ラベルの名前をこれらの文字で書いてください"
        '(例: USB-2026-0417 経理課 なら --medium "USB-2026-0417 keiri")',
    },
    "token_env_wins": {
        "en": "{variable} is set and takes precedence over the stored token whenever this "
        "server is named with --server or {server_variable}",
        "ja": "{variable} が設定されているため、--server または {server_variable} でこの"
        "サーバーを指定したときは、保存したトークンより {variable} が優先されます",
    },
}


# Usage errors of the strict parser (pycontainer/cli/strictargs.py), by its keys; the
# English is the parser's own (argparse's words). "other" (a message argparse has no
# pattern for here) is said as argparse wrote it.
_USAGE_JA: Mapping[str, str] = {
    "required": "次の引数が必要です: {names}",
    "one_required": "引数 {names} のいずれかが必要です",
    "invalid_choice": "引数 {argument}: {value} は選べません({choices} から選んでください)",
    "expected_one": "引数 {argument}: 値を 1 つ指定してください",
    "invalid_value": "引数 {argument}: {value} は {type} の値として正しくありません",
    "not_allowed": "引数 {argument}: 引数 {other} と同時には指定できません",
    "bad_argument": "引数 {argument}: {detail}",
    "unknown_option": "不明なオプション {name}",
    "unexpected": "余分な引数があります: {arguments}",
    "see_help": "`{prog} --help` を参照してください",
    "did_you_mean": "{option} のことですか? `{prog} --help` を参照してください",
}
USAGE_TEXTS: Mapping[str, Mapping[str, str]] = {
    f"usage_{key}": {"en": ENGLISH[key], "ja": ja} for key, ja in _USAGE_JA.items()
}


def usage_text(text: UsageText) -> str:
    """A usage error of the parse in progress, in its language (strictargs.language)."""
    key = f"usage_{text.key}"
    if key not in USAGE_TEXTS:
        return str(text)
    return USAGE_TEXTS[key][parse_language()].format(**text.values)


def language(env: Mapping[str, str], variable: str = "RWC_LANG") -> str:
    """The reader's language, ``ja`` or ``en``: ``variable``, else the locale's variables.

    ONE rule for both commands: the ``keyserver`` command calls it with ``KEYSERVER_LANG``.
    The first variable that is set decides: ``ja`` when it starts with ``ja`` (``ja``,
    ``ja_JP.UTF-8``), else ``en``; English when none is set.
    """
    for var in (variable, *LOCALE_VARIABLES):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def say(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with its ``{placeholders}`` filled in."""
    return TEXTS[key][lang].format(**values)
