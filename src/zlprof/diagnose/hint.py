"""The hint every bottleneck rule returns, and the "not enough data" hint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")
RULES = ("tail", "kv_growth", "prefill", "batch_scaling", "time_share", "roofline")


@dataclass
class Hint:
    """One diagnosis: what, how sure (numbers), and what to do about it."""

    rule: str
    severity: str  # "info" | "warning" | "critical"
    title: str
    evidence: str
    suggestion: str
    op: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "op": self.op,
            "data": self.data,
        }

    def text(self) -> str:
        return f"[{self.severity}] {self.title}\n  {self.evidence}\n  -> {self.suggestion}"


def not_enough(
    rule: str,
    what: str,
    need: str,
    suggestion: str = "Let the session run longer, then look again.",
) -> Hint:
    return Hint(
        rule,
        "info",
        f"{what}: not enough data",
        f"not enough data: {need}",
        suggestion,
        data={"not_enough_data": True},
    )

