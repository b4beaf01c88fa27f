"""Prompt styles from styles.csv (A1111's format: name,prompt,negative_prompt), applied by name."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptStyle:
    name: str
    prompt: str
    negative_prompt: str


def merge(style_text: str, prompt: str) -> str:
    """A style with `{prompt}` wraps the prompt; otherwise it is appended after a comma."""
    if "{prompt}" in style_text:
        return style_text.replace("{prompt}", prompt)
    if not style_text:
        return prompt
    return ", ".join(p for p in (prompt, style_text) if p)


class StyleDatabase:
    def __init__(self, paths: list[Path]):
        self.paths = [Path(p) for p in paths]
        self.styles: dict[str, PromptStyle] = {}

    def reload(self) -> None:
        styles: dict[str, PromptStyle] = {}
        for path in self.paths:
            if not path.is_file():
                continue
            try:
                with open(path, encoding="utf-8-sig", newline="") as f:
                    for row in csv.DictReader(f, skipinitialspace=True):
                        name = (row.get("name") or "").strip()
                        if name:
                            styles[name] = PromptStyle(name, row.get("prompt") or "", row.get("negative_prompt") or "")
            except (OSError, csv.Error) as e:
                logger.error("could not read styles from %s: %s", path, e)
        self.styles = styles

    def check(self, names: list[str]) -> list[str]:
        """Names that do not exist (the API answers 422 listing the valid ones)."""
        return [n for n in names if n not in self.styles]

    def apply(self, prompt: str, negative: str, names: list[str]) -> tuple[str, str]:
        for name in names:
            style = self.styles[name]
            prompt = merge(style.prompt, prompt)
            negative = merge(style.negative_prompt, negative)
        return prompt, negative

    # A1111's names, for extensions that apply styles to prompts of their own (unknown names skipped)
    def apply_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        for name in styles:
            if name in self.styles:
                prompt = merge(self.styles[name].prompt, prompt)
        return prompt

    def apply_negative_styles_to_prompt(self, prompt: str, styles: list[str]) -> str:
        for name in styles:
            if name in self.styles:
                prompt = merge(self.styles[name].negative_prompt, prompt)
        return prompt

    def api_list(self) -> list[dict]:
        return [{"name": s.name, "prompt": s.prompt, "negative_prompt": s.negative_prompt}
                for s in self.styles.values()]
