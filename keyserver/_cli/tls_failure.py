"""A failed TLS handshake of ``keyserver --server``, said to an official with what to do.

The classification is rwc's (pycontainer.client.connection.tls_reason, by OpenSSL's verify
code, never its words); the sentences are the official's, from the catalogue.
"""

from __future__ import annotations

from keyserver._cli.errors import EXIT_UNAVAILABLE, CliError
from keyserver._domain.i18n import N_
from pycontainer.client.connection import (
    CERT_EXPIRED,
    CERT_NAME_MISMATCH,
    CERT_NOT_YET_VALID,
    TLS_HANDSHAKE_FAILED,
    tls_reason,
)


def tls_failure(server: str, exc: Exception) -> CliError:
    """A failed TLS handshake as a sentence and what to do, in the official's language.

    The classification is rwc's (pycontainer.client.connection.tls_reason, by OpenSSL's
    verify code): it said "TLS failure talking to URL: SSLError", which tells nobody
    which failure it was.
    """
    reason = tls_reason(exc)
    if reason == CERT_NAME_MISMATCH:
        return CliError(
            N_("the certificate of %(server)s is not issued for that name", server=server),
            hint=N_(
                "use in --server the host name the certificate names, or ask the server's "
                "administrator for a certificate that names this one"
            ),
            exit_code=EXIT_UNAVAILABLE,
        )
    if reason in (CERT_EXPIRED, CERT_NOT_YET_VALID):
        # Often this computer's clock, not the server: said before the renewal.
        return CliError(
            N_(
                "the certificate of %(server)s is outside its validity period (expired, or "
                "not valid yet)",
                server=server,
            ),
            hint=N_(
                "check this computer's date and time; if they are right, the key server's "
                "certificate must be renewed (serve --tls-cert)"
            ),
            exit_code=EXIT_UNAVAILABLE,
        )
    if reason != TLS_HANDSHAKE_FAILED:  # unknown CA, self-signed, any other verification
        return CliError(
            N_(
                "the certificate of %(server)s is not signed by a CA this command trusts",
                server=server,
            ),
            hint=N_("name the CA that signed it with --ca-bundle FILE (or KEYSERVER_CA_BUNDLE)"),
            exit_code=EXIT_UNAVAILABLE,
        )
    return CliError(
        N_("the TLS handshake with %(server)s failed", server=server),
        hint=N_(
            "check the port in --server, and that the key server was started with "
            "--tls-cert and --tls-key (or sits behind a TLS proxy)"
        ),
        exit_code=EXIT_UNAVAILABLE,
    )
