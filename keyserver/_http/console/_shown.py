r"""Text as the console shows it, on screen and on paper: hidden characters made visible.

HTML escaping keeps a page's markup intact, but leaves alone the characters a browser obeys
or does not draw: a label ``evil\u202etxt.exe`` stored before the server refused direction
controls (spec §conventions), or restored from an old backup, read ``evilexe.txt`` on every
page and in the printed report. The one policy of which characters those are is
rwc_shared/display_text.py, the commands' too; the console writes each as ``<U+202E>``, so
an official sees that something is odd rather than a text that passes for another.

This module is the templates' one text path (security decision: applied to every value, so
that no page, and no page added later, can show stored text without it): the environment's
``finalize`` (every ``{{ value }}`` of every template), the variables of its gettext calls
(a sentence naming a label) and the items of ``Formats.list``/``sentences``. A value that is
already markup was built from values that passed here (a macro's output, a sentence).

Display only: the API, the JSON downloads, the signed reports and the audit log and its
export keep the stored text (it is evidence), and so does a form field's value
(:func:`form_value`): what the browser sends back is what was typed or stored, and the
service checks it.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.runtime import Context
from markupsafe import Markup, escape

from rwc_shared.display_text import shown

_GETTEXT = ("gettext", "ngettext", "pgettext", "npgettext")


def code_point(ch: str) -> str:
    """One hidden character as the console writes it: ``<U+202E>`` (Unicode's notation)."""
    return f"<U+{ord(ch):04X}>"


def shown_text(text: str) -> str:
    """``text`` with every hidden character written as its code point."""
    return shown(text, code_point)


def finalize(value: object) -> object:
    """What a template writes for ``{{ value }}``: text through the policy, the rest as is.

    Markup is left alone (it is escaped already, and its text passed here: a macro's
    output, a translated sentence with its variables); numbers and None are Jinja's.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown_text(value)
    return value


def form_value(value: object) -> Markup:
    """A form field's value, escaped for HTML but not shown through the policy.

    The browser sends it back as it stands: written as ``<U+200B>`` the confirmation of a
    reason typed with a zero-width space (accepted, spec §conventions) would record another
    reason than the one reviewed, and a stored name would no longer name its row.
    """
    return escape(value)


def install(env: jinja2.Environment) -> None:
    """Show the variables of ``env``'s gettext calls through the policy; add ``form_value``.

    ``env`` has its translations installed already. jinja2's gettext formats a sentence's
    variables itself, where ``finalize`` does not see them: ``_("... “%(label)s” ...",
    label=c.label)`` would write the label as stored.
    """
    for name in _GETTEXT:
        inner = env.globals.get(name)
        if inner is not None:
            env.globals[name] = _showing_variables(inner)
    env.filters["form_value"] = form_value


def _showing_variables(inner: Any) -> Any:
    # ``inner``: jinja2's newstyle gettext callable (untyped), which takes the context first.
    @jinja2.pass_context
    def call(context: Context, *args: Any, **variables: Any) -> Any:
        return inner(context, *args, **{k: finalize(v) for k, v in variables.items()})

    return call
