"""Write spec/openapi.json from the key server app (``python spec/openapi.py [--check]``).

The document is ``create_app(settings).openapi()`` completed with the RFC 9457 problem
responses of every route (keyserver/_http/openapi_problems.py), serialised with sorted keys so
that regenerating it gives byte-identical output. ``--check`` compares instead of writing
and exits 1 when spec/openapi.json is stale (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from keyserver._domain.settings import Settings
from keyserver._http.app import create_app
from keyserver._http.openapi_problems import with_problems

TARGET = Path(__file__).resolve().parent / "openapi.json"
# Building the app needs settings; nothing is connected or served. The key is a dummy.
DUMMY_MASTER_KEY = "A" * 43


def render() -> str:
    """Return the OpenAPI document as canonical JSON text (sorted keys, final newline)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/unused.db", master_key_b64=DUMMY_MASTER_KEY
        )
        app = create_app(settings)
        doc = with_problems(app)
        app.state.service.close()
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) spec/openapi.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python spec/openapi.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
