"""Deterministic synthetic resident register, shaped like the data lost in Amagasaki in 2022.

Every row is invented: names are drawn from lists of common Japanese names, addresses from
Amagasaki town names with made-up block numbers. Nothing here describes a real person. The
columns follow the kinds of data the city reported as being on the lost medium: a resident
code, the name in kanji, kana and romaji, gender, birth date, postal code, address and the date
of registration.

The output only depends on ``rows`` and ``seed`` (no clock, no locale), so the demo and the
tests can compare bytes.

Usage::

    python demo/register.py --rows 3000 --seed 2022 -o register.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import sys
from pathlib import Path

COLUMNS = (
    "resident_code",
    "name_kanji",
    "name_kana",
    "name_romaji",
    "gender",
    "birth_date",
    "postal_code",
    "address",
    "registration_date",
)

# (kanji, katakana, romaji): common surnames.
SURNAMES = (
    ("佐藤", "サトウ", "Sato"),
    ("鈴木", "スズキ", "Suzuki"),
    ("高橋", "タカハシ", "Takahashi"),
    ("田中", "タナカ", "Tanaka"),
    ("伊藤", "イトウ", "Ito"),
    ("渡辺", "ワタナベ", "Watanabe"),
    ("山本", "ヤマモト", "Yamamoto"),
    ("中村", "ナカムラ", "Nakamura"),
    ("小林", "コバヤシ", "Kobayashi"),
    ("加藤", "カトウ", "Kato"),
    ("吉田", "ヨシダ", "Yoshida"),
    ("山田", "ヤマダ", "Yamada"),
    ("佐々木", "ササキ", "Sasaki"),
    ("山口", "ヤマグチ", "Yamaguchi"),
    ("松本", "マツモト", "Matsumoto"),
    ("井上", "イノウエ", "Inoue"),
    ("木村", "キムラ", "Kimura"),
    ("林", "ハヤシ", "Hayashi"),
    ("清水", "シミズ", "Shimizu"),
    ("藤原", "フジワラ", "Fujiwara"),
)

GIVEN_MALE = (
    ("浩", "ヒロシ", "Hiroshi"),
    ("隆", "タカシ", "Takashi"),
    ("健一", "ケンイチ", "Kenichi"),
    ("大輔", "ダイスケ", "Daisuke"),
    ("誠", "マコト", "Makoto"),
    ("翔太", "ショウタ", "Shota"),
    ("蓮", "レン", "Ren"),
    ("悠真", "ユウマ", "Yuma"),
    ("和夫", "カズオ", "Kazuo"),
    ("拓也", "タクヤ", "Takuya"),
)

GIVEN_FEMALE = (
    ("陽子", "ヨウコ", "Yoko"),
    ("恵子", "ケイコ", "Keiko"),
    ("花子", "ハナコ", "Hanako"),
    ("美咲", "ミサキ", "Misaki"),
    ("由美", "ユミ", "Yumi"),
    ("結衣", "ユイ", "Yui"),
    ("さくら", "サクラ", "Sakura"),
    ("愛", "アイ", "Ai"),
    ("幸子", "サチコ", "Sachiko"),
    ("陽菜", "ヒナ", "Hina"),
)

# (postal code, town): town names of Amagasaki, Hyogo.
TOWNS = (
    ("660-0881", "昭和通"),
    ("660-0892", "東難波町"),
    ("660-0893", "西難波町"),
    ("660-0827", "西大物町"),
    ("660-0861", "御園町"),
    ("660-0802", "長洲中通"),
    ("660-0814", "杭瀬本町"),
    ("661-0012", "南塚口町"),
    ("661-0001", "塚口本町"),
    ("661-0035", "武庫之荘"),
    ("661-0025", "立花町"),
    ("661-0953", "東園田町"),
    ("660-0053", "南七松町"),
    ("660-0077", "大庄西町"),
)

CITY = "兵庫県尼崎市"
# A fixed "today": the register must not change with the clock.
REFERENCE_DATE = dt.date(2022, 6, 1)
DEFAULT_ROWS = 3000
DEFAULT_SEED = 2022


def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """Return a date in [start, end] drawn from rng."""
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def generate_register(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> bytes:
    """Build the register as UTF-8 CSV bytes (with a header line, CRLF line ends as RFC 4180).

    Args:
        rows: number of residents (>= 0).
        seed: seed of the generator; the same (rows, seed) always gives the same bytes.

    Returns:
        The CSV document.

    Raises:
        ValueError: if rows is negative.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    # Not for secrets: a seeded, reproducible generator of invented names is the point here.
    rng = random.Random(seed)  # noqa: S311
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(COLUMNS)
    for index in range(rows):
        surname = rng.choice(SURNAMES)
        gender = rng.choice(("男", "女"))
        given = rng.choice(GIVEN_MALE if gender == "男" else GIVEN_FEMALE)
        birth = _random_date(rng, dt.date(1925, 1, 1), dt.date(2022, 5, 31))
        registered = _random_date(rng, birth, REFERENCE_DATE)
        postal, town = rng.choice(TOWNS)
        address = f"{CITY}{town}{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        out.writerow(
            (
                f"28202{index * 7 + rng.randint(0, 6):07d}",
                f"{surname[0]}　{given[0]}",
                f"{surname[1]}　{given[1]}",
                f"{surname[2].upper()} {given[2]}",
                gender,
                birth.isoformat(),
                postal,
                address,
                registered.isoformat(),
            )
        )
    return buf.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write a register to a file (or stdout with ``-o -``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("-o", "--output", default="-", help="output file, '-' for stdout")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    data = generate_register(args.rows, args.seed)
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.output).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
