"""What `rwc` says when a key server cannot be reached: why, and what to do next (issue 12).

Part of the one table (pycontainer/cli/texts.py TEXTS; tests/cli/test_texts.py checks both
languages and the placeholders): ``why_*`` is why a connection failed, the English
identical to pycontainer.client.connection's words (refusals.py finds the reader's words by
it); ``refusal_unreachable`` and ``refusal_tls`` lead, and their next step depends on why
(``refusal_<kind>_hint_<why>``, else ``refusal_<kind>_hint``): a wrong address is not a
missing CA, a proxy that wants credentials is not the network. The English of those hints
is the library's (connection.TLS_HINTS, PROXY_HINTS: what --json carries).
"""

from __future__ import annotations

from collections.abc import Mapping

NET_TEXTS: Mapping[str, Mapping[str, str]] = {
    "refusal_unreachable": {
        "en": "cannot reach the key server at {url} ({why})",
        "ja": "鍵サーバー {url} に接続できません({why})",
    },
    "refusal_unreachable_hint": {
        "en": "check your network connection and the server URL (--server URL or RWC_SERVER)",
        "ja": "ネットワーク接続と、サーバーの URL(--server URL または RWC_SERVER)を"
        "確認してください",
    },
    # By why, for a proxy's refusal (the English is the library's: connection.PROXY_HINTS).
    "refusal_unreachable_hint_proxy_auth_required": {
        "en": "set the proxy's user name and password in HTTPS_PROXY "
        "(http://USER:PASSWORD@PROXY:PORT), or ask your IT staff",
        "ja": "プロキシのユーザー名とパスワードを HTTPS_PROXY に設定するか"
        "(http://ユーザー名:パスワード@プロキシ:ポート)、情報システムの担当者に相談してください",
    },
    "refusal_unreachable_hint_proxy_auth_refused": {
        "en": "check the proxy's user name and password in HTTPS_PROXY (a password may have "
        "changed), or ask your IT staff",
        "ja": "HTTPS_PROXY に設定したプロキシのユーザー名とパスワードを確認するか"
        "(パスワードが変わった可能性があります)、情報システムの担当者に相談してください",
    },
    "refusal_unreachable_hint_proxy_refused": {
        "en": "ask your IT staff to let this computer reach the key server through the proxy",
        "ja": "このコンピューターからプロキシ経由で鍵サーバーに接続できるよう、"
        "情報システムの担当者に依頼してください",
    },
    "refusal_tls": {
        "en": "TLS connection to {url} failed: {why}",
        "ja": "{url} との TLS 接続に失敗しました: {why}",
    },
    "refusal_tls_hint": {
        "en": "if your city runs its own certificate authority, pass its certificate "
        "with --ca-bundle FILE (or RWC_CA_BUNDLE)",
        "ja": "市が独自の認証局を運用している場合は、その証明書を --ca-bundle FILE"
        "(または RWC_CA_BUNDLE)で指定してください",
    },
    # By why the handshake failed ("refusal_tls_hint_" + the why_* key's rest; the English
    # is the library's, pycontainer.client.connection.TLS_HINTS). A wrong address is not
    # a missing CA, and an expired certificate is often this computer's clock.
    "refusal_tls_hint_cert_name_mismatch": {
        "en": "check the server address (--server URL or RWC_SERVER): use the host name the "
        "city gave you, not an IP address or another name; if it is right, tell the city's "
        "information security staff",
        "ja": "サーバーのアドレス(--server URL または RWC_SERVER)を確認してください。"
        "IP アドレスや別の名前ではなく、市から案内されたホスト名を使います。"
        "正しい場合は市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_tls_hint_cert_untrusted": {
        "en": "if your city runs its own certificate authority, pass its certificate "
        "with --ca-bundle FILE (or RWC_CA_BUNDLE)",
        "ja": "市が独自の認証局を運用している場合は、その証明書を --ca-bundle FILE"
        "(または RWC_CA_BUNDLE)で指定してください",
    },
    "refusal_tls_hint_cert_expired": {
        "en": "check this computer's date and time; if they are right, the key server's "
        "certificate must be renewed: tell the city's information security staff",
        "ja": "このコンピューターの日付と時刻を確認してください。正しい場合は鍵サーバーの"
        "証明書の更新が必要です。市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_tls_hint_cert_not_yet_valid": {
        "en": "check this computer's date and time (it may be behind); if they are right, "
        "tell the city's information security staff",
        "ja": "このコンピューターの日付と時刻を確認してください(遅れている可能性があります)。"
        "正しい場合は市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_tls_hint_cert_self_signed": {
        "en": "do not trust this certificate on your own: it was not issued by a certificate "
        "authority, and may not be the key server's; tell the city's information security "
        "staff",
        "ja": "この証明書を自分の判断で信頼しないでください。認証局が発行したものではなく、"
        "鍵サーバーのものではない可能性があります。市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_tls_hint_cert_refused": {
        "en": "do not retry; tell the city's information security staff",
        "ja": "やり直さずに、市の情報セキュリティ担当者に知らせてください",
    },
    "refusal_tls_hint_tls_handshake_failed": {
        "en": "check the server URL and its port (--server URL or RWC_SERVER): the server "
        "there may not speak TLS",
        "ja": "サーバーの URL とポート番号(--server URL または RWC_SERVER)を確認してください。"
        "その相手は TLS で通信するサーバーではない可能性があります",
    },
    # Why the key server could not be reached ({why} above; pycontainer.client.connection's
    # words, the English identical to them: tests/cli/test_texts.py).
    "why_timed_out": {"en": "timed out", "ja": "時間内に応答がありません"},
    "why_connection_failed": {"en": "connection failed", "ja": "接続できませんでした"},
    "why_connection_lost": {"en": "connection lost", "ja": "接続が途中で切れました"},
    "why_cert_name_mismatch": {
        "en": "the server's certificate does not match its name",
        "ja": "サーバーの証明書が名前と一致しません",
    },
    "why_cert_untrusted": {
        "en": "the server's certificate is not trusted",
        "ja": "サーバーの証明書が信頼されていません",
    },
    "why_cert_expired": {
        "en": "the server's certificate has expired",
        "ja": "サーバーの証明書の有効期限が切れています",
    },
    "why_cert_not_yet_valid": {
        "en": "the server's certificate is not valid yet",
        "ja": "サーバーの証明書の有効期間がまだ始まっていません",
    },
    "why_cert_self_signed": {
        "en": "the server's certificate is self-signed",
        "ja": "サーバーの証明書が自己署名です",
    },
    "why_cert_refused": {
        "en": "the server's certificate failed verification",
        "ja": "サーバーの証明書の検証に失敗しました",
    },
    "why_tls_handshake_failed": {"en": "TLS handshake error", "ja": "TLS ハンドシェイクのエラー"},
    "why_proxy_auth_required": {
        "en": "the proxy asks for a user name and password",
        "ja": "プロキシがユーザー名とパスワードを求めています",
    },
    "why_proxy_auth_refused": {
        "en": "the proxy refused its user name and password",
        "ja": "プロキシがユーザー名とパスワードを受け付けませんでした",
    },
    "why_proxy_refused": {
        "en": "the proxy refused the connection to the key server",
        "ja": "プロキシが鍵サーバーへの接続を拒否しました",
    },
}
