"""Every method of the images, audio, videos and batches resources is priced, free, or a documented
limit, and every priced or free one's request path is claimed by a media front end. The methods are read
from the SDK's resource classes, so a method added to the SDK and not listed here fails the test."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from test_coverage import public_methods, resolve

# method -> the request path it sends (relative to /v1), for those we observe
PRICED = {
    "images.generate": "images/generations",
    "images.edit": "images/edits",
    "images.create_variation": "images/variations",
    "audio.speech.create": "audio/speech",
    "audio.transcriptions.create": "audio/transcriptions",
    "audio.translations.create": "audio/translations",
    # batches and videos: billed when a read shows them completed (once, claimed in the session store)
    "batches.retrieve": "batches/batch_1",
    "batches.list": "batches",
    "videos.retrieve": "videos/video_1",
    "videos.list": "videos",
    "videos.poll": "videos/video_1",
    "videos.create_and_poll": "videos",
}
FREE = {  # counted nowhere, cost nothing themselves (what they start is billed when seen completed)
    "batches.create": "batches",
    "batches.cancel": "batches/batch_1/cancel",
    "videos.create": "videos",
    "videos.remix": "videos/video_1/remix",
    "videos.edit": "videos/edits",
    "videos.extend": "videos/extensions",
    "videos.delete": "videos/video_1",
    "videos.download_content": "videos/video_1/content",
}
LIMITS = {  # documented in docs/media.md
    "videos.create_character": "video characters: no published price",
    "videos.get_character": "a read of a video character: no price",
    "audio.voices.create": "custom voices: no published price",
    "audio.voices.delete": "custom voices: no published price",
    "audio.voice_consents.create": "voice consent records: no charge known",
    "audio.voice_consents.delete": "voice consent records: no charge known",
    "audio.voice_consents.list": "voice consent records: no charge known",
    "audio.voice_consents.retrieve": "voice consent records: no charge known",
    "audio.voice_consents.update": "voice consent records: no charge known",
}
RESOURCES = ("images", "audio.speech", "audio.transcriptions", "audio.translations", "audio.voices",
             "audio.voice_consents", "videos", "batches")
# Spend the SDK does not show cheaply: listed as limits (their money shows on the billed side only).
LIMIT_RESOURCES = {
    "fine_tuning.jobs": "training is billed by trained tokens the job object reports only at the end; not read",
    "vector_stores": "storage is billed per GB-day by the bill; the SDK shows usage_bytes only on a read",
    "evals": "evals bill the model calls they run, which the SDK does not show",
    "realtime": "WebSocket sessions do not go through the SDK's HTTP client the hooks observe",
}


@pytest.mark.openai_min("3", "the list names the resources of openai 3.x (2.x lacks audio.voices, among others)")
def test_every_sdk_method_is_listed() -> None:
    client = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    methods = {f"{path}.{m}" for path in RESOURCES for m in public_methods(resolve(client, path))}
    assert methods == set(PRICED) | set(FREE) | set(LIMITS)
    for path in LIMIT_RESOURCES:
        assert public_methods(resolve(client, path)), path  # still there: still a limit to document


@pytest.mark.parametrize("method", sorted({**PRICED, **FREE}))
def test_each_observed_path_is_claimed_by_a_media_front_end(instrumented: Any, method: str) -> None:
    registry = instrumented.instrumentor._registry
    path = {**PRICED, **FREE}[method]
    front_end = registry.claimant(path)
    assert front_end is not None and front_end.api == method.split(".")[0], method


def test_limits_are_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "media.md").read_text(encoding="utf-8")
    for resource in LIMIT_RESOURCES:
        assert f"`{resource}`" in doc, resource
