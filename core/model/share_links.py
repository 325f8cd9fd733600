"""Share a training setup as a link: a preset plus the fields that differ from it.

A setup travels in a URL query string, e.g. ``?preset=lecture&lr=0.1&hidden=128,64``.
Reading a link never fails: a value that cannot be used, or lies outside the field's limits
(core.model.config.LIMITS, the Train form's ranges too), is reported in a warning that names the
field, and the preset's value is used instead.
"""

from __future__ import annotations

import reprlib
from typing import Mapping

from core.model.config import (
    LIMITS,
    MAX_UNITS_TEXT,
    PRESETS,
    TrainConfig,
    format_units,
    parse_units,
    preset,
    preset_name,
)

PRESET_PARAMETER = "preset"
SEED_PARAMETER = "seed"
# URL name -> TrainConfig field; short names keep shared links readable.
QUERY_FIELDS = {
    "arch": "architecture",
    "hidden": "hidden_units",
    "filters": "conv_filters",
    "activation": "activation",
    "dropout": "dropout",
    "batch_norm": "batch_norm",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "schedule": "lr_schedule",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "validation_split": "validation_split",
    "augment": "augment",
    SEED_PARAMETER: "seed",
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
# The longest value a link may give a field (the longest real one is a list of layer sizes, MAX_UNITS_TEXT): a
# longer one is refused unread. A link comes from anyone, and 50,000 characters of it held the server (issue 22).
MAX_VALUE_CHARACTERS = MAX_UNITS_TEXT
_shown = reprlib.Repr()  # a value as a warning quotes it: never more than 40 characters of it
_shown.maxstring = 40


def to_query(preset_name: str, config: TrainConfig) -> dict[str, str]:
    """The query parameters of a link that opens ``config``: its preset, the fields that differ, and its seed
    always (a new run's seed is drawn at random: core.model.config.random_seed), so the link repeats the run."""
    base = preset(preset_name)
    query = {PRESET_PARAMETER: preset_name}
    for name, field in QUERY_FIELDS.items():
        value = getattr(config, field)
        if value != getattr(base, field) or field == "seed":
            query[name] = _format(value)
    return query


def repeat_query(config: TrainConfig) -> dict[str, str]:
    """The query of a link that sets up ``config`` again, seed included: the run it trains repeats this one."""
    return to_query(preset_name(config) or "lecture", config)


def from_query(params: Mapping[str, str]) -> tuple[str, TrainConfig, list[str]]:
    """(preset name, config, warnings) from a link's query parameters.

    Unknown parameters are ignored (the page may have others); a bad value
    gives a warning naming the parameter and keeps the preset's value.
    """
    warnings = []
    name = str(params.get(PRESET_PARAMETER, "lecture"))
    if name not in PRESETS:
        warnings.append(f"preset={_shown.repr(name)} in the link is not one of {', '.join(PRESETS)}; using lecture.")
        name = "lecture"
    config = preset(name)
    for url_name, field in QUERY_FIELDS.items():
        if url_name not in params:
            continue
        raw = str(params[url_name])
        try:
            if len(raw) > MAX_VALUE_CHARACTERS:
                raise ValueError(f"{len(raw):,} characters, more than the {MAX_VALUE_CHARACTERS} any setting needs")
            config = config.replace(**{field: _parse(field, raw)})
        except ValueError as error:
            fallback = _format(getattr(config, field))
            warnings.append(f"{url_name}={_shown.repr(raw)} in the link: {error}. Using the preset's {fallback!r}.")
    return name, config, warnings


def _parse(field: str, raw: str):
    kind = type(getattr(TrainConfig(), field))
    if kind is tuple:
        return parse_units(raw, field)
    if kind is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{field} must be true or false")
        return raw.lower() in _TRUE
    if kind is int:
        if not raw.strip().isdecimal():
            raise ValueError(f"{field} must be a whole number")
        try:
            return int(raw)
        except ValueError:  # over 4,300 digits, which Python refuses to convert: far beyond the field's limits
            low, high = LIMITS[field]
            raise ValueError(f"{field} must be a whole number from {low} to {high:,}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{field} must be a number") from None
    return raw


def _format(value) -> str:
    if isinstance(value, tuple):
        return format_units(value, ",")
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
