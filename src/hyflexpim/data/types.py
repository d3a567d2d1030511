"""The two shapes of data the rest of hyflexpim consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("train", "validation", "test")


@dataclass
class ClassificationData:
    """Texts with integer labels 0..num_labels-1; `label_names[i]` names label i."""

    train: list[str]
    train_labels: list[int]
    validation: list[str]
    validation_labels: list[int]
    test: list[str]
    test_labels: list[int]
    label_names: list[str]
    name: str
    notes: list[str] = field(default_factory=list)  # what loading did that the user should know (dropped rows)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def split(self, which: str) -> tuple[list[str], list[int]]:
        """(texts, labels) of "train", "validation" or "test"."""
        return getattr(self, which), getattr(self, f"{which}_labels")

    def sizes(self) -> dict[str, int]:
        return {which: len(getattr(self, which)) for which in SPLITS}


@dataclass
class LMData:
    """Plain text for causal language modelling, one string per split."""

    train: str
    validation: str
    test: str
    name: str

    def split(self, which: str) -> str:
        return getattr(self, which)

    def sizes(self) -> dict[str, int]:
        """Words (whitespace-separated) per split."""
        return {which: len(getattr(self, which).split()) for which in SPLITS}
