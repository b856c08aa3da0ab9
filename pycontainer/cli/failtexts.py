"""What `rwc` says when a run fails for a reason other than a key server's refusal (issue 12).

A clerk who reads only Japanese met English-only errors for a wrong or damaged file, an
output directory that is not empty, a full disk, a CA bundle that cannot be used, a login
without a terminal, Ctrl-C. Two tables, both said through pycontainer/cli/refusals.py
``for_person`` (the one place an error becomes the words a person reads):

* ``OWN_TEXTS``: the errors rwc's command raises itself (:class:`pycontainer.cli.exits.
  SaidError`, by key), in English and Japanese. The English is what the command said before,
  word for word: it is also the error's message, what ``--json`` carries.
* ``LIBRARY_JA``: the library's errors by class, most specific first. The library's
  message and hint stay English (``--json``, logs, library callers, and an English reader
  sees them unchanged); a Japanese reader gets the lead and the next step for the class
  here, and the library's message after it as a detail marked ``[en]``: it names the file
  or the rule, which a support person may need read to them.

``OWN_TEXTS`` is part of TEXTS (pycontainer/cli/texts.py), so tests/cli/test_texts.py checks
that every text exists in both languages with the same placeholders. An error whose text
the command has already put in the reader's language (``said``: the parser's usage
errors, a wrong password, a refusal before the prompt) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from pycontainer.cli.sealtexts import SEAL_TEXTS

# Where a clerk turns for help (the same words as the refusals' hints in texts.py).
_STAFF_JA = "市の情報セキュリティ担当者"

OWN_TEXTS: Mapping[str, Mapping[str, str]] = {
    # A hint whose English is "" is said in Japanese only: the English run never had one,
    # and its --json "hint" stays null.
    "no_container_file": {
        "en": "{path}: no such container file",
        "ja": "コンテナのファイル {path} が見つかりません",
    },
    "no_container_file_hint": {
        "en": "",
        "ja": "ファイルの名前と場所を確認してください",
    },
    "container_is_folder": {
        "en": "{path} is a folder, not a container file",
        "ja": "{path} はフォルダーです。コンテナのファイルではありません",
    },
    "container_is_folder_hint": {
        "en": "give the container file itself (its name usually ends in .rwc)",
        "ja": "コンテナのファイルそのもの(名前は普通 .rwc で終わります)を指定してください",
    },
    "no_terminal_for_token": {
        "en": "no terminal to ask for the token",
        "ja": "トークンを尋ねる端末がありません",
    },
    "no_terminal_for_token_hint": {
        "en": "pass it with --token-stdin",
        "ja": "--token-stdin を付けて、トークンを標準入力から渡してください",
    },
    "no_token_entered": {"en": "no token entered", "ja": "トークンが入力されませんでした"},
    "no_token_entered_hint": {
        "en": "",
        "ja": "もう一度 `rwc login URL` を実行し、受け取ったトークンを貼り付けてください",
    },
    "password_file_unreadable": {
        "en": "cannot read the password file {path}: {reason}",
        "ja": "パスワードファイル {path} を読めません({reason})",
    },
    "password_file_unreadable_hint": {
        "en": "",
        "ja": "ファイルの名前と場所、読み取りの権限を確認してください",
    },
    "password_file_not_text": {
        "en": "the password file {path} is not UTF-8 text",
        "ja": "パスワードファイル {path} が UTF-8 のテキストではありません",
    },
    "password_file_not_text_hint": {
        "en": "",
        "ja": "パスワードを UTF-8 で保存し直してください(メモ帳なら「UTF-8」を選んで保存)",
    },
    "no_terminal_for_password": {
        "en": "no password given and no terminal to ask for one",
        "ja": "パスワードが指定されておらず、尋ねる端末もありません",
    },
    "no_terminal_for_password_hint": {
        "en": "use --password-file FILE, set RWC_PASSWORD, or pass --no-password",
        "ja": "--password-file FILE を付けるか、RWC_PASSWORD を設定するか、"
        "--no-password を付けてください",
    },
    "no_password_entered": {"en": "no password entered", "ja": "パスワードが入力されませんでした"},
    "no_password_entered_hint": {
        "en": "",
        "ja": "もう一度実行し、パスワードを入力してください",
    },
    "password_empty": {"en": "the password is empty", "ja": "パスワードが空です"},
    "password_empty_hint": {
        "en": "to use no password, pass --no-password (the container is then protected by "
        "the key server's reader policy alone)",
        "ja": "パスワードを使わない場合は --no-password を付けてください"
        "(コンテナは鍵サーバーの閲覧者の設定だけで守られます)",
    },
    # An OSError that reached the boundary (main.py), by errno; {detail} is the file and
    # the system's words, as before.
    "os_no_space": {"en": "{detail}", "ja": "ディスクの空き容量が足りません({detail})"},
    "os_no_space_hint": {
        "en": "",
        "ja": "空き容量を確保するか、別の場所を指定してやり直してください",
    },
    "os_permission": {"en": "{detail}", "ja": "権限がないため読み書きできません({detail})"},
    "os_permission_hint": {
        "en": "",
        "ja": "ファイルやフォルダーの権限を確認するか、書き込める場所を指定してください",
    },
    "os_not_found": {"en": "{detail}", "ja": "ファイルまたはフォルダーが見つかりません({detail})"},
    "os_not_found_hint": {"en": "", "ja": "名前と場所を確認してください"},
    "os_other": {"en": "{detail}", "ja": "ファイルの読み書きに失敗しました({detail})"},
    "os_other_hint": {
        "en": "",
        "ja": f"やり直しても続く場合は、この表示を{_STAFF_JA}に伝えてください",
    },
    "interrupted": {"en": "interrupted", "ja": "中断しました"},
    "stopped_by": {"en": "stopped by {signal}", "ja": "{signal} により停止しました"},
    "internal_error": {"en": "internal error ({name})", "ja": "rwc の内部エラーです({name})"},
    "internal_error_hint": {
        "en": "run again with --verbose and report the traceback",
        "ja": f"--verbose を付けて実行し直し、表示された内容を{_STAFF_JA}に伝えてください",
    },
    # A writer's usage errors (pycontainer/cli/sealtexts.py, a module of its own).
    **SEAL_TEXTS,
}

# The library's errors by class name: (Japanese lead, Japanese next step). The first class
# of the error's method resolution order that is listed here decides, so a subclass
# (NotAContainerError) is said before its base (FormatError), and ContainerError catches
# the rest. By name, not by class: this module is imported by every run (texts.py) and
# must not import the client; tests/cli/test_fail_texts.py checks every name is a class.
# After the lead: the library's own English message (an English reader sees only that).
DETAIL_JA = "(詳細 [en]: {detail})"
LIBRARY_JA: Mapping[str, tuple[str, str]] = {
    "NotAContainerError": (
        "このファイルは rwc コンテナではありません",
        (
            "開くファイルを間違えていないか確認してください"
            "(rwc コンテナの名前は普通 .rwc で終わります)"
        ),
    ),
    "UnsupportedVersionError": (
        "このコンテナは、この rwc が対応していない形式です",
        f"rwc を新しい版にしてください。分からない場合は{_STAFF_JA}に相談してください",
    ),
    "UnsafePathError": (
        "コンテナの中のファイル名を、このコンピューターでは安全に作れません。何も展開していません",
        f"このコンテナを展開せず、{_STAFF_JA}に相談してください",
    ),
    "FormatError": (
        "コンテナが壊れているか、途中までしかありません",
        "このファイルは使わず、送り主から新しいコピーを受け取ってください",
    ),
    "HeaderAuthError": (
        "コンテナのヘッダーが作成後に書き換えられています",
        f"このファイルは使わず、送り主から新しいコピーを受け取り、{_STAFF_JA}に知らせてください",
    ),
    "PayloadError": (
        "コンテナの内容の検証に失敗しました。壊れているか改変されています。何も展開していません",
        "このファイルは使わず、送り主から新しいコピーを受け取ってください",
    ),
    "ReaderLimitError": (
        "このコンテナは、この rwc に設定された上限を超えているため開けません",
        f"送り主が確かな場合は、{_STAFF_JA}に相談してください",
    ),
    "EntryNotFoundError": (
        "指定した名前のファイルはこのコンテナに入っていません",
        "`rwc ls コンテナ` で中身を一覧し、名前を確かめてください",
    ),
    "OutputExistsError": (
        "出力先にすでにファイルやフォルダーがあります",
        (
            "新しいフォルダーか空のフォルダーを指定してください。"
            "上書きしてよい場合だけ --force を付けてやり直せます"
        ),
    ),
    "OutputWriteError": (
        "展開先に書き込めませんでした。何も展開していません",
        "ディスクの空き容量と、展開先への書き込みの権限を確認してください",
    ),
    "InputError": (
        "指定したファイルや場所を使えません",
        "詳細に示された名前と場所を確認してください",
    ),
    "CaBundleError": (
        "--ca-bundle(または RWC_CA_BUNDLE)で指定した CA 証明書のファイルを使えません",
        (
            "鍵サーバーの証明書を発行した認証局の証明書(PEM 形式)を指定してください。"
            f"分からない場合は{_STAFF_JA}に相談してください"
        ),
    ),
    "TokenScopeError": (
        "RWC_TOKEN が設定されていますが、鍵サーバーが指定されていません",
        "RWC_SERVER(または --server)に、このトークンの鍵サーバーを設定してください",
    ),
    "TokenConfigError": (
        "トークン、またはトークンの保存場所に問題があります",
        "トークンは rwc_ で始まる 47 文字です。受け取ったトークンをそのまま貼り付けてください",
    ),
    "ServerUrlError": (
        "鍵サーバーの URL として使えません",
        (
            "https:// で始まる鍵サーバーの URL を指定してください"
            "(http:// はこのコンピューター自身 127.0.0.1・localhost の場合だけ使えます)"
        ),
    ),
    "KeyServerCallError": (
        "鍵サーバーの応答が正しくありません",
        f"しばらくしてからやり直してください。続く場合は{_STAFF_JA}に知らせてください",
    ),
    # The command's own usage errors are said in the reader's language where they are
    # raised (the parser's table in texts.py, OWN_TEXTS); these are the others (a
    # writer's --expires, say), shown with their English as the detail.
    "UsageError": (
        "コマンドの指定に誤りがあります",
        "`rwc --help` で使い方を確認してください",
    ),
    "ContainerError": (
        "rwc は処理を完了できませんでした",
        f"やり直しても続く場合は、この表示を{_STAFF_JA}に伝えてください",
    ),
}
