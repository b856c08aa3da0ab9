"""A writer's usage errors in `rwc seal` (and the password options both sides share) (issue 12).

Said through :class:`pycontainer.cli.exits.SaidUsageError` by key, part of OWN_TEXTS
(pycontainer/cli/failtexts.py) and so of the one table (tests/cli/test_texts.py checks both
languages and the placeholders). They were a Japanese lead for every usage error
("コマンドの指定に誤りがあります") with the English as its detail and `rwc --help` as the next
step, however specific the English was: now each says what is wrong and what to do.
The English is what `rwc` said before, word for word (the error's message, --json).
A hint whose English is "" is said in Japanese only (the English run never had one).
"""

from __future__ import annotations

from collections.abc import Mapping

_EXPIRES_HINT = {
    "en": "use a duration like 30d, 12h or 90m, or a date like 2027-03-31",
    "ja": "30d・12h・90m のような期間か、2027-03-31 のような日付を指定してください",
}

SEAL_TEXTS: Mapping[str, Mapping[str, str]] = {
    "seal_stdin_mixed": {
        "en": "'-' (stdin) cannot be combined with other paths",
        "ja": "'-'(標準入力)は、ほかのファイルやフォルダーと一緒には指定できません",
    },
    "seal_stdin_mixed_hint": {
        "en": "",
        "ja": "標準入力から封入する場合は - だけを指定してください",
    },
    "seal_no_input": {
        "en": "{path}: no such file or directory",
        "ja": "封入するファイルまたはフォルダー {path} が見つかりません",
    },
    "seal_no_input_hint": {"en": "", "ja": "名前と場所を確認してください"},
    "seal_inside_input": {
        "en": "{out} would be written inside {path}, which is being sealed",
        "ja": "{out} は、封入するフォルダー {path} の中に書き込まれることになります",
    },
    "seal_inside_input_hint": {
        "en": "write the container outside the directories you seal",
        "ja": "コンテナは、封入するフォルダーの外に書き出してください",
    },
    "seal_no_output_dir": {
        "en": "{directory}: no such directory",
        "ja": "出力先のフォルダー {directory} がありません",
    },
    "seal_no_output_dir_hint": {
        "en": "",
        "ja": "-o には、すでにあるフォルダーの中のファイル名を指定してください",
    },
    "seal_output_is_dir": {
        "en": "{out} is a directory; give the container's file name with -o",
        "ja": "{out} はフォルダーです。-o にはコンテナのファイル名を指定してください",
    },
    "seal_no_server": {
        "en": "seal needs the key server",
        "ja": "封入には鍵サーバーが必要です",
    },
    "seal_no_server_hint": {
        "en": "pass --server URL or set RWC_SERVER",
        "ja": "--server URL を付けるか、RWC_SERVER を設定してください",
    },
    "seal_to_stdout": {
        "en": "rwc seal cannot write a container to stdout (-o -)",
        "ja": "rwc seal はコンテナを標準出力(-o -)に書き出せません",
    },
    "seal_to_stdout_hint": {
        "en": "name the output file: a container is written at known offsets and appears "
        "only once complete, so no half-written container is ever left behind",
        "ja": "-o に出力ファイルの名前を指定してください。コンテナは完成して初めて現れるので、"
        "書きかけのコンテナが残ることはありません",
    },
    "seal_argon2_bounds": {
        "en": "Argon2 parameters out of bounds",
        "ja": "Argon2 のパラメーターが範囲外です",
    },
    "seal_argon2_bounds_hint": {
        "en": "--kdf-memory {m_min}..{m_max} (and >= 8 x parallelism), "
        "--kdf-time {t_min}..{t_max}, --kdf-parallelism {p_min}..{p_max}",
        "ja": "--kdf-memory は {m_min}..{m_max}(並列数の 8 倍以上)、--kdf-time は "
        "{t_min}..{t_max}、--kdf-parallelism は {p_min}..{p_max} の範囲で指定してください",
    },
    # protocol §media: leaving the medium out must be a decision, not an omission.
    "seal_no_medium": {
        "en": "name the medium the container goes on with --medium ID",
        "ja": "コンテナを保存する媒体を --medium ID で指定してください",
    },
    "seal_no_medium_hint": {
        "en": "use the serial number or asset tag printed on the USB stick or disk, so a "
        "loss report can cover it; pass --no-medium only if it stays on no removable medium",
        "ja": "USB メモリやディスクに印字されたシリアル番号か資産番号を使ってください"
        "(紛失の届出の対象にできます)。取り外せる媒体に保存しない場合に限り、"
        "--no-medium を付けてください",
    },
    "seal_length": {
        "en": "{option} must be 1 to {longest} characters",
        "ja": "{option} は 1 文字以上 {longest} 文字以下にしてください",
    },
    "seal_attempt_budget": {
        "en": "--attempt-budget must be at least 1",
        "ja": "--attempt-budget には 1 以上の数を指定してください",
    },
    "seal_people": {
        "en": "--people must be a whole number from 1 to {most}",
        "ja": "--people には 1 から {most} までの整数を指定してください",
    },
    "seal_people_hint": {
        "en": "give how many people's personal data the container holds, or leave --people "
        "out if you do not know",
        "ja": "コンテナに含まれる個人データの人数を指定してください。"
        "分からない場合は --people を付けないでください",
    },
    "seal_no_readers": {
        "en": "nobody could open this container",
        "ja": "このままでは、誰もこのコンテナを開けません",
    },
    "seal_no_readers_hint": {
        "en": "name its readers with --reader NAME and/or --reader-group GROUP",
        "ja": "--reader NAME か --reader-group GROUP(両方でも可)で閲覧者を指定してください",
    },
    # pycontainer/cli/expires.py; {value} is the text as given, quoted.
    "expires_no_unit": {
        "en": "--expires {value} has no unit and is ambiguous",
        "ja": "--expires {value} には単位がなく、意味が定まりません",
    },
    "expires_no_unit_hint": _EXPIRES_HINT,
    "expires_too_far": {
        "en": "--expires {value} is more than a century away",
        "ja": "--expires {value} は 100 年以上先です",
    },
    "expires_too_far_hint": _EXPIRES_HINT,
    "expires_unreadable": {
        "en": "cannot understand --expires {value}",
        "ja": "--expires {value} を期間としても日付としても読めません",
    },
    "expires_unreadable_hint": _EXPIRES_HINT,
    "expires_past": {
        "en": "--expires {value} is not in the future",
        "ja": "--expires {value} は未来の日時ではありません",
    },
    "expires_past_hint": _EXPIRES_HINT,
    # pycontainer/cli/password.py (`rwc seal` and the readers' commands).
    "password_file_too_large": {
        "en": "the password file {path} is too large to be a password file",
        "ja": "パスワードファイル {path} が大きすぎます(パスワードファイルではないようです)",
    },
    "password_file_too_large_hint": {
        "en": "",
        "ja": "パスワードだけを書いたファイルを指定してください",
    },
    "password_sources_conflict": {
        "en": "--no-password and --password-file exclude each other",
        "ja": "--no-password と --password-file は同時に指定できません",
    },
    "password_sources_conflict_hint": {"en": "", "ja": "どちらか一方だけを指定してください"},
    "passwords_differ": {
        "en": "the two passwords differ",
        "ja": "2 回入力したパスワードが一致しません",
    },
    "passwords_differ_hint": {
        "en": "try again",
        "ja": "もう一度実行し、同じパスワードを 2 回入力してください",
    },
}
