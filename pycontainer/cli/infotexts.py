"""What `rwc info`, `open`, `verify` and `seal` print for a person (and the progress bars).

Part of the one table (pycontainer/cli/texts.py TEXTS; tests/cli/test_texts.py checks both
languages and the placeholders). The English is what the commands printed before, word for
word; ``--json`` keeps its keys and values whatever the language. ``info_label_*`` are the
header's field names, aligned by pycontainer/cli/info.py.
"""

from __future__ import annotations

from collections.abc import Mapping

INFO_TEXTS: Mapping[str, Mapping[str, str]] = {
    "info_label_container": {"en": "container", "ja": "コンテナ"},
    "info_label_version": {"en": "version", "ja": "形式の版"},
    "info_label_chunk_size": {"en": "chunk size", "ja": "チャンクサイズ"},
    "info_label_header": {"en": "header", "ja": "ヘッダー"},
    "info_label_key_server": {"en": "key server", "ja": "鍵サーバー"},
    "info_label_container_id": {"en": "container id", "ja": "コンテナ ID"},
    "info_label_argon2id": {"en": "argon2id", "ja": "Argon2id"},
    "info_label_other_slots": {"en": "other slots", "ja": "その他のスロット"},
    "info_version": {"en": "{version} (suite {suite})", "ja": "{version}(暗号スイート {suite})"},
    "info_bytes": {"en": "{size} bytes", "ja": "{size} バイト"},
    "info_header": {
        "en": "{header} bytes; payload {payload} bytes",
        "ja": "{header} バイト、ペイロード {payload} バイト",
    },
    "info_other_slots": {
        "en": "{count} of types this rwc does not know",
        "ja": "この rwc が知らない種類のものが {count} 個",
    },
    "info_not_authenticated": {
        "en": "(the header is authenticated only when the container is opened)",
        "ja": "(ヘッダーは、コンテナを開いたときに初めて認証されます)",
    },
    # The label of the progress bar on a terminal (open, verify; seal for the writer).
    "progress_extracting": {"en": "extracting", "ja": "展開中"},
    "progress_verifying": {"en": "verifying", "ja": "検証中"},
    "progress_sealing": {"en": "sealing", "ja": "封入中"},
    # `rwc open`'s result; "_one" for a single entry (Japanese has one form).
    "open_ok": {
        "en": "extracted {count} entries into {dest}",
        "ja": "{count} 個のエントリを {dest} に展開しました",
    },
    "open_ok_one": {
        "en": "extracted {count} entry into {dest}",
        "ja": "{count} 個のエントリを {dest} に展開しました",
    },
    # `rwc seal`'s result; "_one" for a single entry (Japanese has one form).
    "seal_ok": {
        "en": "sealed {count} entries into {out} (container {container}, key server {server})",
        "ja": "{count} 個のエントリを {out} に封入しました(コンテナ {container}、"
        "鍵サーバー {server})",
    },
    "seal_ok_one": {
        "en": "sealed {count} entry into {out} (container {container}, key server {server})",
        "ja": "{count} 個のエントリを {out} に封入しました(コンテナ {container}、"
        "鍵サーバー {server})",
    },
    # Under it when --expires was given: {when} in the writer's zone with its offset.
    "seal_expires": {
        "en": "the key server opens it until {when}",
        "ja": "鍵サーバーがこのコンテナを開くのは {when} までです",
    },
    # Under it when --people was given: what the medium report will say of the container.
    "seal_people_declared": {
        "en": "declared: “{label}” holds personal data of {people} people",
        "ja": "申告: 「{label}」には {people} 人分の個人データが含まれます",
    },
    # `rwc seal --help` for --people.
    "seal_help_people": {
        "en": "how many people's personal data it holds (e.g. the residents in the export); "
        "officials' loss reports print it as declared by you",
        "ja": "含まれる個人データの人数(例: 書き出した住民の数)。紛失の報告書に、"
        "作成者の申告として印刷されます",
    },
    # `rwc seal --help` for --expires (the rule of pycontainer/cli/expires.py).
    "seal_help_expires": {
        "en": "when the key server stops opening it: a duration (30d, 12h, 90m, 2w), or a "
        "date or date-time (ISO 8601) in your local time unless it has an offset; a date "
        "means the end of that day",
        "ja": "鍵サーバーがこのコンテナを開かなくなる時: 期間(30d・12h・90m・2w)か、"
        "日付・日時(ISO 8601)。オフセットのない日時はこのコンピューターの現地時刻で、"
        "日付だけならその日の終わり",
    },
    # Names in decomposed form (macOS NFD) stored in composed form; {names} lists up to
    # three, {more} is "seal_nfc_more" or empty.
    "seal_nfc_renamed": {
        "en": "{count} names stored in composed Unicode form (NFC), as every reader "
        "expects: {names}{more}",
        "ja": "{count} 個の名前を、閲覧者の環境が想定する合成済みの Unicode 形式(NFC)で"
        "保存しました: {names}{more}",
    },
    "seal_nfc_renamed_one": {
        "en": "{count} name stored in composed Unicode form (NFC), as every reader "
        "expects: {names}{more}",
        "ja": "{count} 個の名前を、閲覧者の環境が想定する合成済みの Unicode 形式(NFC)で"
        "保存しました: {names}{more}",
    },
    "seal_nfc_more": {"en": " and {count} more", "ja": " ほか {count} 個"},
    # --verbose notes of `rwc seal` and of the readers' commands.
    "note_registering": {
        "en": "registering a container on {server}",
        "ja": "{server} にコンテナを登録しています",
    },
    "note_activating": {
        "en": "activating the container on the key server",
        "ja": "鍵サーバーでコンテナを有効にしています",
    },
    "note_asking": {
        "en": "asking the key server at {url}",
        "ja": "{url} の鍵サーバーに問い合わせています",
    },
    # `rwc verify`'s result; "_one" for a single entry (Japanese has one form).
    "verify_ok": {
        "en": "{container}: OK ({count} entries authenticated)",
        "ja": "{container}: OK({count} 個のエントリをすべて認証しました)",
    },
    "verify_ok_one": {
        "en": "{container}: OK ({count} entry authenticated)",
        "ja": "{container}: OK({count} 個のエントリをすべて認証しました)",
    },
}
