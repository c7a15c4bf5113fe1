"""The images, audio (speech, transcriptions, translations), videos and batches front ends."""

from __future__ import annotations

from .frontend import MediaFrontEnd, MediaFrontEnds

__all__ = ["MediaFrontEnd", "MediaFrontEnds"]
