"""What `rwc` says to a reader in its own words (prompts, warnings, hints): Japanese, English.

Readers are city clerks; the texts that decide what they type next (a password prompt,
"only 2 attempts left") must be in their language. The language: ``RWC_LANG``, else
``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` (``ja*`` means Japanese), else English; the same
rule as the ``keyserver`` command's ``KEYSERVER_LANG``.

A table, not the key server's gettext catalogue: `rwc` must not import ``keyserver`` (the
import contract), and a dozen texts do not earn a second catalogue and Babel on every
reader's start-up. ``tests/cli/test_texts.py`` checks that every text exists in both
languages with the same placeholders. Errors raised by the library keep their English
message (it is also what ``--json`` and logs carry); a Japanese reader is told what happened
and what to do next from pycontainer/cli/failtexts.py (the command's own errors, and a lead
and next step for each class of the library's). The texts here are the ones a person acts
on. That includes what a key server's refusal means and what to do next (``refusal_<kind>``, one
lead and one hint for each kind of pycontainer.errors.Refusal; pycontainer/cli/refusals.py
puts them together with the facts, and the server's detail asked for in the same language
with ``Accept-Language``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pycontainer.cli.failtexts import OWN_TEXTS
from pycontainer.cli.infotexts import INFO_TEXTS
from pycontainer.cli.nettexts import NET_TEXTS
from pycontainer.cli.strictargs import ENGLISH, UsageText
from pycontainer.cli.strictargs import language as parse_language

LANGUAGES = ("en", "ja")
# After the command's own variable (RWC_LANG, KEYSERVER_LANG), POSIX's order of precedence.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_PROMPTS_AND_REFUSALS: Mapping[str, Mapping[str, str]] = {
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
    # What running out of attempts does depends on which allowance runs out (the server's
    # `attempts_limit`, spec/protocol.md §receipt): "_container" suspends the container,
    # "_principal" and "_medium" refuse further tries for a while; without a suffix, a
    # server that did not say (it says both). pycontainer/cli/read.py chooses.
    "few_attempts_container": {
        "en": "only {left} attempt left before the key server locks this container",
        "ja": "あと {left} 回失敗すると、鍵サーバーがこのコンテナを停止します",
    },
    "few_attempts_principal": {
        "en": "only {left} attempt left before the key server refuses your tries for a "
        "while (the container is not locked)",
        "ja": "あと {left} 回失敗すると、鍵サーバーはしばらくの間あなたの試行を受け付けなく"
        "なります(コンテナは停止されません)",
    },
    "few_attempts_medium": {
        "en": "only {left} attempt left on this medium before the key server refuses tries "
        "on it for a while (the container is not locked)",
        "ja": "この媒体への試行があと {left} 回失敗すると、鍵サーバーはしばらくの間この媒体への"
        "試行を受け付けなくなります(コンテナは停止されません)",
    },
    "few_attempts": {
        "en": "only {left} attempt left before the key server locks this container or "
        "refuses further tries for a while",
        "ja": "あと {left} 回失敗すると、鍵サーバーがこのコンテナを停止するか、"
        "しばらくの間試行を受け付けなくなります",
    },
    "few_attempts_hint": {
        "en": "type the password carefully; a wrong one is counted until an official restores it",
        "ja": "パスワードは慎重に入力してください。"
        "誤ったパスワードは、担当者が復旧するまで数えられます",
    },
    # The English is the library's (pycontainer/format/keyschedule.py, --json): a test
    # compares them.
    "wrong_password": {
        "en": "the password is wrong (the key server answered correctly, but the container "
        "key could not be unlocked)",
        "ja": "パスワードが違います(鍵サーバーは正しく応答しましたが、"
        "コンテナの鍵を開けられませんでした)",
    },
    "wrong_password_hint": {
        "en": "check the password with the person who sealed the container; every attempt "
        "is recorded by the key server",
        "ja": "コンテナを作成した人にパスワードを確認してください。"
        "試行はすべて鍵サーバーに記録されます",
    },
    # Between the sentences of one hint.
    "hint_separator": {"en": "; ", "ja": "。"},
    # After a wrong password, by the allowance as above ("attempts_none*" when none is left).
    "attempts_left_container": {
        "en": "{left} attempt left before the key server locks the container",
        "ja": "あと {left} 回失敗すると、鍵サーバーがコンテナを停止します",
    },
    "attempts_left_principal": {
        "en": "{left} attempt left before the key server refuses your tries for a while "
        "(the container is not locked)",
        "ja": "あと {left} 回失敗すると、鍵サーバーはしばらくの間あなたの試行を受け付けなく"
        "なります(コンテナは停止されません)",
    },
    "attempts_left_medium": {
        "en": "{left} attempt left on this medium before the key server refuses tries on it "
        "for a while (the container is not locked)",
        "ja": "この媒体への試行があと {left} 回失敗すると、鍵サーバーはしばらくの間この媒体への"
        "試行を受け付けなくなります(コンテナは停止されません)",
    },
    "attempts_left": {
        "en": "{left} attempt left before the key server locks the container or refuses "
        "further tries for a while",
        "ja": "あと {left} 回失敗すると、鍵サーバーがコンテナを停止するか、"
        "しばらくの間試行を受け付けなくなります",
    },
    "attempts_none_container": {
        "en": "no attempts left: the key server has locked the container; it cannot be opened "
        "until an official restores it",
        "ja": "試行回数が残っていません。鍵サーバーはコンテナを停止しました。"
        "担当者が復旧するまで開けません",
    },
    "attempts_none_principal": {
        "en": "no attempts left for you for now: the key server refuses your next try for a "
        "while (the container is not locked)",
        "ja": "現在、あなたの試行回数は残っていません。鍵サーバーはしばらくの間、"
        "次の試行を受け付けません(コンテナは停止されていません)",
    },
    "attempts_none_medium": {
        "en": "no attempts left on this medium for now: the key server refuses the next try on "
        "it for a while (the container is not locked)",
        "ja": "現在、この媒体への試行回数は残っていません。鍵サーバーはしばらくの間、"
        "この媒体への次の試行を受け付けません(コンテナは停止されていません)",
    },
    "attempts_none": {
        "en": "no attempts left: the key server has locked the container or refuses further "
        "tries for a while",
        "ja": "試行回数が残っていません。鍵サーバーがコンテナを停止したか、"
        "しばらくの間試行を受け付けません",
    },
    # Before a prompt, when the server says none are left (pycontainer/cli/read.py):
    # {reason} is one of the "attempts_none*" texts above.
    "attempts_none_not_asked": {
        "en": "{reason}; so rwc does not ask for the password, which would only be refused",
        "ja": "{reason}。入力しても拒否されるだけなので、パスワードは尋ねません",
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
    # The right password on the last attempt (spec/protocol.md §receipt): the open
    # succeeded and its receipt lifted the suspension the attempt had caused.
    "last_attempt_opened": {
        "en": "opened. That was the last attempt the key server allowed, and the password was "
        "right, so the container stays usable; the wrong passwords before it still count: "
        "one more would lock the container until an official restores it",
        "ja": "開きました。鍵サーバーが認める最後の試行でしたが、パスワードが正しかったため、"
        "コンテナは引き続き使えます。それまでの誤ったパスワードは数えられたままなので、"
        "もう一度誤ると、担当者が復旧するまでコンテナは停止されます",
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
    # `rwc login` / `rwc logout` (the roles are the protocol's names, in English).
    "logged_in": {
        "en": "logged in to {url} as {name} ({roles}); token stored in {store}",
        "ja": "{url} に {name} としてログインしました(役割: {roles})。トークンの保存先: {store}",
    },
    "no_roles": {"en": "no roles", "ja": "なし"},
    "logged_out": {"en": "forgot the token for {url}", "ja": "{url} のトークンを削除しました"},
    "no_token_stored": {
        "en": "no token was stored for {url}",
        "ja": "{url} のトークンは保存されていませんでした",
    },
    "token_env_wins": {
        "en": "{variable} is set and takes precedence over the stored token whenever this "
        "server is named with --server or {server_variable}",
        "ja": "{variable} が設定されているため、--server または {server_variable} でこの"
        "サーバーを指定したときは、保存したトークンより {variable} が優先されます",
    },
    # What the key server's refusals mean for the person at the terminal and what to do
    # next (pycontainer/cli/refusals.py puts them together from a Refusal's facts; the
    # kinds are pycontainer.errors.Refusal's). "refusal_<kind>" leads, "..._hint" says
    # what to do; the facts follow the lead in "facts".
    "refusal_suspended": {
        "en": "this container is suspended on the key server: its key is not released "
        "until it is restored",
        "ja": "このコンテナは鍵サーバーで停止されています。復旧されるまで鍵は発行されません",
    },
    "refusal_suspended_hint": {
        "en": "ask the city's information security staff to restore it, then open it again",
        "ja": "市の情報セキュリティ担当者に復旧を依頼し、復旧されてから開き直してください",
    },
    # Suspended by its attempt budget (the server's `cause`, spec §problems): what
    # happened, without the server's English reason, and whom to call.
    "refusal_suspended_budget": {
        "en": "this container was locked by the key server: too many attempts to open it "
        "were never confirmed (wrong passwords, for example); its key is not released "
        "until it is restored",
        "ja": "このコンテナは、開封の試行(誤ったパスワードなど)が確認されないまま続いたため、"
        "鍵サーバーによって停止されました。復旧されるまで鍵は発行されません",
    },
    "refusal_suspended_budget_hint": {
        "en": "call the city's information security staff: they check whose attempts they "
        "were and restore the container; do not try again until then",
        "ja": "市の情報セキュリティ担当者に電話で連絡してください。誰の試行だったかを確認した"
        "うえで、コンテナを復旧します。それまでは開き直さないでください",
    },
    "refusal_destroyed": {
        "en": "this container was revoked: its key was destroyed on the key server",
        "ja": "このコンテナは失効しています。鍵サーバーで鍵が破棄されました",
    },
    "refusal_destroyed_hint": {
        "en": "it can never be opened again; if you still need the data, ask its sender "
        "for a new container",
        "ja": "このコンテナは二度と開けません。データが必要な場合は、"
        "送り主に新しいコンテナを依頼してください",
    },
    "refusal_expired": {
        "en": "this container has expired on the key server",
        "ja": "このコンテナは鍵サーバー上で有効期限が切れています",
    },
    "refusal_expired_hint": {
        "en": "ask the sender for a fresh container",
        "ja": "送り主に新しいコンテナを依頼してください",
    },
    "refusal_attempts_exhausted": {
        "en": "the key server refused to {action}: too many unconfirmed attempts, by you "
        "or on this medium",
        "ja": "未確認の試行(あなたの試行、またはこの媒体への試行)が多すぎるため、"
        "鍵サーバーが{action}を拒否しました",
    },
    "refusal_attempts_exhausted_hint": {
        "en": "wait and try again later (the limit lifts within a day); if it cannot "
        "wait, ask the city's information security staff",
        "ja": "時間をおいてからやり直してください(制限は 1 日以内に解除されます)。"
        "急ぐ場合は市の情報セキュリティ担当者に相談してください",
    },
    "refusal_unauthenticated": {
        "en": "the key server did not accept your token",
        "ja": "鍵サーバーがあなたのトークンを受け付けませんでした",
    },
    "refusal_unauthenticated_hint": {
        "en": "run `rwc login {url}` with a valid token, or set RWC_TOKEN",
        "ja": "有効なトークンで `rwc login {url}` を実行するか、RWC_TOKEN を設定してください",
    },
    "refusal_not_allowed": {
        "en": "the key server refused to {action} for you",
        "ja": "鍵サーバーが{action}を拒否しました(あなたには許可されていません)",
    },
    "refusal_not_allowed_hint": {
        "en": "ask the city's information security staff to add you to the container's readers",
        "ja": "市の情報セキュリティ担当者に、このコンテナの閲覧者に加えてもらうよう"
        "依頼してください",
    },
    "refusal_unknown_name": {
        "en": "the key server refused to {action}: it does not know a name given",
        "ja": "鍵サーバーが{action}を拒否しました。指定した名前が見つかりません",
    },
    "refusal_unknown_name_hint": {
        "en": "check the names given (--reader, --reader-group, --medium)",
        "ja": "指定した名前(--reader、--reader-group、--medium)を確認してください",
    },
    "did_you_mean": {
        "en": "did you mean {names}?",
        "ja": "もしかして {names} ですか?",
    },
    "refusal_invalid_value": {
        "en": "the key server refused the value of {field}",
        "ja": "鍵サーバーが {field} の値を受け付けませんでした",
    },
    "refusal_invalid_value_hint": {
        "en": "write the {field} as the key server's rule above says",
        "ja": "{field} を、上に示した鍵サーバーの規則どおりに書いてください",
    },
    "refusal_unavailable": {
        "en": "the key server is unavailable (HTTP {status})",
        "ja": "鍵サーバーが現在利用できません(HTTP {status})",
    },
    "refusal_unavailable_hint": {
        "en": "try again later; if it keeps failing, tell the city's information security staff",
        "ja": "しばらくしてからやり直してください。"
        "続く場合は市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_protocol": {
        "en": "the key server rejected the request to {action} (HTTP {status})",
        "ja": "鍵サーバーが{action}の要求を受け付けませんでした(HTTP {status})",
    },
    "refusal_protocol_hint": {
        "en": "check that rwc and the key server are compatible versions",
        "ja": "rwc と鍵サーバーのバージョンが対応しているか確認してください",
    },
    "refusal_header_mismatch": {
        "en": "this copy of the container was altered: its header differs from the one "
        "registered on the key server (nothing was counted against the attempt budget)",
        "ja": "このコンテナのコピーは改変されています。ヘッダーが鍵サーバーに登録された"
        "ものと異なります(試行回数には数えられていません)",
    },
    "refusal_header_mismatch_hint": {
        "en": "do not use this copy; get a fresh copy from the sender and report the "
        "altered one to the city's information security staff",
        "ja": "このコピーは使わないでください。送り主から新しいコピーを受け取り、"
        "改変されたコピーのことを市の情報セキュリティ担当者に報告してください",
    },
    "refusal_row_integrity": {
        "en": "the key server refused to {action}: its record of this container failed "
        "its integrity check (nothing was released)",
        "ja": "鍵サーバー上のこのコンテナの記録が整合性検査に合格しなかったため、"
        "{action}は拒否されました(何も発行されていません)",
    },
    "refusal_row_integrity_hint": {
        "en": "do not retry; report it to the city's information security staff",
        "ja": "やり直さずに、市の情報セキュリティ担当者に報告してください",
    },
    "refusal_refused": {
        "en": "the key server refused to {action} ({slug}, HTTP {status})",
        "ja": "鍵サーバーが{action}を拒否しました({slug}、HTTP {status})",
    },
    "refusal_refused_hint": {
        "en": "if you need help, ask the city's information security staff",
        "ja": "分からない場合は、市の情報セキュリティ担当者に相談してください",
    },
    "refusal_redirect": {
        "en": "the key server answered with a redirect (HTTP {status})",
        "ja": "鍵サーバーが別の URL への転送(リダイレクト)で応答しました(HTTP {status})",
    },
    "refusal_redirect_hint": {
        "en": "give the final URL of the key server",
        "ja": "転送先ではなく、鍵サーバーの最終的な URL を指定してください",
    },
    "refusal_not_json": {
        "en": "the answer to the request to {action} is not the key server's ({media})",
        "ja": "{action}の要求への応答が鍵サーバーのものではありません({media})",
    },
    "refusal_not_json_hint": {
        "en": "check the server URL: it may point at a web page (a proxy's sign-in page, for "
        "one), not a key server",
        "ja": "サーバーの URL を確認してください。鍵サーバーではなく Web ページ"
        "(プロキシのログイン画面など)を指している可能性があります",
    },
    "refusal_no_token": {
        "en": "no token for the key server {url}",
        "ja": "鍵サーバー {url} のトークンがありません",
    },
    "refusal_no_token_hint": {
        "en": "run `rwc login {url}` or set RWC_TOKEN",
        "ja": "`rwc login {url}` を実行するか、RWC_TOKEN を設定してください",
    },
    "refusal_no_token_for_slot": {
        "en": "no token for the key server {url}",
        "ja": "鍵サーバー {url} のトークンがありません",
    },
    "refusal_no_token_for_slot_hint": {
        "en": "run `rwc login {url}` or set RWC_TOKEN and RWC_SERVER (or --server)",
        "ja": "`rwc login {url}` を実行するか、RWC_TOKEN と RWC_SERVER"
        "(または --server)を設定してください",
    },
    # What the client was doing ({action} above; pycontainer.client.keyserver).
    "action_register": {"en": "register a container", "ja": "コンテナの登録"},
    "action_evaluate": {"en": "release the key", "ja": "鍵の発行"},
    "action_access": {"en": "look up the container", "ja": "コンテナの確認"},
    "action_commit": {"en": "activate the container", "ja": "コンテナの有効化"},
    "action_receipt": {"en": "accept the receipt", "ja": "開封確認の受付"},
    "action_whoami": {"en": "identify you", "ja": "利用者の確認"},
    "action_other": {"en": "do what was asked", "ja": "要求された処理"},
    # The facts after the lead, in the order listed in refusals.py.
    "facts": {"en": " ({facts})", "ja": "({facts})"},
    "fact_separator": {"en": "; ", "ja": "、"},
    "fact_since": {"en": "since {time}", "ja": "{time} から"},
    "fact_destroyed_on": {"en": "destroyed on {time}", "ja": "破棄日時 {time}"},
    "fact_expired_on": {"en": "it expired on {time}", "ja": "有効期限 {time}"},
    "fact_reason": {"en": "reason: {reason}", "ja": "理由: {reason}"},
    "fact_no_reason": {"en": "no public reason was given", "ja": "公開された理由はありません"},
    "fact_server": {"en": "the key server says: {detail}", "ja": "鍵サーバーの説明: {detail}"},
    "fact_server_other": {
        "en": "the key server says [{language}]: {detail}",
        "ja": "鍵サーバーの説明 [{language}]: {detail}",
    },
    "fact_errors": {"en": "errors: {errors}", "ja": "エラー: {errors}"},
    "fact_contact": {"en": "contact: {contact}", "ja": "連絡先: {contact}"},
}
# The one table: the texts above, the command's own errors (pycontainer/cli/failtexts.py),
# why a server could not be reached (pycontainer/cli/nettexts.py) and what `rwc info` and
# `rwc verify` print (pycontainer/cli/infotexts.py), modules of their own for their length.
TEXTS: Mapping[str, Mapping[str, str]] = {
    **_PROMPTS_AND_REFUSALS,
    **OWN_TEXTS,
    **NET_TEXTS,
    **INFO_TEXTS,
}


# Usage errors of the strict parser (pycontainer/cli/strictargs.py), by its keys; the
# English is the parser's own (argparse's words). "other" (a message argparse has no
# pattern for here) is said as argparse wrote it.
_USAGE_JA: Mapping[str, str] = {
    "required": "次の引数が必要です: {names}",
    "one_required": "引数 {names} のいずれかが必要です",
    "invalid_choice": "引数 {argument}: {value} は選べません({choices} から選んでください)",
    "expected_one": "引数 {argument}: 値を 1 つ指定してください",
    "invalid_int": "引数 {argument}: {value} は整数ではありません(半角の数字で指定してください)",
    "invalid_value": "引数 {argument}: {value} は {type} の値として正しくありません",
    "not_allowed": "引数 {argument}: 引数 {other} と同時には指定できません",
    "no_dash": (
        "引数 {argument}: ファイル名を指定してください"
        "(ここでは - を標準入力・標準出力として使えません)"
    ),
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
    if key not in USAGE_TEXTS or parse_language() == "en":
        # The parser's own English, in the form for the text's number ("argument" or
        # "arguments"); Japanese has one form for every number.
        return str(text)
    return USAGE_TEXTS[key]["ja"].format(**text.values)


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


# The texts that count attempts (``{left}``). Their English is written for one ("only 1
# attempt left") and said for any other number with "attempts", not "attempt(s)": a clerk
# counting their last tries reads it. Japanese has one form for every number.
COUNTED: frozenset[str] = frozenset(
    f"{kind}{suffix}"
    for kind in ("few_attempts", "attempts_left")
    for suffix in ("", "_container", "_principal", "_medium")
)


def say(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with its ``{placeholders}`` filled in."""
    text = TEXTS[key][lang]
    if lang == "en" and key in COUNTED and values.get("left") != 1:
        text = text.replace("{left} attempt ", "{left} attempts ", 1)
    return text.format(**values)
