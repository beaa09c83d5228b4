"""Rating scales, and the one place where a side-relative choice becomes a score for model A.

Annotators rate "Response 1" (left) against "Response 2" (right). The store keeps every score
oriented to the comparison's model A, whatever side A was shown on, so that analysis never has to
know the order shown. Mixing the two orientations up is the classic bug of A/B tools; keeping the
conversion here, in two small functions, keeps it testable.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALE_POINTS = (7, 5, 3, 2)
SHOWN_ORDERS = ("AB", "BA")


@dataclass(frozen=True)
class Choice:
    """One button on the scale. ``value`` is positive when Response 1 (left) is preferred."""

    value: int
    label: str
    shortcut: str


_LABELS: dict[int, tuple[str, ...]] = {
    7: (
        "Response 1 much better",
        "Response 1 better",
        "Response 1 slightly better",
        "Tie",
        "Response 2 slightly better",
        "Response 2 better",
        "Response 2 much better",
    ),
    5: (
        "Response 1 much better",
        "Response 1 slightly better",
        "Tie",
        "Response 2 slightly better",
        "Response 2 much better",
    ),
    3: ("Response 1 better", "Tie", "Response 2 better"),
    2: ("Response 1 better", "Response 2 better"),
}


@dataclass(frozen=True)
class Scale:
    """A symmetric rating scale with ``points`` choices; odd scales have a tie in the middle."""

    points: int

    def __post_init__(self) -> None:
        if self.points not in SCALE_POINTS:
            raise ValueError(f"scale must be one of {SCALE_POINTS}, not {self.points!r}")

    @property
    def max_margin(self) -> int:
        """The largest score magnitude: 3 on the 7-point scale, 2 on 5, 1 on 3 and 2."""
        return max(1, self.points // 2)

    @property
    def has_tie(self) -> bool:
        return self.points % 2 == 1

    @property
    def values(self) -> tuple[int, ...]:
        """Allowed scores, from "Response 1 / A much better" down to "2 / B much better"."""
        m = self.max_margin
        if self.points == 2:
            return (1, -1)
        return tuple(range(m, -m - 1, -1))

    def choices(self) -> list[Choice]:
        """The buttons, left to right, with keyboard shortcuts 1..points."""
        return [
            Choice(value=v, label=label, shortcut=str(i + 1))
            for i, (v, label) in enumerate(zip(self.values, _LABELS[self.points], strict=True))
        ]

    def check(self, score: int) -> int:
        """Return ``score`` if it lies on this scale, else raise ``ValueError``."""
        if isinstance(score, bool) or int(score) != score or score not in self.values:
            raise ValueError(
                f"score {score!r} is not on the {self.points}-point scale {self.values}"
            )
        return int(score)


def orient(shown_value: int, shown_order: str) -> int:
    """Turn a choice about Response 1 vs 2 into a score for model A.

    ``shown_order`` is ``"AB"`` when model A was shown as Response 1 (left), ``"BA"`` otherwise.
    """
    if shown_order not in SHOWN_ORDERS:
        raise ValueError(f"shown_order must be 'AB' or 'BA', not {shown_order!r}")
    return shown_value if shown_order == "AB" else -shown_value


def unorient(score: int, shown_order: str) -> int:
    """The inverse of :func:`orient`: which button a score for model A corresponds to."""
    return orient(score, shown_order)


def outcome(score: int) -> str:
    """Win / tie / loss for model A: the sign of the score."""
    return "win" if score > 0 else "loss" if score < 0 else "tie"
