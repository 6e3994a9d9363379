"""Motion detection on a camera's luma plane with numpy only: boxes around what moves.

The algorithm keeps the shape of Frigate's motion detector (downscale, contrast-
normalised threshold, blur, running-average background, recalibration on a
global change) and changes the steps that cost time or box quality:

1. Downscale by nearest sampling to `frame_height` rows with one precomputed
   gather (`take`), one pixel of border replicated on every side so that the
   blur needs no edge handling.
2. Blur with the 3x3 binomial kernel [1 2 1]^T [1 2 1] / 16, summed in int16
   on the flattened picture. It reduces noise as much as Frigate's Gaussian
   (sigma 1, radius 1) to within a few percent, but is exact in integers: six
   contiguous integer adds instead of a float filter. The result stays at 16x.
3. Threshold: Frigate stretches every frame between its 4th and 96th
   percentiles (averaged over 50 frames) and then thresholds at 30. A stretch
   is linear, so thresholding the stretched difference at 30 is thresholding
   the raw difference at 30 * (p96 - p4) / 255: we scale one number instead of
   every pixel. The percentiles come from a histogram of a ninth of the
   working pixels every fifth frame (10 samples span the same 50 frames). On a
   dark, grainy picture that stretch turns sensor noise into motion, so the
   threshold never goes below `NOISE_SIGMAS` times the noise, estimated from
   the median frame-to-frame difference.
4. Background: a running average (float32, with an int16 copy for fast
   differencing), alpha 0.2 per frame while calibrating, and after that a
   rate per second: a time constant of 20 s, which is Frigate's 0.01 per
   frame at 5 fps (updated every other frame: half the work). Frames do not
   come at a steady rate (one per keyframe, every 1 to 10 s, while an
   adaptive camera is idle; `detect.fps` while something moves), so every
   window below is in seconds of the frames' own times (`detect_at`; `detect`
   assumes 5 fps). Unlike Frigate, pixels that differ from it are held out of
   the update. Frigate blends in the whole frame, moving
   object included, so a slow object leaves a trail of itself that shows up as
   motion behind it and stretches its box; here it never enters the background.
5. Moving, not merely different: a pixel is reported when it differs from the
   background AND it changed between frames (against the frame `STEP_FRAMES`
   earlier, so slow edges add up) within the last `ACTIVITY_SECONDS`. A
   ghost (something present during calibration that has left), a lamp
   switched on, a car that parks: they differ from the background but stop
   changing, so they stop being reported. Once a pixel has differed without
   changing for `ABSORB_SECONDS` it is blended in (a 4 s time constant)
   rather than lingering for the minute the background's rate needs. The wait is long because
   the plain interior of a slow object also differs without changing, and
   blending that in would bring the trail back.
6. Lighting (IR cut filter, a cloud, lights on): when more than 80% of the
   frame differs (Frigate's rule), or more than a quarter does and one gain
   and offset for the whole picture explain most of it, the background is
   replaced by the current frame and nothing is reported. A change of
   lighting costs that one frame, not a storm of boxes while an average
   catches up; an object, which no global gain explains, is still reported.
7. Boxes: 8-connected components of the moving pixels, from runs in each row
   (vectorised, with gaps of up to `MERGE_GAP` pixels closed) joined by a
   union-find over touching runs of adjacent rows (Python loops only over
   those pairs, a few dozen on a frame with motion). Boxes that overlap or
   nearly touch are merged, so a textured object that breaks into pieces
   still gives one box. A box needs `min_area` moving pixels. Extents come
   from the undilated mask, mapped back to the input frame's pixels.

When nothing differs from the background (the common case) a frame costs
about twenty numpy calls on ~18k pixels; labelling runs only on frames with
motion.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in the input frame's pixels; x1 and y1 are exclusive."""

Gray = npt.NDArray[np.uint8]
BoolMask = npt.NDArray[np.bool_]
_Int16 = npt.NDArray[np.int16]
_Float32 = npt.NDArray[np.float32]

