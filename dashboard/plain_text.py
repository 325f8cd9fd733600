"""User text inside Streamlit's markdown, shown as typed: never a link, a picture, formatting or an icon.

Streamlit reads markdown in far more places than st.markdown: captions, alerts, toasts, progress and
spinner texts, metric labels and values, widget labels and help, expander and tab labels, table cells,
radio and segmented-control options. A student's name, a model or file name, a value from a shared link,
a saved data description or an error that quotes any of them goes through ``escape`` before it is put
into such a text, so ``[Click here](https://example.com)`` stays those characters and
``![p](http://127.0.0.1:9/track.png)`` makes the browser fetch nothing. Text shown with st.html is
HTML-escaped instead (html.escape), and st.dataframe and select-box options show plain text as it is.
Streamlit's typographic replacements (" -> " shown as an arrow) still apply: they change no meaning.
"""

from __future__ import annotations

import re

# Characters that start markdown wherever they stand in a line (CommonMark with GitHub's extensions, as
# Streamlit's renderer reads it): \ escapes; ` code; * and _ emphasis; ~ strikethrough; [ ] links and
# images; < > HTML and <...> links; & entities like &lt;; $ LaTeX; | tables; # headings. A backslash
# before any of them shows the character itself.
_MARKUP = re.compile(r"[\\`*_~\[\]<>&$|#]")
# At the start of a line, "- ", "+ " or "1. " make a list item and "---" a rule.
_LINE_START = re.compile(r"^([-+]|\d{1,9}[.)](?=\s|$))")
# Streamlit finds these in the text after markdown has taken its backslashes away, so no backslash stops
# them: web addresses (https://..., www....), e-mail addresses (a@b.c), icons (:material/name:), emoji and
# logo shortcodes (:smile:, :streamlit:) and directives (:red[...]). An invisible word joiner (U+2060) after
# the ":" or "@", or inside "www.", breaks each pattern and changes nothing a reader sees.
_PATTERN_START = re.compile(r"(?<=[:@])(?=\S)|(?i:(?<=www)(?=\.))")
WORD_JOINER = "\u2060"


def escape(text: object) -> str:
    """``text`` as markdown that Streamlit shows exactly as typed (line breaks become spaces).

    An underscore inside a word, as in ``tiny_mnist.npz``, is left as it is: CommonMark never reads it
    as emphasis, and the name stays searchable in the page's markdown.
    """
    text = " ".join(str(text).split())  # a new line could start a heading, a list or a code block
    text = _MARKUP.sub(_backslash, text)
    text = _LINE_START.sub(lambda match: f"{match[1][:-1]}\\{match[1][-1]}", text)
    return _PATTERN_START.sub(WORD_JOINER, text)


def _backslash(match: re.Match) -> str:
    """A backslash before the markup character matched, unless it is an underscore between two letters or digits."""
    character, text, at = match[0], match.string, match.start()
    if character == "_" and 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum():
        return character
    return "\\" + character
