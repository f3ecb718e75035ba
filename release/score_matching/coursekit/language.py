# GENERATED from reference_solution/coursekit/language.py by `python -m reference_solution release`; edit the original
"""The language of the support code's own texts: figure titles, legends, widget labels, hints.

English here, where every text is its own template. A language edition's copy of the support
package (``release/<assignment>_<lang>/coursekit/language.py``) is generated with ``LANGUAGE`` and
``TEXTS`` filled from ``translations/<lang>/coursekit.po`` (``reference_solution/course/release.py``),
so that the notebooks call the same code in every edition and see their own language.

Course support code: the standard library only.
"""

from __future__ import annotations

LANGUAGE = "en"
TEXTS: dict[str, str] = {}  # English template -> translated template


def tr(text: str, **fields) -> str:
    """``text``, an English ``str.format`` template, in the edition's language, filled with ``fields``."""
    template = TEXTS.get(text, text)
    return template.format(**fields) if fields else template
