"""Whether a trained net may replace the shipped one: docs/training.md's pre-registered rules as pure functions of scores.

Scores are ``{photo name: (content, style)}`` at the photo's real size through the Stylizer
(rtstyle.bench.quality.evaluate with size 0), on :data:`PHOTOS`. Each rule's ``check`` returns the
reasons it fails, one line each; an empty list means the net passes.
"""
from __future__ import annotations

from dataclasses import dataclass

PHOTOS = ("landscape_picos_de_europa.jpg", "street_pedestrians.jpg", "animal_red_panda.jpg")   # in samples/

Scores = dict[str, tuple[float, float]]


def _missing(scores: Scores, photos) -> list[str]:
    return [f"{p}: not scored" for p in photos if p not in scores]


def _style_lower(new: Scores, shipped: Scores, cap: float, margin: float | None,
                 cap_at_shipped: bool = False) -> list[str]:
    """Style below the shipped net's on every photo, content at most ``cap`` (and at most the shipped
    net's + ``margin`` unless it is None). With ``cap_at_shipped``, a photo where the shipped net is
    already above ``cap`` is capped at the shipped net's content instead."""
    out = _missing(new, PHOTOS) + _missing(shipped, PHOTOS)
    for p in PHOTOS:
        if p not in new or p not in shipped:
            continue
        (c, s), (c0, s0) = new[p], shipped[p]
        if not s < s0:
            out.append(f"{p}: style {s:.4f} not below the shipped {s0:.4f}")
        if margin is not None and c > c0 + margin:
            out.append(f"{p}: content {c:.4f} above the shipped {c0:.4f} + {margin:g}")
        if cap_at_shipped and c0 > cap:
            if c > c0:
                out.append(f"{p}: content {c:.4f} above the shipped {c0:.4f} (the shipped net is over {cap:g})")
        elif c > cap:
            out.append(f"{p}: content {c:.4f} above {cap:g}")
    return out


@dataclass(frozen=True)
class Continuation:
    """More steps of the same recipe: style lower on every photo, content at most the shipped net's
    + ``margin`` and at most ``cap`` on each (session 18). With ``cap_at_shipped`` (session 22), where
    the shipped net is itself over ``cap`` on a photo, the candidate may not exceed the shipped net's
    content there: a net better in both losses is not refused for a cap its predecessor missed too."""
    margin: float = 0.01
    cap: float = 0.42
    cap_at_shipped: bool = False
    needs_shipped = True

    def check(self, new: Scores, shipped: Scores) -> list[str]:
        return _style_lower(new, shipped, self.cap, self.margin, self.cap_at_shipped)


@dataclass(frozen=True)
class Trade:
    """A deliberate trade of content for style (e.g. a higher style weight): style lower on every photo,
    content at most ``cap`` on each, whatever the shipped net's content was."""
    cap: float
    needs_shipped = True

    def check(self, new: Scores, shipped: Scores) -> list[str]:
        return _style_lower(new, shipped, self.cap, None)


@dataclass(frozen=True)
class Bar:
    """A fixed bar per photo: content at most ``content``, style strictly below ``style`` (the compact
    net's: Gatys-500's content, the multi net's style)."""
    limits: tuple[tuple[str, float, float], ...]   # (photo, content max, style bound)
    needs_shipped = False

    def check(self, new: Scores, shipped: Scores | None = None) -> list[str]:
        out = _missing(new, [p for p, _, _ in self.limits])
        for p, c_max, s_max in self.limits:
            if p not in new:
                continue
            c, s = new[p]
            if c > c_max:
                out.append(f"{p}: content {c:.4f} above the bar {c_max:g}")
            if not s < s_max:
                out.append(f"{p}: style {s:.4f} not below the bar {s_max:g}")
        return out
