"""The fake admin billing API bills the media and batch line items and serves their usage endpoints; an
app using images, speech, transcription, a batch and a video reconciles with its bill, kind by kind, once
the measured spend is grouped as the billed-vs-measured rules group it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest

from opentelemetry.instrumentation.openai_assistants.billing.lineitems import load

pytestmark = pytest.mark.openai_min("2.34", "the fake's bill is read through the SDK's admin resources (openai 2.34)")

MEDIA_KINDS = {"images": "image_generation", "audio": "audio", "videos": "video"}  # as billing.rules.yml groups them


def workload(client: Any) -> None:
    client.images.generate(model="gpt-image-1.5", prompt="a fox in the snow", quality="low")
    client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there, listener.").read()
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"\x00" * 96_000))
    client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", b"\x00" * 64_000))
    batch = client.batches.create(input_file_id="file-1", endpoint="/v1/chat/completions", completion_window="24h")
    for _ in range(3):
        client.batches.retrieve(batch.id)
    video = client.videos.create(model="sora-2", prompt="a fox", seconds="4", size="1280x720")
    for _ in range(3):
        client.videos.retrieve(video.id)


def billed_by_kind(fake_api: Any) -> tuple[dict[str, Decimal], Any]:
    admin = openai.OpenAI(base_url=fake_api.base_url, api_key="unused", admin_api_key=fake_api.billing.admin_key)
    start = fake_api.clock.now() - fake_api.clock.now() % 86_400
    page = admin.admin.organization.usage.costs(start_time=start, group_by=["line_item", "project_id"], limit=1)
    items = load()
    kinds: dict[str, Decimal] = {}
    for result in page.data[0].results:
        kind = items.kind(result.line_item)
        kinds[kind] = kinds.get(kind, Decimal(0)) + Decimal(str(result.amount.value))
    return kinds, admin


def test_media_and_batches_reconcile_with_the_bill_kind_by_kind(fake_api: Any, instrumented: Any) -> None:
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    workload(client)
    measured: dict[str, Decimal] = {}
    for point in instrumented.metrics()["openai_cost.spend"]:
        api = str(point.attributes["openai.api.type"])
        kind = MEDIA_KINDS.get(api, str(point.attributes["openai_cost.kind"]))
        measured[kind] = measured.get(kind, Decimal(0)) + Decimal(str(point.value))
    billed, admin = billed_by_kind(fake_api)
    assert set(billed) == set(measured) == {"image_generation", "audio", "video", "input_tokens",
                                             "cached_input_tokens", "output_tokens"}
    for kind, usd in billed.items():
        assert measured[kind] == pytest.approx(usd, rel=1e-9, abs=1e-12), kind
    start = fake_api.clock.now() - fake_api.clock.now() % 86_400
    usage = admin.admin.organization.usage
    (images,) = usage.images(start_time=start, limit=1, group_by=["model"]).data[0].results
    assert (images.model, images.images) == ("gpt-image-1.5", 1)
    (speech,) = usage.audio_speeches(start_time=start, limit=1).data[0].results
    assert speech.characters == len("Hello there, listener.")
    transcriptions = usage.audio_transcriptions(start_time=start, limit=1).data[0].results
    assert [r.seconds for r in transcriptions] == [5]  # 3 s + 2 s of audio
    (tokens,) = usage.completions(start_time=start, limit=1, group_by=["model"]).data[0].results
    assert (tokens.model, tokens.input_tokens, tokens.output_tokens) == ("gpt-4o-mini", 1000, 500)


def test_charges_of_other_surfaces_appear_as_openai_names_them(fake_api: Any) -> None:
    from openai_fake_api.billing import Charge

    now = fake_api.clock.now()
    fake_api.billing.charge(Charge(now, "text-embedding-3-small", "text-embedding-3-small, input", "input_tokens",
                                   Decimal("0.00002"), 1000, "embeddings"))
    fake_api.billing.charge(Charge(now, "omni-moderation-latest", "omni-moderation-latest, input", "input_tokens",
                                   Decimal(0), 500, "moderations"))
    fake_api.billing.charge(Charge(now, None, "Vector store storage", "vector_store_storage", Decimal("0.10"),
                                   2 * 1024**3, "vector_stores"))
    billed, admin = billed_by_kind(fake_api)
    assert billed == {"input_tokens": Decimal("0.00002"), "vector_store_storage": Decimal("0.1")}
    usage = admin.admin.organization.usage
    start = now - now % 86_400
    (embeddings,) = usage.embeddings(start_time=start, limit=1).data[0].results
    (moderations,) = usage.moderations(start_time=start, limit=1).data[0].results
    (stores,) = usage.vector_stores(start_time=start, limit=1).data[0].results
    assert (embeddings.input_tokens, moderations.input_tokens, stores.usage_bytes) == (1000, 500, 2 * 1024**3)
