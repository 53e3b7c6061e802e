"""The ``benchmark`` preset: every number that shapes a benchmark tree, in one place.

Published figures come first; each parameter's comment names its source (full citations in
docs/benchmark_data.md):

- [HONG] Hong et al. 2020, "CholecSeg8k: A Semantic Segmentation Dataset for Laparoscopic
  Cholecystectomy Based on Cholec80", arXiv:2012.12453 (8,080 frames, 17 Cholec80 videos,
  13 classes), and its dataset card (101 folders of 80 frames at 854x480),
  https://huggingface.co/datasets/minwoosun/CholecSeg8k; Cholec80 is recorded at 25 fps.
- [NINJA-B] per-class frame counts and mean area, dataset-ninja/cholec-seg8k
  stats/class_balance.json (commit 2fe40e6); [NINJA-S] min/max area per class,
  stats/class_sizes.json; [NINJA-C] class co-occurrence frame counts,
  stats/class_cooccurrence.json (all computed over the full 8,080-frame set).
- [ASSUMED] no published figure was found; the value is an assumption, stated with its reason.

The targets are what a generated tree is measured against (:mod:`.stats`); nothing here was
tuned toward any strategy's result, and no strategy was run to choose it.
"""

from __future__ import annotations

from dataclasses import dataclass

from alges_napari.core.data.synthetic.scene import CONNECTIVE, LIGAMENT

ORDINARY, DISSECTION, EXPLORATION = "ordinary", "dissection", "exploration"
KINDS = (ORDINARY, DISSECTION, EXPLORATION)


@dataclass(frozen=True)
class ClassTarget:
    """Published statistics of one CholecSeg8k class over its 8,080 frames.

    Attributes
    ----------
    frames : int
        Frames in which the class appears [NINJA-B "Images"].
    area_mean, area_min, area_max : float
        Share of the whole image the class covers in a frame where it appears, in percent:
        mean [NINJA-B "Area on image"], smallest and largest [NINJA-S].
    with_connective : int
        Frames in which it appears together with connective tissue [NINJA-C].
    with_ligament : int
        Frames in which it appears together with the liver ligament [NINJA-C].
    """

    frames: int
    area_mean: float
    area_min: float
    area_max: float
    with_connective: int
    with_ligament: int


CHOLECSEG8K_FRAMES = 8080  # [HONG] frames in the whole set

#: Index = CholecSeg8k class id (docs/method.md, "Data facts").
#: Every number: [NINJA-B], [NINJA-S], [NINJA-C].
CHOLECSEG8K_TARGETS: tuple[ClassTarget, ...] = (
    ClassTarget(8055, 26.58, 5.68, 41.88, 1587, 240),  # 0 black background
    ClassTarget(7255, 24.02, 0.04, 70.34, 1161, 240),  # 1 abdominal wall
    ClassTarget(8080, 21.27, 2.97, 64.90, 1600, 240),  # 2 liver
    ClassTarget(4558, 3.33, 0.00, 20.76, 693, 240),  # 3 gastrointestinal tract
    ClassTarget(7510, 15.84, 0.34, 41.69, 1280, 240),  # 4 fat
    ClassTarget(6020, 3.25, 0.05, 19.57, 1180, 0),  # 5 grasper
    ClassTarget(1600, 11.45, 2.89, 30.39, 1600, 0),  # 6 connective tissue
    ClassTarget(692, 4.93, 0.02, 11.32, 692, 0),  # 7 blood
    ClassTarget(248, 1.20, 0.00, 15.93, 241, 0),  # 8 cystic duct
    ClassTarget(2254, 4.70, 0.00, 16.10, 1351, 0),  # 9 L-hook electrocautery
    ClassTarget(6861, 7.57, 0.01, 26.99, 1296, 0),  # 10 gallbladder
    ClassTarget(317, 0.24, 0.01, 0.81, 317, 0),  # 11 hepatic vein
    ClassTarget(240, 14.10, 10.94, 17.84, 0, 240),  # 12 liver ligament
)


