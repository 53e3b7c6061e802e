"""Plan a benchmark tree before a pixel is drawn: videos, clips, what each clip shows, events.

The plan fixes the structure the preset (:mod:`.preset`) asks for:

- **Videos** differ in anatomy orientation, gallbladder and ligament placement, field of view,
  trocar ports and lighting (:class:`VideoSpec`); every clip of a video shares them.
- **Clip kinds** follow the published co-occurrence table: *exploration* clips show the liver
  ligament and no instrument or gallbladder, *dissection* clips show connective tissue (and
  only they show blood and the hepatic vein), the rest are *ordinary*. Exploration clips
  open a video; dissection clips gather in the videos drawn with more weight.
- **Presence** of each class per clip kind is a quota of the kind's clips (stochastically
  rounded), so a small tree already holds close to the published frame shares; rare
  structures fill one video's eligible clips before the next video gets any ("few videos").
- **Areas**: each present class gets a target share of the frame drawn around its published
  mean; **events** (bleeding onset, smoke, motion blur, instrument close-up) get frame windows.

Everything follows from ``(seed, n_videos, clips_per_video, n_frames)``; planning is cheap,
so tests check the structure of large trees without rendering them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from alges_napari.core.data.synthetic.preset import (
    BENCHMARK,
    DISSECTION,
    EXPLORATION,
    KINDS,
    ORDINARY,
    BenchmarkPreset,
)
from alges_napari.core.data.synthetic.scene import (
    BACKGROUND,
    BLOOD,
    CONNECTIVE,
    CYSTIC_DUCT,
    FAT,
    GALLBLADDER,
    GI_TRACT,
    GRASPER,
    HEPATIC_VEIN,
    L_HOOK,
    LIGAMENT,
    LIVER,
    WALL,
)

QUOTA_CLASSES = (WALL, GI_TRACT, FAT, GALLBLADDER)  # anatomy drawn by quota per clip kind
INSTRUMENTS = (GRASPER, L_HOOK)  # drawn by quota, weighted by video
MIN_AREA = 2e-4  # a present class covers at least this share of the frame (a few pixels)


@dataclass(frozen=True)
class VideoSpec:
    """What every clip of one video shares (one patient, one endoscope, one port placement)."""

    index: int
    background: float  # share of the frame outside the circular field of view
    fov_offset: tuple[float, float]  # field-of-view centre offset, fraction of (H, W)
    angle: float  # anatomy rotation, radians
    mirror: bool  # liver on the other side
    gallbladder_u: float  # across-position of the gallbladder, frame heights from the centre
    gallbladder_tilt: float  # its long axis, radians
    ligament_u: float  # across-position of the liver ligament
    ligament_slope: float
    zoom: float  # how close the scope works
    ports: tuple[float, float]  # trocar directions of the grasper and the L-hook, radians
    warmth: float  # lighting: colour temperature -1..1
    green: float  # lighting: green gain offset
    brightness: float
    falloff: float  # light fall-off towards the rim
    sensor_noise: float  # standard deviation of sensor noise, grey levels


@dataclass(frozen=True)
class ClipSpec:
    """What one clip shows and when its events happen (frame indices within the clip)."""

    video: int
    index: int
    kind: str
    n_frames: int
    areas: dict[int, float] = field(default_factory=dict)  # class -> target share of the frame
    blood_onset: int | None = None
    smoke: tuple[int, int] | None = None
    closeup: tuple[int, int] | None = None
    blur: tuple[int, ...] = ()

    @property
    def present(self) -> frozenset[int]:
        """Classes the clip is planned to show."""
        return frozenset(self.areas)

    def hard_frames(self) -> dict[str, list[int]]:
        """Frame indices of each kind of hard frame in this clip."""
        window = {k: range(*w) if w else range(0) for k, w in (("smoke", self.smoke),
                                                                ("closeup", self.closeup))}
        return {"smoke": list(window["smoke"]), "blur": list(self.blur),
                "closeup": list(window["closeup"])}


@dataclass(frozen=True)
class BenchmarkPlan:
    """The videos and clips of a benchmark tree; ``clips[v][c]`` is clip ``c`` of video ``v``."""

    videos: tuple[VideoSpec, ...]
    clips: tuple[tuple[ClipSpec, ...], ...]
    seed: int
    preset: BenchmarkPreset

    def all_clips(self) -> list[ClipSpec]:
        """Every clip, video by video."""
        return [c for row in self.clips for c in row]


def _sround(x: float, rng: np.random.Generator) -> int:
    """Stochastic rounding: unbiased, so expected counts equal the published shares."""
    low = int(np.floor(x))
    return low + int(rng.random() < x - low)


def _area(rng: np.random.Generator, preset: BenchmarkPreset, cls: int,
          z: float | None = None) -> float:
    """A class's share of the frame in one clip: log-normal around the published mean,
    clipped to the published range; ``z`` replaces the normal draw when given."""
    t = preset.targets[cls]
    s = preset.area_spread
    z = rng.standard_normal() if z is None else z
    share = t.area_mean / 100 * np.exp(s * z - s * s / 2)
    return float(np.clip(share, max(t.area_min / 100, MIN_AREA), t.area_max / 100))


def plan_video(index: int, seed: int, preset: BenchmarkPreset = BENCHMARK,
               background_z: float | None = None) -> VideoSpec:
    """Draw one video's shared parameters; they depend on ``(seed, index)`` and, when given,
    the normal deviate ``background_z`` that sets its field of view."""
    rng = np.random.default_rng([seed, 1, index])
    grasper_port = rng.uniform(0, 2 * np.pi)
    return VideoSpec(
        index=index,
        background=_area(rng, preset, BACKGROUND, background_z),
        fov_offset=(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02)),
        angle=float(rng.uniform(-0.35, 0.35)),
        mirror=bool(rng.random() < 0.5),
        gallbladder_u=float(rng.uniform(-0.25, 0.25)),
        gallbladder_tilt=float(rng.uniform(-0.5, 0.5)),
        ligament_u=float(rng.uniform(-0.3, 0.3)),
        ligament_slope=float(rng.uniform(-0.5, 0.5)),
        zoom=float(rng.uniform(0.95, 1.1)),
        ports=(float(grasper_port), float(grasper_port + rng.uniform(0.6 * np.pi, 1.4 * np.pi))),
        warmth=float(rng.uniform(-1, 1)),
        green=float(rng.uniform(-0.04, 0.04)),
        brightness=float(rng.uniform(0.7, 1.15)),
        falloff=float(rng.uniform(0.3, 0.6)),
        sensor_noise=float(rng.uniform(0.8, 2.0)),
    )


def _assign_kinds(rng, n_videos: int, n_clips: int, preset: BenchmarkPreset) -> list[list[str]]:
    """Exploration clips open a few videos; dissection clips gather in heavily weighted videos."""
    kinds = [[ORDINARY] * n_clips for _ in range(n_videos)]
    total = n_videos * n_clips
    cap = max(1, int(preset.rare_video_share * n_clips))
    left = _sround(total * preset.kind_fraction(EXPLORATION), rng)
    for v in rng.permutation(n_videos):
        take = min(cap, left)
        kinds[v][:take] = [EXPLORATION] * take
        left -= take
    free = [(v, c) for v in range(n_videos) for c in range(n_clips) if kinds[v][c] == ORDINARY]
    weights = rng.gamma(preset.video_concentration, size=n_videos)
    n_dis = min(_sround(total * preset.kind_fraction(DISSECTION), rng), len(free))
    if n_dis:
        p = np.array([weights[v] for v, _ in free])
        for i in rng.choice(len(free), size=n_dis, replace=False, p=p / p.sum()):
            v, c = free[i]
            kinds[v][c] = DISSECTION
    return kinds


def _fill_by_video(rng, eligible: list[tuple[int, int]], n: int, cap: int) -> list[tuple[int, int]]:
    """Take ``n`` of the eligible clips, filling one video (up to ``cap`` clips) before the
    next, videos in random order; a second pass lifts the cap if the quota is not met."""
    order = {v: r for r, v in enumerate(rng.permutation(max((v for v, _ in eligible),
                                                              default=0) + 1))}
    ranked = sorted(eligible, key=lambda vc: (order[vc[0]], vc[1]))
    taken: list[tuple[int, int]] = []
    per_video: dict[int, int] = {}
    for vc in ranked:
        if len(taken) < n and per_video.get(vc[0], 0) < cap:
            taken.append(vc)
            per_video[vc[0]] = per_video.get(vc[0], 0) + 1
    taken += [vc for vc in ranked if vc not in taken][: max(n - len(taken), 0)]
    return taken


def _presence(rng, kinds: list[list[str]], preset: BenchmarkPreset) -> dict[tuple[int, int], set]:
    """Which classes each clip shows: rare structures by video first, then per-kind quotas
    that count the instruments and organs the rare structures already brought along."""
    n_videos, n_clips = len(kinds), len(kinds[0])
    clips = [(v, c) for v in range(n_videos) for c in range(n_clips)]
    shows = {vc: {BACKGROUND, LIVER} for vc in clips}
    by_kind = {k: [vc for vc in clips if kinds[vc[0]][vc[1]] == k] for k in KINDS}
    for vc in by_kind[DISSECTION]:
        shows[vc].add(CONNECTIVE)
    for vc in by_kind[EXPLORATION]:
        shows[vc].add(LIGAMENT)
    _rare(rng, by_kind[DISSECTION], shows, preset, cap=max(1, int(preset.rare_video_share
                                                                   * n_clips)))
    tool_weight = {cls: rng.gamma(preset.video_concentration, size=n_videos) for cls in
                   INSTRUMENTS}  # which instruments a video uses more: "grasper vs L-hook"
    for kind, members in by_kind.items():
        for cls in QUOTA_CLASSES + INSTRUMENTS:
            n = min(_sround(len(members) * preset.presence(cls, kind), rng), len(members))
            rest = [vc for vc in members if cls not in shows[vc]]
            n = min(n - (len(members) - len(rest)), len(rest))
            if n <= 0:
                continue
            p = np.array([tool_weight[cls][v] if cls in INSTRUMENTS else 1.0 for v, _ in rest])
            for i in rng.choice(len(rest), size=n, replace=False, p=p / p.sum()):
                shows[rest[i]].add(cls)
    return shows


def _rare(rng, dis: list[tuple[int, int]], shows: dict, preset: BenchmarkPreset, cap: int) -> None:
    """Blood, hepatic vein and cystic duct: quotas of the dissection clips, filled by video."""
    n_blood = round_quota(rng, len(dis), preset.presence(BLOOD, DISSECTION)
                          / preset.blood_visible_share())
    for vc in _fill_by_video(rng, dis, n_blood, cap):
        shows[vc].add(BLOOD)
    dry = [vc for vc in dis if BLOOD not in shows[vc]]  # vein and blood never meet [NINJA-C]
    n_vein = min(round_quota(rng, len(dis), preset.presence(HEPATIC_VEIN, DISSECTION)), len(dry))
    for vc in _fill_by_video(rng, dry, n_vein, cap):
        shows[vc] |= {HEPATIC_VEIN, GRASPER}  # the vein is always seen beside a grasper
    bloody = [vc for vc in dis if BLOOD in shows[vc]]  # 239 of 248 duct frames bleed [NINJA-C]
    n_duct = round_quota(rng, len(dis), preset.presence(CYSTIC_DUCT, DISSECTION))
    duct = _fill_by_video(rng, bloody, n_duct, cap)
    duct += _fill_by_video(rng, [vc for vc in dis if vc not in duct], n_duct - len(duct), cap)
    for vc in duct:
        shows[vc] |= {CYSTIC_DUCT, GALLBLADDER, GRASPER, FAT}  # always together [NINJA-C]


def round_quota(rng: np.random.Generator, n: int, share: float) -> int:
    """How many of ``n`` clips get a class of this ``share``, stochastically rounded, at most n."""
    return min(_sround(n * min(share, 1.0), rng), n)


def _window(rng, n_frames: int, share: float) -> tuple[int, int]:
    length = max(1, round(share * n_frames))
    start = int(rng.integers(0, n_frames - length + 1))
    return start, start + length


def _events(rng, shows: set, n_frames: int, preset: BenchmarkPreset) -> dict:
    """Bleeding onset, smoke, close-up windows and blur bursts of one clip."""
    out: dict = {}
    if BLOOD in shows:
        out["blood_onset"] = int(rng.uniform(0, preset.blood_onset_max) * n_frames)
    if L_HOOK in shows and rng.random() < preset.smoke_clip_rate:
        out["smoke"] = _window(rng, n_frames, preset.smoke_window)
    if shows & set(INSTRUMENTS) and rng.random() < preset.closeup_clip_rate:
        out["closeup"] = _window(rng, n_frames, preset.closeup_window)
    lo, hi = preset.blur_burst
    bursts = rng.poisson(preset.blur_frame_rate * n_frames / ((lo + hi) / 2))
    blur: set[int] = set()
    for _ in range(bursts):
        start = int(rng.integers(0, n_frames))
        blur.update(range(start, min(start + int(rng.integers(lo, hi + 1)), n_frames)))
    out["blur"] = tuple(sorted(blur))
    return out


def plan_benchmark(
    n_videos: int,
    clips_per_video: int,
    n_frames: int,
    seed: int = 0,
    preset: BenchmarkPreset = BENCHMARK,
) -> BenchmarkPlan:
    """Plan a benchmark tree: videos, clip kinds, per-clip classes, areas and events.

    Parameters
    ----------
    n_videos, clips_per_video, n_frames : int
        Tree shape (each >= 1).
    seed : int
        Seed of the plan; the same arguments give the same plan.
    preset : BenchmarkPreset
        Targets and assumptions (:data:`~.preset.BENCHMARK`).

    Returns
    -------
    BenchmarkPlan
    """
    rng = np.random.default_rng([seed, 0, n_videos, clips_per_video])
    kinds = _assign_kinds(rng, n_videos, clips_per_video, preset)
    shows = _presence(rng, kinds, preset)
    # One stratum of the normal per video, in random order: the background spans the whole
    # frame and every band shares what it leaves, so a tree of few videos must not drift off
    # the published mean by chance (plain draws: +-2 points for 17 videos).
    strata = (rng.permutation(n_videos) + rng.random(n_videos)) / n_videos
    videos = tuple(plan_video(v, seed, preset, NormalDist().inv_cdf(float(strata[v])))
                   for v in range(n_videos))
    rows = []
    for v in range(n_videos):
        row = []
        for c in range(clips_per_video):
            crng = np.random.default_rng([seed, 2, v, c])
            present = shows[(v, c)]
            areas = {cls: _area(crng, preset, cls) for cls in sorted(present - {BACKGROUND})}
            areas[BACKGROUND] = videos[v].background
            row.append(ClipSpec(v, c, kinds[v][c], n_frames, dict(sorted(areas.items())),
                                **_events(crng, present, n_frames, preset)))
        rows.append(tuple(row))
    return BenchmarkPlan(videos, tuple(rows), seed, preset)
