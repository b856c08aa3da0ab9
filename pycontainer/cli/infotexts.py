"""What `rwc info`, `open` and `verify` print for a person (and the progress bars) (issue 12).

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
