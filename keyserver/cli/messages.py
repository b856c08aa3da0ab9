"""Texts of the ``keyserver`` command for officials, in English and Japanese, in ONE place.

Officials read these after a loss, under stress, and often in Japanese; the console's
message catalogue (Babel) can take them over as they are: each entry is one message id
with its two translations and named ``{placeholders}``. The language comes from
``KEYSERVER_LANG``, else ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` (``ja*`` means Japanese),
else English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES = ("en", "ja")

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "did_you_mean": {
        "en": "did you mean {names}?",
        "ja": "もしかして {names} ですか?",
    },
    "nothing_matched": {
        "en": "nothing was changed",
        "ja": "何も変更していません",
    },
    "affects": {
        "en": "This affects {count} container(s) on {what}:",
        "ja": "{what} の {count} 件のコンテナが対象です:",
    },
    "and_more": {
        "en": "  ... and {count} more",
        "ja": "  ... ほか {count} 件",
    },
    "confirm_destroy": {
        "en": "Destroy their keys now? They can never be opened again.",
        "ja": "鍵を今すぐ破棄しますか? 二度と開けなくなります。",
    },
    "confirm_short_wait": {
        "en": "The keys will be destroyed at {when}, in less than {minimum}. Continue?",
        "ja": "鍵は {when} に破棄されます({minimum} 未満です)。続けますか?",
    },
    "type_yes": {
        "en": "Type 'yes' to confirm: ",
        "ja": "確認のため yes と入力してください: ",
    },
    "answer_opened": {
        "en": "opened: a key was released and the reader confirmed the opening",
        "ja": "開封済み: 鍵が渡され、開封の確認(受領証)がありました",
    },
    "answer_possibly_opened": {
        "en": "possibly opened: a key was released without confirmation "
        "(the password may have been right)",
        "ja": "開封の可能性あり: 鍵が渡されましたが確認がありません"
        "(パスワードが正しかった可能性があります)",
    },
    "answer_not_opened": {
        "en": "not opened: no key was released",
        "ja": "未開封: 鍵は一度も渡されていません",
    },
    "answer_no_loss": {
        "en": "no loss reported for this medium",
        "ja": "この媒体の紛失は報告されていません",
    },
    "report_headline": {
        "en": "Medium {medium}: {answer} (since {since})",
        "ja": "媒体 {medium}: {answer}({since} 以降)",
    },
    "left_suspended": {
        "en": "left suspended: {count} container(s), cause {cause}",
        "ja": "停止のまま: {count} 件(原因 {cause})",
    },
    "changed": {
        "en": "{action}: {count} container(s) changed",
        "ja": "{action}: {count} 件のコンテナを変更しました",
    },
    # spec §approvals: two officials for the irreversible.
    "approval_requested": {
        "en": "request {id} created, awaiting a second {role} (expires {expires}); "
        "nothing was changed yet",
        "ja": "申請 {id} を作成しました。別の{role}の承認を待っています(期限 {expires})。"
        "まだ何も変更していません",
    },
    "approval_principal": {
        "en": "for principal {name} (roles: {roles})",
        "ja": "対象の利用者 {name}(役割: {roles})",
    },
    "approval_how": {
        "en": "another {role} approves with: keyserver approvals approve {id}",
        "ja": "別の{role}が承認するには: keyserver approvals approve {id}",
    },
    "confirm_approve": {
        "en": "Approve request {id} of {requester} ({action})? It is carried out now.",
        "ja": "{requester} の申請 {id}({action})を承認しますか? 今すぐ実行されます。",
    },
    "approval_approved": {
        "en": "request {id} approved and carried out",
        "ja": "申請 {id} を承認し、実行しました",
    },
    "approval_rejected": {
        "en": "request {id} rejected",
        "ja": "申請 {id} を却下しました",
    },
    "role_official": {"en": "official", "ja": "担当職員"},
    "role_admin": {"en": "admin", "ja": "管理者"},
}


def language(env: Mapping[str, str]) -> str:
    """The language of the messages: ``ja`` or ``en`` (see the module docstring)."""
    for var in ("KEYSERVER_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def say(key: str, lang: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` (English if there is no translation)."""
    entry = MESSAGES[key]
    return entry.get(lang, entry["en"]).format(**values)


def suggestion_hint(names: list[str], lang: str = "en") -> str:
    """The hint of a ``not-found`` refusal with suggestions (spec §media)."""
    shown = ", ".join(names[:3])
    return f"{say('did_you_mean', lang, names=shown)} ({say('nothing_matched', lang)})"
