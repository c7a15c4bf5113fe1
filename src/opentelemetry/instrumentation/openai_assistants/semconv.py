"""Attribute and metric names.

The ``gen_ai.*`` names follow the OpenTelemetry GenAI semantic conventions (v1.41.1); the package
``opentelemetry-semantic-conventions`` marks its copies deprecated, so they are kept here. Names of
our own live under ``openai_cost.*`` (shared by both API front ends: money, usage, metric labels),
``assistants.*`` (Assistants runs and steps) and ``responses.*`` (Responses API), outside the ``gen_ai.``
and ``openai.`` namespaces of the conventions. ``openai.api.type`` (conventions) tells the APIs apart.
"""

from __future__ import annotations

SEMCONV_VERSION = "1.41.1"

# --- GenAI conventions -------------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

OP_CREATE_AGENT = "create_agent"
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_EMBEDDINGS = "embeddings"
OP_MODERATIONS = "moderations"  # not a GenAI operation: our name for a (free) moderation call

OPENAI_API_TYPE = "openai.api.type"  # conventions: chat_completions | responses; we add assistants
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
API_ASSISTANTS = "assistants"
API_RESPONSES = "responses"
API_CHAT_COMPLETIONS = "chat_completions"
API_COMPLETIONS = "completions"
API_EMBEDDINGS = "embeddings"
API_MODERATIONS = "moderations"

PROVIDER_OPENAI = "openai"
PROVIDER_AZURE = "azure.ai.openai"

TOOL_TYPE_FUNCTION = "function"
TOOL_TYPE_EXTENSION = "extension"
TOOL_TYPE_DATASTORE = "datastore"

TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# --- Our own span attributes ------------------------------------------------------------------
RUN_ID = "assistants.run.id"
RUN_STATUS = "assistants.run.status"
RUN_ERROR_CODE = "assistants.run.last_error.code"
RUN_ERROR_MESSAGE = "assistants.run.last_error.message"
RUN_INCOMPLETE_REASON = "assistants.run.incomplete_details.reason"
RUN_END_REASON = "assistants.run.end_reason"  # observed | expired_unobserved | evicted | shutdown
STEP_ID = "assistants.step.id"
STEP_TYPE = "assistants.step.type"
STEP_STATUS = "assistants.step.status"
STEP_TIMING = "assistants.step.timing"  # "stream" (event times) | "server" (whole-second API timestamps)
STEP_MESSAGE_ID = "assistants.step.message_id"
TOOL_WAIT = "assistants.tool.awaited_app"  # a function call: span covers the wait for the app's output
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
USAGE_REASONING_TOKENS = "openai_cost.usage.reasoning_tokens"  # part of gen_ai.usage.output_tokens
RESPONSE_STATUS = "responses.status"
RESPONSE_END_REASON = "responses.end_reason"  # observed | stream_closed | unobserved | evicted | shutdown
RESPONSE_PREVIOUS_ID = "responses.previous_response_id"
RESPONSE_BACKGROUND = "responses.background"
RESPONSE_ERROR_CODE = "responses.error.code"
RESPONSE_ERROR_MESSAGE = "responses.error.message"
RESPONSE_INCOMPLETE_REASON = "responses.incomplete_details.reason"
RESPONSE_TIMING = "responses.item.timing"  # on tool spans: "stream" (item events) | "response" (its window)
ITEM_ID = "responses.item.id"
ITEM_TYPE = "responses.item.type"
ITEM_STATUS = "responses.item.status"
ITEM_CONTAINER_ID = "responses.item.container_id"
ITEM_ACTION = "responses.item.action"

USAGE_SOURCE = "openai_cost.usage.source"  # reported | estimated | mixed (on the run)
USAGE_PARTIAL = "openai_cost.usage.partial"
USAGE_DEGRADED = "openai_cost.usage.degraded"
USAGE_ESTIMATED_INPUT = "openai_cost.usage.estimated.input_tokens"  # estimate beside a reported figure
USAGE_ESTIMATED_OUTPUT = "openai_cost.usage.estimated.output_tokens"
USAGE_SCOPE = "openai_cost.usage.scope"  # on the run: where counted figures sit: steps | run | mixed
USAGE_RUN_LEVEL_INPUT = "openai_cost.usage.run_level.input_tokens"  # counted on the run span itself
USAGE_RUN_LEVEL_OUTPUT = "openai_cost.usage.run_level.output_tokens"
RUN_ACCOUNTED = "openai_cost.run.accounted"  # full | queue_full (accounted without background reads)

