"""Share a training setup as a link, and name the models it makes.

A setup travels in a URL query string as a preset plus the fields that differ
from it, e.g. ``?preset=lecture&lr=0.1&hidden=128,64``. Reading a link never
fails: a value that cannot be used is reported in a warning that names the
field, and the preset's value is used instead.
"""

from __future__ import annotations

import re
from typing import Mapping

from core.models import PRESETS, TrainConfig, preset

PRESET_PARAMETER = "preset"
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
    "seed": "seed",
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_units(text: str, what: str = "units") -> tuple[int, ...]:
    """'256, 128' (commas, spaces or x between) -> (256, 128); '' -> ()."""
    text = str(text).strip()
    # Numbers with one separator between each two: "64,x" or "64,,128" is a typo, not (64,) or (64, 128).
    if text and not re.fullmatch(r"\d+(\s*(?:,|x|\s)\s*\d+)*", text):
        raise ValueError(f"{what}: {text!r} is not a list of whole numbers; write them like 256, 128")
    return tuple(int(part) for part in re.findall(r"\d+", text))


def format_units(units: tuple[int, ...], separator: str = ", ") -> str:
    """(256, 128) -> '256, 128'."""
    return separator.join(str(unit) for unit in units)


def to_query(preset_name: str, config: TrainConfig) -> dict[str, str]:
    """The query parameters of a link that opens ``config``: its preset and the fields that differ."""
    base = preset(preset_name)
    query = {PRESET_PARAMETER: preset_name}
    for name, field in QUERY_FIELDS.items():
        value = getattr(config, field)
        if value != getattr(base, field):
            query[name] = _format(value)
    return query


def from_query(params: Mapping[str, str]) -> tuple[str, TrainConfig, list[str]]:
    """(preset name, config, warnings) from a link's query parameters.

    Unknown parameters are ignored (the page may have others); a bad value
    gives a warning naming the parameter and keeps the preset's value.
    """
    warnings = []
    name = str(params.get(PRESET_PARAMETER, "lecture"))
    if name not in PRESETS:
        warnings.append(f"preset={name!r} in the link is not one of {', '.join(PRESETS)}; using lecture.")
        name = "lecture"
    config = preset(name)
    for url_name, field in QUERY_FIELDS.items():
        if url_name not in params:
            continue
        raw = str(params[url_name])
        try:
            config = config.replace(**{field: _parse(field, raw)})
        except ValueError as error:
            fallback = _format(getattr(config, field))
            warnings.append(f"{url_name}={raw!r} in the link: {error}. Using the preset's {fallback!r}.")
    return name, config, warnings


def default_model_name(config: TrainConfig) -> str:
    """A readable name for a trained model: the preset's name if it is one, else a summary.

    e.g. 'lecture', or 'mlp-128x64-relu-adam-3ep'; ModelStore.unique_name adds -2, -3... if taken.
    """
    for name in PRESETS:
        if preset(name) == config:
            return name
    units = config.hidden_units if config.architecture == "mlp" else config.conv_filters
    shape = format_units(units, "x") or "linear"
    return f"{config.architecture}-{shape}-{config.activation}-{config.optimizer}-{config.epochs}ep"


def _parse(field: str, raw: str):
    kind = type(getattr(TrainConfig(), field))
    if kind is tuple:
        return parse_units(raw, field)
    if kind is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{field} must be true or false")
        return raw.lower() in _TRUE
    if kind is int:
        if not raw.strip().isdigit():
            raise ValueError(f"{field} must be a whole number")
        return int(raw)
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
