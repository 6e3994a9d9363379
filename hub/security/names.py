"""User names: one spelling (NFKC), one script per name, and no lookalike of another user's.

`admin` with a Cyrillic a, `admin` in fullwidth letters, or `Admin`, beside `admin`, would
put two names on screen that a person cannot tell apart (in the audit log, the user list).
So a name is stored in Unicode NFKC form, its letters must come from one script (Han
may mix with Hiragana, Katakana or Hangul, as Japanese and Korean names do), and a new
name whose skeleton (case folded, common cross-script lookalikes mapped to Latin)
matches an existing user's is refused.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 64
# Letters of other scripts that look like Latin ones (Unicode's confusables, the common
# part), and digits and marks that pass for letters.
_LOOKALIKES = str.maketrans(
    {
        "\u0430": "a",  # cyrillic small letter a
        "\u03b1": "a",  # greek small letter alpha
        "\u0432": "b",  # cyrillic small letter ve
        "\u03b2": "b",  # greek small letter beta
        "\u0441": "c",  # cyrillic small letter es
        "\u03f2": "c",  # greek lunate sigma symbol
        "\u0501": "d",  # cyrillic small letter komi de
        "\u0435": "e",  # cyrillic small letter ie
        "\u03b5": "e",  # greek small letter epsilon
        "\u0261": "g",  # latin small letter script g
        "\u04bb": "h",  # cyrillic small letter shha
        "\u043d": "h",  # cyrillic small letter en
        "\u03b7": "h",  # greek small letter eta
        "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
        "\u03b9": "i",  # greek small letter iota
        "\u04cf": "i",  # cyrillic small letter palochka
        "\u0458": "j",  # cyrillic small letter je
        "\u043a": "k",  # cyrillic small letter ka
        "\u03ba": "k",  # greek small letter kappa
        "\u043c": "m",  # cyrillic small letter em
        "\u03bc": "m",  # greek small letter mu
        "\u043f": "n",  # cyrillic small letter pe
        "\u043e": "o",  # cyrillic small letter o
        "\u03bf": "o",  # greek small letter omicron
        "\u03c3": "o",  # greek small letter sigma
        "0": "o",
        "\u0440": "p",  # cyrillic small letter er
        "\u03c1": "p",  # greek small letter rho
        "\u051b": "q",  # cyrillic small letter qa
        "\u0455": "s",  # cyrillic small letter dze
        "\u0442": "t",  # cyrillic small letter te
        "\u03c4": "t",  # greek small letter tau
        "\u03c5": "u",  # greek small letter upsilon
        "\u03bd": "v",  # greek small letter nu
        "\u0475": "v",  # cyrillic small letter izhitsa
        "\u051d": "w",  # cyrillic small letter we
        "\u03c9": "w",  # greek small letter omega
        "\u0445": "x",  # cyrillic small letter ha
        "\u03c7": "x",  # greek small letter chi
        "\u0443": "y",  # cyrillic small letter u
        "\u03b3": "y",  # greek small letter gamma
        "\u03b6": "z",  # greek small letter zeta
        "1": "l",
        "|": "l",
    }
)
# Scripts that share a name: Han with the Japanese kana, or with Hangul.
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


class NameProblem(ValueError):
    """A user name cannot be used; the message says why."""


def normal_form(name: str) -> str:
    """The one spelling a name is stored and looked up in (NFKC)."""
    return unicodedata.normalize("NFKC", name)


def _script(char: str) -> str | None:
    """The script of a letter (from its Unicode name), None for anything else."""
    if not unicodedata.category(char).startswith("L"):
        return None
    script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_FAMILIES.get(script, script)


def checked_name(name: str) -> str:
    """`name` in normal form, or NameProblem: empty, too long, unprintable, edge spaces,
    or letters of more than one script."""
    name = normal_form(name)
    if not name or len(name) > MAX_LENGTH or not name.isprintable() or name.strip() != name:
        raise NameProblem(
            f"user name must be 1-{MAX_LENGTH} printable characters without edge spaces"
        )
    scripts = {s for s in map(_script, name) if s is not None}
    if len(scripts) > 1:
        raise NameProblem(
            "user name mixes letters of several scripts "
            f"({', '.join(sorted(s.title() for s in scripts))}): it could pass for another name"
        )
    return name


def skeleton(name: str) -> str:
    """What a name looks like: case folded, cross-script lookalikes mapped to Latin."""
    return normal_form(name).casefold().translate(_LOOKALIKES)