# Leaf cost figures: on the span the money belongs to (step span for tokens, tool span for sessions).
COST_INPUT = "openai_cost.input_tokens_usd"
COST_OUTPUT = "openai_cost.output_tokens_usd"
COST_SESSION = "openai_cost.code_interpreter_session_usd"
COST_CACHED_INPUT = "openai_cost.cached_input_tokens_usd"
COST_CACHE_WRITE = "openai_cost.cache_write_tokens_usd"
PRICE_MODIFIERS = "openai_cost.price.modifiers"  # what changed the table rates: flex, priority, window:2h, ...
COST_UNPRICED_REASON = "openai_cost.unpriced_reason"
PRICE_EFFECTIVE_DATE = "openai_cost.price.effective_date"
SESSION_OPENED = "assistants.code_interpreter.session.opened"
SESSION_INFERRED = "assistants.code_interpreter.session.inferred"
SESSION_LATE = "assistants.code_interpreter.session.late_call"
COST_CACHED_INPUT = "openai_cost.cached_input_tokens_usd"  # cached reads, at their own rate
COST_CACHE_WRITE = "openai_cost.cache_write_tokens_usd"  # prompt-cache writes, at their own rate
PRICE_MODIFIERS = "openai_cost.price.modifiers"  # e.g. "flex,window:2h,long_context" (TokenCost.modifiers)
# Hosted tools (Responses): containers and per-call fees, on the tool span that incurred them.
COST_CONTAINER = "openai_cost.container_usd"  # the charge this call brought to light (may be 0: billed before)
COST_WEB_SEARCH = "openai_cost.web_search_usd"
COST_FILE_SEARCH = "openai_cost.file_search_usd"
COST_IMAGE_GENERATION = "openai_cost.image_generation_usd"
CONTAINER_ID = "openai_cost.container.id"  # span attribute only, never a metric label
CONTAINER_TIER = "openai_cost.container.tier"  # 1g | 4g | 16g | 64g (metric label)
CONTAINER_TIER_INFERRED = "openai_cost.container.tier_inferred"  # tier unknown: the default was priced
CONTAINER_RULE = "openai_cost.container.rule"  # per_container | per_session | per_minute (metric label)
CONTAINER_LIFE = "openai_cost.container.life"  # observed | inferred (metric label)
CONTAINER_CHARGE = "openai_cost.container.charge"  # opening | incurred | settlement
CONTAINER_UNITS = "openai_cost.container.units"  # containers, sessions or minutes owed so far
CONTAINER_TOTAL = "openai_cost.rollup.container.total_usd"  # billed for the container so far (all processes)
WEB_SEARCH_BILLED_CALLS = "openai_cost.web_search.billed_calls"
WEB_SEARCH_CONTENT_TOKENS = "openai_cost.web_search.content_tokens"  # fixed search content tokens billed
# Chat Completions usage details (parts of gen_ai.usage.input_tokens / output_tokens) and their costs.
USAGE_AUDIO_INPUT_TOKENS = "openai_cost.usage.audio_input_tokens"
USAGE_AUDIO_OUTPUT_TOKENS = "openai_cost.usage.audio_output_tokens"
USAGE_ACCEPTED_PREDICTION_TOKENS = "openai_cost.usage.accepted_prediction_tokens"
USAGE_REJECTED_PREDICTION_TOKENS = "openai_cost.usage.rejected_prediction_tokens"  # billed as output
COST_AUDIO_INPUT = "openai_cost.audio_input_tokens_usd"
COST_AUDIO_OUTPUT = "openai_cost.audio_output_tokens_usd"
CHAT_CHOICES = "openai_cost.choices"  # choices returned (n > 1)
CHAT_STREAM = "openai_cost.stream"  # the call was streamed

# Roll-ups: on the run span only; never add them to leaf figures.
ROLLUP_COST_TOTAL = "openai_cost.rollup.total_usd"
ROLLUP_COST_INPUT = "openai_cost.rollup.input_tokens_usd"
ROLLUP_COST_OUTPUT = "openai_cost.rollup.output_tokens_usd"
ROLLUP_COST_SESSION = "openai_cost.rollup.code_interpreter_session_usd"
ROLLUP_STEPS = "assistants.run.steps"
ROLLUP_COST_CACHED_INPUT = "openai_cost.rollup.cached_input_tokens_usd"
ROLLUP_COST_CACHE_WRITE = "openai_cost.rollup.cache_write_tokens_usd"
ROLLUP_COST_CONTAINER = "openai_cost.rollup.container_usd"
ROLLUP_COST_WEB_SEARCH = "openai_cost.rollup.web_search_usd"
ROLLUP_COST_FILE_SEARCH = "openai_cost.rollup.file_search_usd"
ROLLUP_COST_IMAGE_GENERATION = "openai_cost.rollup.image_generation_usd"

METADATA_PREFIX = "openai_cost.metadata."
PROJECT = "openai_cost.project"  # the client's OpenAI project id (few per app), to line up with billed figures

