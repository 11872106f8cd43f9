"""The playbook: the sales process as data (stages, win probabilities, time limits)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml


class PlaybookError(Exception):
    """The playbook file is invalid; the message says where."""


@dataclass(frozen=True)
class StageRule:
    name: str
    probability: float
    max_days: int | None
    closed: bool = False
    won: bool = False


@dataclass(frozen=True)
class Playbook:
    stages: tuple[StageRule, ...]
    product_lines: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def stage(self, name: str) -> StageRule | None:
        """The stage rule for a CRM stage name or alias, matched without regard to case."""
        return self._index.get(name.strip().casefold())

    @property
    def _index(self) -> dict[str, StageRule]:
        # Built lazily and cached on the frozen instance.
        cached = self.__dict__.get("_stage_index")
        if cached is None:
            by_name = {stage.name: stage for stage in self.stages}
            cached = {stage.name.casefold(): stage for stage in self.stages}
            cached.update({alias.casefold(): by_name[target] for alias, target in self.aliases})
            object.__setattr__(self, "_stage_index", cached)
        return cached


def load_playbook(path: Path | None = None) -> Playbook:
    """Read a playbook YAML file, or the default one shipped with coachbot."""
    if path is None:
        text = resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")
        source = "default playbook"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PlaybookError(f"{path}: cannot read the playbook ({exc.strerror})") from None
        source = str(path)
    return parse_playbook(text, source)


def parse_playbook(text: str, source: str = "playbook") -> Playbook:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PlaybookError(f"{source}{where}: not valid YAML") from None
    if not isinstance(document, dict) or not isinstance(document.get("stages"), list):
        raise PlaybookError(f"{source}: expected a mapping with a list of `stages`")

    stages: list[StageRule] = []
    aliases: list[tuple[str, str]] = []
    for position, entry in enumerate(document["stages"], start=1):
        where = f"{source}: stage {position}"
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            raise PlaybookError(f"{where}: needs a `name`")
        name = str(entry["name"]).strip()
        probability = entry.get("probability")
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise PlaybookError(f"{where} ({name}): `probability` must be a number from 0 to 1")
        max_days = entry.get("max_days")
        if max_days is not None and (not isinstance(max_days, int) or max_days < 1):
            raise PlaybookError(f"{where} ({name}): `max_days` must be a whole number of days, 1 or more")
        flags = {flag: entry.get(flag, False) for flag in ("closed", "won")}
        for flag, value in flags.items():
            if not isinstance(value, bool):
                raise PlaybookError(f"{where} ({name}): `{flag}` must be true or false, not {value!r}")
        stage_aliases = entry.get("aliases") or []
        if not isinstance(stage_aliases, list):
            raise PlaybookError(f"{where} ({name}): `aliases` must be a list, like [closedwon, Won]")
        stages.append(StageRule(name=name, probability=float(probability), max_days=max_days, **flags))
        aliases.extend((str(alias), name) for alias in stage_aliases)

    lines = tuple(str(line) for line in document.get("product_lines") or ())
    return Playbook(stages=tuple(stages), product_lines=lines, aliases=tuple(aliases))