ALPHA_CALIBRATING = 0.2
BACKGROUND_SECONDS = 20.0
"""Time constant of the calibrated background: alpha 0.01 per frame at 5 fps, as Frigate."""
UPDATE_EVERY = 2
"""Once calibrated, the background is updated every other frame, with the time since the
last update: the same time constant for half the work."""
STATIC_SECONDS = 4.0
"""Time constant for pixels that have differed without changing for `ABSORB_SECONDS`."""
NOMINAL_INTERVAL = 0.2
"""Seconds between frames given to `detect` without a time (5 fps)."""
MAX_INTERVAL = 10.0
"""A longer gap between frames (a stream outage) counts as this long."""
CALIBRATION_FRAMES = 8
"""Frames of fast averaging after a (re)start: the first frame's noise averages out."""
CALIBRATED_FRACTION = 0.05
"""Calibration ends once at most this share of the frame differs from the background."""
LIGHTNING_FRACTION = 0.8
"""More than this share of the frame changed: lighting (Frigate's rule)."""
LIGHTING_CHECK_FRACTION = 0.25
"""More than this share changed at once: test whether a change of lighting explains it..."""
LIGHTING_UNEXPLAINED = 0.3
"""...which it does when a global gain and offset leave less than this share unexplained."""
STEP_FRAMES = 2
ACTIVITY_SECONDS = 5.0
"""A pixel counts as moving for this long after it last changed."""
ABSORB_SECONDS = 20.0
"""A pixel that differs without changing for this long becomes background."""
MERGE_GAP = 3
"""Pieces this close (working pixels) are one object..."""
MERGE_FRACTION = 0.2
"""...and so are boxes within a fifth of the larger one's size of each other."""
CONTRAST_HISTORY = 10
CONTRAST_EVERY = 5
MIN_CONTRAST = 32
"""Floor of p96 - p4, in grey levels."""
NOISE_SIGMAS = 5
"""The threshold never goes below this many standard deviations of the sensor noise."""
_BLUR_SCALE = 16
_NEVER = -1e18


def _sample_positions(source: int, target: int) -> npt.NDArray[np.intp]:
    """Nearest source index of each of `target` evenly spaced pixel centres."""
    centres = (np.arange(target) + 0.5) * (source / target)
    return np.minimum(centres.astype(np.intp), source - 1)