@dataclass(frozen=True)
class BenchmarkPreset:
    """Structure, targets and the stated assumptions of a benchmark tree.

    Published structure [HONG]: 17 videos, 101 clips of 80 consecutive frames at 25 fps
    (3.2 s, so neighbouring frames are near-duplicates), 854x480 frames. The command line
    chooses how many videos, clips and frames a tree has; these are the defaults.
    """

    name: str = "cholecseg8k"
    videos: int = 17  # [HONG] Cholec80 videos in CholecSeg8k
    clips: int = 101  # [HONG] dataset card: 101 folders
    frames_per_clip: int = 80  # [HONG] dataset card: 80 frames per folder
    fps: int = 25  # [HONG] Cholec80's frame rate (source in docs); a clip lasts 3.2 s
    size: tuple[int, int] = (480, 854)  # [HONG] 854x480 frames (H, W here)
    total_frames: int = CHOLECSEG8K_FRAMES  # [HONG]
    targets: tuple[ClassTarget, ...] = CHOLECSEG8K_TARGETS  # [NINJA-B, NINJA-S, NINJA-C]
    # [ASSUMED] How much a class's area varies between clips (log-normal sigma around the
    # published mean, clipped to the published min/max). No per-clip spread is published.
    area_spread: float = 0.35
    # [ASSUMED] How unevenly dissection clips, and each instrument, spread over videos: Gamma
    # shape of per-video weights (1 = exponential: a few videos hold most, so some videos
    # are "L-hook videos" and others "grasper videos"). Per-video counts were not found.
    video_concentration: float = 1.0
    # [ASSUMED] A rare structure (blood, cystic duct, hepatic vein) fills the eligible clips of
    # one video, up to this share of its clips, before another video gets it ("few videos");
    # exploration (ligament) clips open a video the same way. [NINJA-B] counts imply at least
    # ceil(frames / 80) clips each (ligament 3, duct 4, vein 4, blood 9 of 101), not which videos.
    rare_video_share: float = 0.5
    # [ASSUMED] Bleeding starts uniformly in the first 60 % of a clip and stays (blood does not
    # vanish within 3.2 s); onset times were not found.
    blood_onset_max: float = 0.6
    # [ASSUMED] The pool grows to its full size over 30 % of the clip.
    blood_ramp: float = 0.3
    # [ASSUMED] Smoke: 40 % of the clips where the L-hook (the electrocautery that makes smoke)
    # is active hold one haze episode; no smoke rate for CholecSeg8k was found.
    smoke_clip_rate: float = 0.4
    # [ASSUMED] A smoke episode lasts 30 % of its clip (about 1 s of 3.2 s).
    smoke_window: float = 0.3
    # [ASSUMED] Motion blur (a camera jerk) on 4 % of frames; no published rate was found.
    blur_frame_rate: float = 0.04
    # [ASSUMED] Blur comes in bursts of 2-5 frames (80-200 ms at 25 fps).
    blur_burst: tuple[int, int] = (2, 5)
    # [ASSUMED] 20 % of the clips with an instrument hold one close-up (tool near the lens).
    closeup_clip_rate: float = 0.2
    # [ASSUMED] A close-up lasts 15 % of its clip.
    closeup_window: float = 0.15
    # [ASSUMED] A tool near the lens looks 2.5x thicker.
    closeup_scale: float = 2.5
    # [ASSUMED] Camera pan within a 3.2 s clip [HONG]: +-4 % of the frame, so neighbouring
    # frames are near-duplicates, as in the real set.
    camera_pan: float = 0.04
    # [ASSUMED] Zoom within a clip: +-5 %.
    camera_zoom: float = 0.05
    # [ASSUMED] Roll within a clip: +-0.04 rad.
    camera_roll: float = 0.04

    def frame_fraction(self, cls: int) -> float:
        """Published share of frames in which class ``cls`` appears."""
        return self.targets[cls].frames / self.total_frames

    def pixel_fraction(self, cls: int) -> float:
        """Published share of all pixels that are class ``cls``: frames x mean area / all frames.

        Derived, not published as such: [NINJA-B] gives the mean area over frames where the
        class appears, so the share of all pixels is their product over the frame count.
        """
        t = self.targets[cls]
        return t.frames * t.area_mean / 100 / self.total_frames

    def kind_fraction(self, kind: str) -> float:
        """Share of frames of each clip kind: exploration = the liver ligament's frames,
        dissection = connective tissue's frames (they never co-occur [NINJA-C]), ordinary = rest."""
        lig = self.targets[LIGAMENT].frames / self.total_frames
        dis = self.targets[CONNECTIVE].frames / self.total_frames
        return {EXPLORATION: lig, DISSECTION: dis, ORDINARY: 1 - lig - dis}[kind]

    def presence(self, cls: int, kind: str) -> float:
        """Probability that class ``cls`` appears in a frame of a clip of ``kind``.

        Read off the co-occurrence table [NINJA-C]: a class's frames with connective tissue
        over connective tissue's frames (dissection), with the ligament over the ligament's
        frames (exploration), and its remaining frames over the remaining frames (ordinary).
        So, e.g., the L-hook is in 84 % of dissection frames but 14 % of ordinary ones, and no
        instrument or gallbladder is in an exploration frame.
        """
        t = self.targets[cls]
        n_dis = self.targets[CONNECTIVE].frames
        n_lig = self.targets[LIGAMENT].frames
        if kind == DISSECTION:
            return t.with_connective / n_dis
        if kind == EXPLORATION:
            return t.with_ligament / n_lig
        rest = t.frames - t.with_connective - t.with_ligament
        return max(rest, 0) / (self.total_frames - n_dis - n_lig)

    def blood_visible_share(self) -> float:
        """Expected share of a bleeding clip's frames that show blood (onset uniform in
        ``[0, blood_onset_max]``, then it stays)."""
        return 1 - self.blood_onset_max / 2


BENCHMARK = BenchmarkPreset()
PRESETS: dict[str, BenchmarkPreset] = {"benchmark": BENCHMARK}
