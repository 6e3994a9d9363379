"""The 80 COCO class names (from hub, which every detector plugin shares)."""

from __future__ import annotations

from hub import COCO_LABELS

__all__ = ["COCO_LABELS"]