class MotionDetector:
    """Finds moving regions in the successive luma frames of one camera.

    Feed the frames of a camera to `detect_at` with their capture times (or to
    `detect`, which assumes 5 fps), in order; it returns one box per moving
    object, in the frame's own pixels. The first frames calibrate the
    background (`calibrating`); so does a sudden change of lighting.

    `threshold` is Frigate's: the change of grey level, on a picture stretched
    to full contrast, that counts as motion. `min_area` is the number of moving
    pixels, at the working scale of `frame_height` rows, a box needs. `mask`
    (True = ignore; any size, it is resized to the working size; see
    `hub.polygon_mask`) hides regions such as a clock overlay or a tree.
    """

    def __init__(
        self,
        threshold: int = 30,
        min_area: int = 10,
        frame_height: int = 100,
        mask: npt.NDArray[np.bool_] | None = None,
    ):
        if not 1 <= threshold <= 255:
            raise ValueError(f"threshold must be within 1..255, got {threshold}")
        if min_area < 0:
            raise ValueError(f"min_area must not be negative, got {min_area}")
        if frame_height < 3:
            raise ValueError(f"frame_height must be at least 3, got {frame_height}")
        if mask is not None and (mask.ndim != 2 or mask.size == 0):
            raise ValueError(f"mask must be a non-empty 2-D array, got shape {mask.shape}")
        self.threshold = threshold
        self.min_area = min_area
        self._frame_height = frame_height
        self._mask = None if mask is None else np.asarray(mask, dtype=bool)
        self._input_shape: tuple[int, int] | None = None
        self._calibrating = True
        self._last_time: float | None = None
        self._clock = 0.0
        """Seconds of frames seen, counted forward only (see `detect_at`)."""

    @property
    def frame_height(self) -> int:
        """Rows of the working picture (fixed for the detector's life)."""
        return self._frame_height

    @property
    def calibrating(self) -> bool:
        """True while the background is learnt: at start, after `reset` or a change of lighting."""
        return self._calibrating

    def reset(self) -> None:
        """Forget the background; the next frame starts a new calibration."""
        self._input_shape = None
        self._calibrating = True

    def detect(self, gray: Gray) -> list[Box]:
        """Boxes around the moving objects of this frame, in its own pixels (frames at 5 fps)."""
        last = self._last_time if self._last_time is not None else 0.0
        return self.detect_at(gray, last + NOMINAL_INTERVAL)

    def detect_at(self, gray: Gray, time: float) -> list[Box]:
        """Boxes around the moving objects of this frame, captured at `time` (seconds)."""
        if gray.ndim != 2 or gray.size == 0 or gray.dtype != np.uint8:
            raise ValueError(f"expected a 2-D uint8 luma plane, got {gray.dtype} {gray.shape}")
        # The detector's own clock only goes forward: a frame older than the last (replayed
        # when an idle camera wakes up) is new to the model, and comes right after it.
        elapsed = 0.0 if self._last_time is None else time - self._last_time
        self._last_time = time
        self._clock += min(max(elapsed, 0.0), MAX_INTERVAL)
        if gray.shape != self._input_shape:
            self._start(gray)  # first frame, or the camera changed resolution
            return []
        self._frame += 1
        frame = self._frame
        clock = self._clock
        small = self._downscale(gray)
        history = self._history  # newest first; the oldest buffer is reused
        blurred = history.pop()
        self._blur(small, out=blurred)
        before = history[-1]
        history.insert(0, blurred)
        if frame % CONTRAST_EVERY == 0:
            self._sample_contrast(small)
        threshold = max(int(self.threshold * self._spread_scale), self._noise_floor)

        diff = np.subtract(blurred, self._background16, out=self._diff)
        changed = np.greater(np.abs(diff, out=self._absdiff), threshold, out=self._changed)
        if self._keep is not None:
            changed &= self._keep
        changed_count = int(np.count_nonzero(changed))
        if self._is_lighting_change(blurred, changed_count, threshold):
            self._recalibrate(small, blurred)
            return []

        step = np.abs(np.subtract(blurred, before, out=self._step), out=self._step)
        active = np.greater(step, threshold, out=self._active)
        np.copyto(self._last_active, clock, where=active)  # sparse: cheaper than putmask
        if frame % CONTRAST_EVERY == 1:
            self._sample_noise(step)
        moving: BoolMask | None = None
        if changed_count:  # nothing moves where nothing differs: skip the rest
            recent = np.greater(self._last_active, clock - ACTIVITY_SECONDS, out=self._recent)
            moving = np.logical_and(changed, recent, out=self._moving)
        self._update_background(diff, changed, changed_count, moving)
        if self._calibrating and frame >= CALIBRATION_FRAMES:
            self._calibrating = changed_count > CALIBRATED_FRACTION * self._pixels
        if moving is None or not moving.any():
            return []
        return self._boxes(moving)

    # -- set-up -------------------------------------------------------------

    def _start(self, gray: Gray) -> None:
        """Build the working geometry and buffers for frames of this size, then calibrate."""
        in_h, in_w = gray.shape
        self._input_shape = (in_h, in_w)
        h = min(self._frame_height, in_h)
        w = max(1, min(in_w, round(in_w * h / in_h)))
        self._scale_x = in_w / w
        self._scale_y = in_h / h
        # One pixel of replicated border on each side: the 3x3 blur then reads
        # only real pixels and returns exactly h x w.
        rows = _sample_positions(in_h, h)
        cols = _sample_positions(in_w, w)
        self._rows = np.concatenate([rows[:1], rows, rows[-1:]])
        self._cols = np.concatenate([cols[:1], cols, cols[-1:]])
        self._index = (self._rows[:, None] * in_w + self._cols[None, :]).ravel()
        self._small = np.empty((h + 2, w + 2), dtype=np.uint8)
        self._stride = w + 2
        self._wide = np.empty((h + 2) * (w + 2), dtype=np.int16)
        self._vertical = np.empty(h * (w + 2), dtype=np.int16)
        self._both = np.empty(h * (w + 2), dtype=np.int16)
        self._both_picture = self._both.reshape(h, w + 2)[:, :w]
        self._history = [np.empty((h, w), dtype=np.int16) for _ in range(STEP_FRAMES + 1)]
        self._diff = np.empty((h, w), dtype=np.int16)
        self._absdiff = np.empty((h, w), dtype=np.int16)
        self._step = np.empty((h, w), dtype=np.int16)
        self._update = np.empty((h, w), dtype=np.float32)
        self._changed = np.empty((h, w), dtype=bool)
        self._active = np.empty((h, w), dtype=bool)
        self._recent = np.empty((h, w), dtype=bool)
        self._moving = np.empty((h, w), dtype=bool)
        self._still = np.empty((h, w), dtype=bool)
        self._stale = np.empty((h, w), dtype=bool)
        self._held = np.zeros((h, w), dtype=np.float32)
        self._last_active = np.empty((h, w), dtype=np.float64)
        self._labeller = _Labeller(h, w, MERGE_GAP)
        self._keep: BoolMask | None = None
        if self._mask is not None:
            mh, mw = self._mask.shape
            ignore = self._mask[np.ix_(_sample_positions(mh, h), _sample_positions(mw, w))]
            self._keep = ~ignore
        self._pixels = int(np.count_nonzero(self._keep)) if self._keep is not None else h * w
        self._noise_floor = 0  # until the first estimate: none on a new geometry
        self._held_any = False
        small = self._downscale(gray)
        self._blur(small, out=self._history[0])
        self._recalibrate(small, self._history[0])

    def _recalibrate(self, small: Gray, blurred: _Int16) -> None:
        """Take this frame as the background and start learning it again."""
        self._background = blurred.astype(np.float32)
        self._background16 = blurred.copy()
        for past in self._history:
            if past is not blurred:
                past[...] = blurred
        self._last_active.fill(_NEVER)
        self._held.fill(0)
        self._calibrating = True
        self._frame = 0
        self._updated_at = self._clock
        self._contrast = [self._percentiles(small)] * CONTRAST_HISTORY
        self._contrast_next = 0
        self._spread_scale = self._spread_from_contrast()
        self._noise: list[float] = []  # sampled again from the next frame on

    # -- per-frame steps ----------------------------------------------------

    def _downscale(self, gray: Gray) -> Gray:
        small = self._small
        if gray.flags.c_contiguous:
            # mode="wrap" lets numpy write straight into `out`; indices are valid anyway.
            gray.reshape(-1).take(self._index, out=small.reshape(-1), mode="wrap")
        else:
            np.take(np.take(gray, self._rows, axis=0), self._cols, axis=1, out=small)
        return small

    def _blur(self, small: Gray, out: _Int16) -> None:
        """3x3 binomial blur, times 16, in int16 (at most 16 * 255 = 4080).

        Both passes run on the flattened picture, where a row above or below is
        an offset of one stride: contiguous 1-D adds are much faster than adds
        of 2-D slices. Sums that straddle two rows land in the two columns past
        the picture's width and are dropped by the final copy.
        """
        stride = self._stride
        wide = self._wide
        np.copyto(wide, small.reshape(-1))
        vertical = self._vertical
        np.add(wide[: -2 * stride], wide[2 * stride :], out=vertical)
        vertical += wide[stride:-stride]
        vertical += wide[stride:-stride]
        both = self._both[:-2]
        np.add(vertical[:-2], vertical[2:], out=both)
        both += vertical[1:-1]
        both += vertical[1:-1]
        np.copyto(out, self._both_picture)

    def _percentiles(self, small: Gray) -> tuple[int, int]:
        """4th and 96th percentiles of a ninth of the working pixels, from a histogram."""
        sample = small[1:-1:3, 1:-1:3].ravel()
        cumulative = np.cumsum(np.bincount(sample, minlength=256))
        low, high = np.searchsorted(cumulative, [0.04 * sample.size, 0.96 * sample.size])
        return int(low), int(high)

    def _sample_contrast(self, small: Gray) -> None:
        self._contrast[self._contrast_next] = self._percentiles(small)
        self._contrast_next = (self._contrast_next + 1) % CONTRAST_HISTORY
        self._spread_scale = self._spread_from_contrast()

    def _spread_from_contrast(self) -> float:
        """Factor from Frigate's threshold (on a stretched picture) to one on our blurred picture.

        Thresholds are applied as `> int(t)`, the same test as `> t` on integer
        differences, which keeps the comparisons in int16.
        """
        low = sum(p[0] for p in self._contrast) / CONTRAST_HISTORY
        high = sum(p[1] for p in self._contrast) / CONTRAST_HISTORY
        return max(high - low, MIN_CONTRAST) / 255 * _BLUR_SCALE

    def _sample_noise(self, step: _Int16) -> None:
        """Estimate the sensor noise of the blurred picture from frame-to-frame differences.

        The median of |frame - frame two earlier| over a ninth of the pixels is
        0.674 * sqrt(2) * sigma for Gaussian noise, and moving objects barely
        shift a median. Averaged over the last ten samples like the contrast.
        """
        sample = step[::3, ::3].ravel()
        middle = sample.size // 2
        sigma = float(np.partition(sample, middle)[middle]) / (0.6745 * math.sqrt(2))
        if not self._noise:
            self._noise = [sigma] * CONTRAST_HISTORY
        else:
            self._noise[self._frame // CONTRAST_EVERY % CONTRAST_HISTORY] = sigma
        self._noise_floor = int(NOISE_SIGMAS * sum(self._noise) / CONTRAST_HISTORY)

    def _is_lighting_change(self, blurred: _Int16, changed_count: int, threshold: int) -> bool:
        """True when this frame differs from the background by a change of lighting."""
        if changed_count > LIGHTNING_FRACTION * self._pixels:
            return True
        if changed_count <= LIGHTING_CHECK_FRACTION * self._pixels:
            return False
        # Much changed at once. Lighting (an IR switch, a cloud, a lamp for the
        # whole room) maps every grey level to a new one, nearly the same way
        # everywhere: fit frame = gain * background + offset by least squares
        # and see what the fit leaves over. An object leaves itself over.
        background = self._background
        frame = blurred.astype(np.float32)
        if self._keep is not None:
            background, frame = background[self._keep], frame[self._keep]
        centred = background - background.mean()
        spread = float(np.mean(centred * centred))
        frame -= frame.mean()
        gain = float(np.mean(centred * frame)) / spread if spread > 1.0 else 1.0
        frame -= gain * centred
        unexplained = int(np.count_nonzero(np.abs(frame) > threshold))
        return unexplained < LIGHTING_UNEXPLAINED * changed_count

    def _update_background(
        self, diff: _Int16, changed: BoolMask, changed_count: int, moving: BoolMask | None
    ) -> None:
        """background += alpha * (frame - background), holding out what differs."""
        update = self._update
        if self._calibrating:
            np.multiply(diff, np.float32(ALPHA_CALIBRATING), out=update)
            if moving is not None:
                np.copyto(update, 0, where=moving)
        elif self._frame % UPDATE_EVERY:
            return
        else:
            elapsed = self._clock - self._updated_at
            alpha = -math.expm1(-elapsed / BACKGROUND_SECONDS)
            np.multiply(diff, np.float32(alpha), out=update)
            if changed_count:
                np.copyto(update, 0, where=changed)
            self._absorb_stale(diff, changed, changed_count, update, elapsed)
        self._updated_at = self._clock
        self._background += update
        np.copyto(self._background16, self._background, casting="unsafe")

    def _absorb_stale(
        self,
        diff: _Int16,
        changed: BoolMask,
        changed_count: int,
        update: _Float32,
        elapsed: float,
    ) -> None:
        """Blend in what has differed without changing for `ABSORB_SECONDS` (a parked car)."""
        held = self._held  # seconds in a row each pixel has differed without changing
        if not changed_count:
            if self._held_any:
                held.fill(0)
                self._held_any = False
            return
        # Not active since the last update (which is `elapsed` ago).
        still = np.less_equal(self._last_active, self._updated_at, out=self._still)
        still &= changed
        held += np.float32(elapsed)
        held *= still
        self._held_any = True
        stale = np.greater_equal(held, ABSORB_SECONDS, out=self._stale)
        if stale.any():
            alpha = -math.expm1(-elapsed / STATIC_SECONDS)
            update[stale] = diff[stale] * np.float32(alpha)

    # -- boxes --------------------------------------------------------------

    def _boxes(self, moving: BoolMask) -> list[Box]:
        """One box per moving object, in input pixels."""
        blobs = _merge_close(self._labeller.blobs(moving), MERGE_GAP)
        in_h, in_w = self._input_shape or (0, 0)
        return [
            (
                math.floor(x0 * self._scale_x),
                math.floor(y0 * self._scale_y),
                min(in_w, math.ceil(x1 * self._scale_x)),
                min(in_h, math.ceil(y1 * self._scale_y)),
            )
            for x0, y0, x1, y1, area in blobs
            if area >= self.min_area
        ]


_Blob = tuple[int, int, int, int, int]
"""x0, y0, x1, y1 (exclusive) and pixel count, in working pixels."""
_IntArray = npt.NDArray[np.intp]


class _Labeller:
    """8-connected components of a mask, as bounding boxes and pixel counts.

    Runs of True pixels in every row come from one vectorised comparison of
    the mask with itself shifted by a pixel; runs on adjacent rows that touch
    come from two `searchsorted` calls; the per-blob extents from `ufunc.at`.
    Only the union-find over touching pairs runs in Python, a few dozen pairs
    on a frame with motion.
    """

    def __init__(self, height: int, width: int, gap: int):
        self._gap = gap
        # Rows laid end to end in one flat array, each after `gap + 1` False
        # pixels, plus a final False: every run starts and ends with a change
        # between neighbours, and runs on different rows are never within `gap`.
        self._pad = gap + 1
        self._stride = width + self._pad
        self._flat = np.zeros(height * self._stride + 1, dtype=bool)
        self._grid = self._flat[:-1].reshape(height, self._stride)[:, self._pad :]
        self._max_runs = max(64, height * width // 16)

    def blobs(self, mask: BoolMask) -> list[_Blob]:
        """(x0, y0, x1, y1, pixels) of each component; gaps of up to `gap` in a row are closed."""
        self._grid[...] = mask
        flat = self._flat
        changes = (flat[1:] != flat[:-1]).nonzero()[0]
        changes += 1
        starts, ends = changes[0::2], changes[1::2]  # flat positions, ends exclusive
        sizes = ends - starts
        if starts.size > 1:
            # A gap of a few pixels inside a row does not split an object.
            cut = starts[1:] - ends[:-1] > self._gap
            if not cut.all():
                kept = cut.nonzero()[0]
                first = np.concatenate(([0], kept + 1))
                sizes = np.add.reduceat(sizes, first)
                starts, ends = starts[first], ends[np.append(kept, starts.size - 1)]
        count = starts.size
        rows, columns = np.divmod(starts, self._stride)
        if count > self._max_runs:
            # Labelling thousands of specks in Python would cost milliseconds;
            # a frame this busy is one region of motion.
            left = int(columns.min()) - self._pad
            right = int((ends - rows * self._stride).max()) - self._pad
            return [(left, int(rows[0]), right, int(rows[-1]) + 1, int(sizes.sum()))]
        parent = self._union(starts, ends)
        roots = np.array(parent, dtype=np.intp)
        ends = ends - rows * self._stride
        x0 = np.full(count, self._stride, dtype=np.intp)
        np.minimum.at(x0, roots, columns)
        x1 = np.zeros(count, dtype=np.intp)
        np.maximum.at(x1, roots, ends)
        y1 = np.zeros(count, dtype=np.intp)
        np.maximum.at(y1, roots, rows)  # a root is its blob's first run: y0 = its row
        pixels = np.bincount(roots, weights=sizes, minlength=count)
        blob = (roots == np.arange(count)).nonzero()[0]
        return list(
            zip(
                (x0[blob] - self._pad).tolist(),
                rows[blob].tolist(),
                (x1[blob] - self._pad).tolist(),
                (y1[blob] + 1).tolist(),
                pixels[blob].astype(np.intp).tolist(),
                strict=True,
            )
        )

    def _union(self, starts: _IntArray, ends: _IntArray) -> list[int]:
        """The root run of every run (the smallest index of its component)."""
        count = starts.size
        # Runs are sorted and disjoint, so the runs on the row below run i that
        # touch it, start_j <= end_i and end_j >= start_i (diagonals included),
        # are the contiguous range [first[i], last[i]).
        below = self._stride
        first = ends.searchsorted(starts + below, side="left")
        last = starts.searchsorted(ends + below, side="right")
        pairs = np.maximum(last - first, 0)
        total = int(pairs.sum())
        parent = list(range(count))
        if not total:
            return parent
        upper = np.arange(count).repeat(pairs)
        lower = np.arange(total) + (first - (pairs.cumsum() - pairs)).repeat(pairs)
        for a, b in zip(upper.tolist(), lower.tolist(), strict=True):
            while parent[a] != a:
                a = parent[a]
            while parent[b] != b:
                b = parent[b]
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
        # Links always point to a smaller index, so one pass in order resolves them.
        for k in range(count):
            parent[k] = parent[parent[k]]
        return parent


def _merge_close(blobs: list[_Blob], gap: int) -> list[_Blob]:
    """Merge boxes that overlap or nearly touch, until none do.

    "Nearly" is `gap` pixels, or a fifth of the larger box along that axis when
    that is more: a figure whose belt matches the wall behind it splits into
    a torso and legs several pixels apart, which are still one object.
    """
    merged = blobs
    changed = len(merged) > 1
    while changed:
        changed = False
        out: list[_Blob] = []
        for blob in merged:
            for k, other in enumerate(out):
                reach_x = max(gap, MERGE_FRACTION * max(blob[2] - blob[0], other[2] - other[0]))
                reach_y = max(gap, MERGE_FRACTION * max(blob[3] - blob[1], other[3] - other[1]))
                if (
                    blob[0] - other[2] <= reach_x
                    and other[0] - blob[2] <= reach_x
                    and blob[1] - other[3] <= reach_y
                    and other[1] - blob[3] <= reach_y
                ):
                    out[k] = (
                        min(blob[0], other[0]),
                        min(blob[1], other[1]),
                        max(blob[2], other[2]),
                        max(blob[3], other[3]),
                        blob[4] + other[4],
                    )
                    changed = True
                    break
            else:
                out.append(blob)
        merged = out
    return merged