# --- Metrics ----------------------------------------------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_COST = "openai_cost.spend"
METRIC_RUN_COST = "openai_cost.run.spend"
METRIC_SESSIONS = "openai_cost.code_interpreter.sessions"
METRIC_RUNS = "openai_cost.runs"
METRIC_TOOL_CALLS = "openai_cost.tool_calls"
METRIC_USAGE_STEPS = "openai_cost.usage.inferences"
METRIC_ESTIMATE_ERROR = "openai_cost.usage.estimate_error"
METRIC_UNPRICED_TOKENS = "openai_cost.unpriced.tokens"
METRIC_UNPRICED_RUNS = "openai_cost.unpriced.runs"
METRIC_FETCHES = "openai_cost.fetches"
METRIC_CONTAINERS = "openai_cost.containers"  # containers opened (first billed), by tier, rule, observed | inferred
METRIC_CONTAINERS_LIVE = "openai_cost.containers.live"  # opened minus settled (up-down counter)
METRIC_AUTO_CONTAINERS_WITHOUT_CALL = "openai_cost.containers.auto_without_call"  # auto mode, no container named
METRIC_SESSION_EVICTIONS = "openai_cost.sessions.live_evictions"
# Billed figures, exported by the separate billing exporter from OpenAI's Costs and Usage API.
METRIC_BILLED_SPEND = "openai_cost.billed.spend"  # gauge, USD of one UTC day (latest read)
METRIC_BILLED_TOKENS = "openai_cost.billed.tokens"  # gauge, tokens of one UTC day by model
METRIC_BILLED_QUANTITY = "openai_cost.billed.quantity"  # gauge, sessions or calls of one UTC day
METRIC_BILLED_DAY = "openai_cost.billed.day_start"  # gauge, Unix start of each day read
METRIC_BILLING_READS = "openai_cost.billing.reads"  # counter, the exporter's reads by outcome

STATUS = "openai_cost.status"  # metric label: a run's or response's final status, or how it ended unseen
COST_KIND = "openai_cost.kind"  # input_tokens | output_tokens | code_interpreter_session
FETCH_KIND = "openai_cost.fetch.kind"  # steps | assistant | messages
FETCH_OUTCOME = "openai_cost.fetch.outcome"  # ok | error | timeout | dropped
KIND_CONTAINER = "container"  # openai_cost.kind values of the hosted tools
KIND_WEB_SEARCH = "web_search"
KIND_FILE_SEARCH = "file_search"
KIND_IMAGE_GENERATION = "image_generation"
LIFE_OBSERVED = "observed"
LIFE_INFERRED = "inferred"
BILLING_DAY = "openai_cost.billing.day"  # UTC day of a billed figure, YYYY-MM-DD (only days in the window)
BILLING_LINE_ITEM = "openai_cost.billing.line_item"  # OpenAI's line item, e.g. "gpt-4o-mini, input"
BILLING_USAGE = "openai_cost.billing.usage"  # code_interpreter_sessions | web_search_calls | file_search_calls
BILLING_ENDPOINT = "openai_cost.billing.endpoint"  # costs | completions | ... (the exporter's reads)
BILLING_OUTCOME = "openai_cost.billing.outcome"  # ok | error

TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864
DURATION_BUCKETS = tuple(0.01 * 2**i for i in range(14))  # 0.01, 0.02, ... 81.92
COST_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

# --- Media and batch APIs (images, audio, videos, batches) -------------------------------------
OP_GENERATE_CONTENT = "generate_content"  # conventions: multimodal content generation
OP_BATCH = "batch"  # ours: a completed batch, accounted once
API_IMAGES = "images"
API_AUDIO = "audio"
API_VIDEOS = "videos"
API_BATCHES = "batches"
PRICE_SOURCE = "openai_cost.price.source"  # where a unit price came from (data file entry, genai-prices)
MEDIA_IMAGES = "openai_cost.images"  # images returned
MEDIA_SIZE = "openai_cost.image.size"  # or a video's size
MEDIA_QUALITY = "openai_cost.image.quality"
MEDIA_CHARACTERS = "openai_cost.characters"  # speech input characters
MEDIA_SECONDS = "openai_cost.media.seconds"  # audio duration or video length
MEDIA_BATCH_ENDPOINT = "openai_cost.batch.endpoint"
MEDIA_OBJECT_ID = "openai_cost.media.id"  # batch or video id: span attribute only, never a metric label
MEDIA_INPUT_IMAGE_TOKENS = "openai_cost.usage.input_image_tokens"  # part of gen_ai.usage.input_tokens
MEDIA_OUTPUT_IMAGE_TOKENS = "openai_cost.usage.output_image_tokens"  # part of gen_ai.usage.output_tokens
MEDIA_INPUT_AUDIO_TOKENS = "openai_cost.usage.input_audio_tokens"  # part of gen_ai.usage.input_tokens
