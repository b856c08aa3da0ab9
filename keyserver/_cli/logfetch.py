"""Requests to another key server's public transparency-log endpoints (spec §transparency).

The witness (``keyserver witness run``) and ``verify-report --check-server`` send no
token, but they follow the one transport's rules all the same
(pycontainer/client/transport.py, as ``rwc`` and ``keyserver --server`` do): the URL
policy (``check_server_url``, checked where the URL is given), the trust store named by
``--ca-bundle`` or certifi's (never one an environment variable slips in), no redirects,
and a size limit on every answer (a hostile log cannot make a witness read gigabytes).
"""

from __future__ import annotations

from typing import Any

import requests

from keyserver._cli.errors import EXIT_UNAVAILABLE, CliError, ca_bundle_refused
from keyserver._cli.remote import CA_BUNDLE_OPTION
from keyserver._domain.i18n import N_
from pycontainer.client.transport import read_limited, trust_store
from pycontainer.errors import ContainerError

TIMEOUT = 30.0


def log_request(
    method: str,
    url: str,
    *,
    ca_bundle: str | None = None,
    params: dict[str, int] | None = None,
    body: Any = None,
) -> tuple[int, bytes]:
    """Send one request to a log endpoint; its status and its (bounded) body.

    Raises:
        CliError: The CA bundle is missing (configuration); the server is unreachable or
            its answer is over the size limit (unavailable).
    """
    try:
        verify = trust_store(ca_bundle, option=CA_BUNDLE_OPTION)
    except ContainerError as exc:  # only CaBundleError: no token here
        raise ca_bundle_refused(exc.message) from None
    try:
        with requests.request(
            method,
            url,
            params=params,
            json=body,
            timeout=(TIMEOUT, TIMEOUT),
            verify=verify,  # per request: REQUESTS_CA_BUNDLE does not override it
            allow_redirects=False,
            stream=True,
        ) as resp:
            return resp.status_code, read_limited(resp)
    except requests.exceptions.RequestException as exc:
        raise CliError(
            N_("cannot reach %(url)s (%(kind)s)", url=url, kind=type(exc).__name__),
            exit_code=EXIT_UNAVAILABLE,
        ) from None
    except ContainerError as exc:  # the answer is over the size limit
        raise CliError(
            N_("%(url)s: %(message)s", url=url, message=exc.message), exit_code=EXIT_UNAVAILABLE
        ) from None
