"""Typed objects: the workspace's inputs (strict, YAML-backed) and what passes between stages.

Inputs use ``extra="forbid"`` so a typo fails loudly; closed sets are ``Literal`` so the
error names the allowed values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

# The workspace's own files (segments may also come from sheets: .csv, .xlsx).
CONFIG_FILE = "ladder.yaml"
CHANNELS_FILE = "channels.yaml"
CORE_FILE = "segments/core.yaml"
SHEET_SUFFIXES = (".csv", ".xlsx")

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
LANGUAGE_PATTERN = r"^[a-z]{2}$"
Language = Annotated[str, Field(pattern=LANGUAGE_PATTERN, description="ISO 639-1 code; en and fi ship with prompts.")]
Role = Literal["customer", "prospect", "outside_target"]
ValueType = Literal["economic", "productive", "symbolic", "emotional"]
Step = Annotated[int, Field(ge=1, le=5)]
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the core value statement ------------------------------------------------------------


class KeyConcept(Strict):
    id: Id
    name: NonEmpty
    description: str = ""


class ProofPoint(Strict):
    """A fact a draft may claim. Only these may back numbers, guarantees and superlatives."""

    id: Id
    claim: dict[Language, NonEmpty]
    source: str = ""

    def text(self, language: str) -> str:
        """The claim in ``language``, or in the first language it has."""
        return self.claim.get(language) or next(iter(self.claim.values()))


class CoreStatement(Strict):
    """The one thing that unites every segment; fixed and shared by every variant."""

    company: NonEmpty
    offer: dict[Language, NonEmpty]
    core: dict[Language, NonEmpty] = Field(description="The hard core in one sentence, per language.")
    key_concepts: list[KeyConcept] = Field(min_length=1)
    differentiators: dict[Language, list[NonEmpty]] = {}
    proof_points: list[ProofPoint] = []
    value_types: list[ValueType] = Field(min_length=1)


# --- segments -------------------------------------------------------------------------------


class AvoidTerm(Strict):
    term: NonEmpty
    replacement: NonEmpty
    reason: str = ""


class Vocabulary(Strict):
    use: list[NonEmpty] = Field(description="The group's own terms, to be used; never empty.")
    avoid: list[AvoidTerm] = []
    concepts: dict[str, NonEmpty] = Field(
        default={}, description="How this group names each key concept of the core (concept id -> term)."
    )


class Tone(Strict):
    formality: Literal["formal", "neutral", "casual"]
    address: Literal["you", "sinä", "te"] = Field(description="How the reader is addressed.")
    energy: Literal["calm", "steady", "lively"] = "steady"
    sentence_length: Literal["short", "medium", "long"] = "medium"
    examples: list[NonEmpty] = Field(default=[], description="A few phrases in the group's own voice.")


ADDRESS_BY_LANGUAGE = {"en": {"you"}, "fi": {"sinä", "te"}}


class Segment(Strict):
    id: Id
    name: NonEmpty
    language: Language
    role: Role
    priority: int = Field(default=3, ge=1, le=5)
    current_step: Step
    target_step: Step | None = None
    needs: list[NonEmpty] = []
    objections: list[NonEmpty] = []
    value_drivers: list[ValueType] = []
    vocabulary: Vocabulary
    tone: Tone
    channels: list[Id] | None = Field(default=None, description="Limit the segment to these channels.")

    @field_validator("target_step")
    @classmethod
    def _not_below_current(cls, target: int | None, info: ValidationInfo) -> int | None:
        current = info.data.get("current_step")
        if target is not None and current is not None and target < current:
            raise ValueError(f"target step {target} is below current_step {current}")
        return target

    @field_validator("tone")
    @classmethod
    def _address_fits_language(cls, tone: Tone, info: ValidationInfo) -> Tone:
        allowed = ADDRESS_BY_LANGUAGE.get(info.data.get("language", ""))
        if allowed and tone.address not in allowed:
            raise ValueError(
                f"address '{tone.address}' does not fit language '{info.data['language']}'"
                f" (use one of: {', '.join(sorted(allowed))})"
            )
        return tone

    @property
    def step(self) -> int:
        """The step a piece for this segment should move its readers to."""
        return self.target_step if self.target_step is not None else min(self.current_step + 1, 5)


# --- channels -------------------------------------------------------------------------------


class Part(Strict):
    name: Id
    description: str = ""
    required: bool = True
    max_chars: int | None = Field(default=None, gt=0)
    max_words: int | None = Field(default=None, gt=0)


class Channel(Strict):
    id: Id
    name: NonEmpty
    template: NonEmpty = Field(description="Layout file in templates/.")
    format: Literal["markdown", "text"] = "markdown"
    purpose: Literal["brand", "customer_experience"] = "brand"
    roles: list[Role] = ["customer", "prospect", "outside_target"]
    steps: list[Step] = [1, 2, 3, 4, 5]
    parts: list[Part] = Field(min_length=1)
    call_to_action: dict[Language, str] = {}

    @field_validator("parts")
    @classmethod
    def _unique_parts(cls, parts: list[Part]) -> list[Part]:
        names = [p.name for p in parts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate part names: {', '.join(dupes)}")
        return parts

    @model_validator(mode="after")
    def _customer_experience_is_for_customers(self) -> Channel:
        if self.purpose == "customer_experience" and set(self.roles) != {"customer"}:
            raise ValueError("a customer_experience channel serves only roles: [customer]")
        return self


class ChannelsFile(Strict):
    channels: list[Channel] = Field(min_length=1)


# --- the ladder -----------------------------------------------------------------------------


# The five steps' keys: the one place they are named (the check, the reader, messages and
# ladder.yaml's validation all read them from here).
STEPS: dict[int, str] = {1: "awareness", 2: "understanding", 3: "relevance", 4: "differentiation", 5: "delivery"}
StepKey = Literal[tuple(STEPS.values())]  # type: ignore[valid-type]


class LadderStep(Strict):
    step: Step
    key: StepKey
    name: dict[Language, NonEmpty]
    job: dict[Language, NonEmpty] = Field(description="What a piece at this step must achieve.")


class Ladder(Strict):
    steps: list[LadderStep] = Field(min_length=5, max_length=5)

    @model_validator(mode="after")
    def _in_order(self) -> Ladder:
        """The five steps, in order, each with its own key: ``ladder[n]`` is step n."""
        found = [(s.step, s.key) for s in self.steps]
        if found != list(STEPS.items()):
            raise ValueError(f"the steps must be {list(STEPS.items())} in this order, not {found}")
        return self

    def __getitem__(self, step: int) -> LadderStep:
        return self.steps[step - 1]


class LadderOverride(Strict):
    """A workspace may reword a step's name or job; the steps themselves are fixed."""

    step: Step
    name: dict[Language, NonEmpty] = {}
    job: dict[Language, NonEmpty] = {}


# --- workspace config -----------------------------------------------------------------------


class Price(Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


def setting(default: Any = None, *, env: str | None = None, flag: str | bool = False, **field: Any) -> Any:
    """A model setting, declared once: its default and rules (ladder.yaml's ``model:``), its
    environment variable and its command-line flag (True: ``--<name>``). ``settings.py`` reads
    the flags and environment from here; the tests' hermetic fixture and docs/settings.md are
    made from it, and a test holds the commands' options to it."""
    extra = {k: v for k, v in (("env", env), ("flag", flag)) if v}
    return Field(default, json_schema_extra=extra or None, **field)


class ModelSettings(Strict):
    base_url: str | None = setting(flag=True, env="LADDER_BASE_URL", description="OpenAI-compatible endpoint; none: the "
                                   "embedded model.")
    model: str | None = setting(flag=True, env="LADDER_MODEL", description="Model name at the endpoint.")
    api_key_env: str = setting("OPENAI_API_KEY", description="The environment variable that holds the API key "
                               "(LADDER_API_KEY wins over it).")
    gguf: str | None = setting(flag=True, env="LADDER_GGUF", description="A GGUF file for the embedded model.")
    temperature: float = setting(0.7, flag=True, env="LADDER_TEMPERATURE", ge=0, le=2, description="Sampling temperature.")
    seed: int | None = setting(flag=True, env="LADDER_SEED", description="Sampling seed, where the endpoint supports one.")
    timeout: float = setting(120, env="LADDER_TIMEOUT", gt=0, description="Seconds a request may take.")
    structured_output: Literal["json_schema", "json_object", "none"] = setting(
        "json_schema", description="How replies are asked to be JSON.")
    max_retries: int = setting(4, env="LADDER_MAX_RETRIES", ge=0, le=20, description="Transport retries per call.")
    backoff: float = setting(1.0, env="LADDER_BACKOFF", ge=0, description="Base of the exponential backoff, seconds.")
    reasks: int = setting(2, env="LADDER_REASKS", ge=0, le=10,
                          description="Re-asks after a reply that does not validate.")
    concurrency: int = setting(4, flag=True, env="LADDER_CONCURRENCY", ge=1, le=256, description="Requests in flight at once "
                               "(the embedded model takes one at a time).")
    requests_per_minute: int | None = setting(env="LADDER_RPM", flag="--rpm", gt=0,
                                              description="Client-side request limit.")
    tokens_per_minute: int | None = setting(env="LADDER_TPM", flag="--tpm", gt=0,
                                            description="Client-side token limit (estimated).")
    judge_model: str | None = setting(flag=True, env="LADDER_JUDGE_MODEL", description="A capable model at the same endpoint "
                                      "that also judges each draft's ladder step (optional; the rules always run).")
    prices: dict[str, Price] = setting({}, description="Prices per model, over the shipped table "
                                       "(pipeline/model/prices.yaml); a name matches itself and its dated versions.")
    max_tokens_total: int | None = setting(flag=True, env="LADDER_MAX_TOKENS_TOTAL", gt=0,
                                           description="Stop a run before it spends more tokens.")
    max_cost: float | None = setting(flag=True, env="LADDER_MAX_COST", gt=0, description="Stop a run before it spends more (USD).")
    batch_poll: float = setting(30, flag=True, env="LADDER_BATCH_POLL", ge=0,
                                description="Seconds between polls of a batch (--batch).")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from pipeline.workspace.urls import url_problem

        if value is not None and (why := url_problem(value)):
            raise ValueError(why)
        return value


RuleName = Literal[
    "parts.required", "parts.limit", "parts.placeholder", "vocabulary.avoid", "vocabulary.own",
    "vocabulary.borrowed", "core.concepts", "claims.unsupported", "tone.address", "tone.sentence_length",
    "tone.hype", "role.sells", "role.customer_only", "role.prospect", "call_to_action", "language",
    "value.drivers", "ladder.step", "privacy",
]
RuleLevel = Literal["error", "warning", "suggestion", "off"]


class CampaignConfig(Strict):
    campaign: Id
    name: str = ""
    revise_rounds: int = Field(default=2, ge=0, le=10)
    model: ModelSettings = ModelSettings()
    ladder: list[LadderOverride] = []
    checks: dict[RuleName, RuleLevel] = Field(
        default={}, description="Each check rule's level (error, warning, suggestion or off), over the defaults.")


# --- between stages -------------------------------------------------------------------------


class Workspace(BaseModel):
    """Everything loaded and cross-checked; the input of ``plan``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: str
    config: CampaignConfig
    core: CoreStatement
    segments: list[Segment]
    channels: list[Channel]
    ladder: Ladder
    input_hashes: dict[str, str]

    def segment(self, id: str) -> Segment:
        return next(s for s in self.segments if s.id == id)

    def channel(self, id: str) -> Channel:
        return next(c for c in self.channels if c.id == id)


class Job(BaseModel):
    """One piece to write: a segment on a channel, aimed at a ladder step."""

    model_config = ConfigDict(frozen=True)

    id: str  # campaign.segment.channel
    segment: str
    channel: str
    language: Language
    step: Step
    kind: Literal["ladder", "not_for_you"] = "ladder"


class Skipped(BaseModel):
    segment: str
    channel: str
    reason: str


class Plan(BaseModel):
    jobs: list[Job]
    skipped: list[Skipped]


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None: a model without a price was used

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=cost,
        )


class Finding(BaseModel):
    """One rule's result on one draft, Vale-style."""

    rule: str
    level: Literal["error", "warning", "suggestion"]
    message: str
    part: str | None = None
    span: str | None = None
    fix: str | None = Field(default=None, description="The concrete instruction a revision follows.")


class JudgeResult(BaseModel):
    """The optional LLM judge's reading of a draft. A step whose quotes are not verbatim in the
    draft is voided: its score is not used, and the invented quotes are kept here."""

    model: str
    primary_step: int | None = None
    step_scores: dict[int, int] = {}
    evidence: dict[int, list[str]] = {}
    invented: list[str] = []
    voided: list[int] = []
    error: str | None = None
    usage: Usage = Usage()
    model_calls: int = 0


class CheckResult(BaseModel):
    passed: bool
    score: int = Field(ge=0, le=100)
    findings: list[Finding]
    primary_step: int | None = None  # the step the draft reads as (classify)
    decided_by: Literal["rules", "judge", "rules and judge"] = "rules"
    judge: JudgeResult | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


class Fix(BaseModel):
    """A deterministic change made without a model call, or one that could not be made safely
    (``after`` is None) and is left for a human or the next revision."""

    rule: str
    part: str
    before: str
    after: str | None
    note: str = ""


class Attempt(BaseModel):
    """One version of a draft: the first draft, a model revision or a deterministic fix, with its check."""

    n: int
    source: Literal["draft", "revision", "fix", "previous"] = "draft"  # previous: a reviewed draft of an earlier run
    parts: dict[str, str]
    fixes: list[Fix] = []
    check: CheckResult | None = None
    usage: Usage = Usage()
    seconds: float = 0.0
    model_calls: int = 0
    error: str | None = None


class Review(BaseModel):
    """A reviewer's decision on a job's draft in an earlier run, for the next run to act on."""

    decision: Literal["approve", "reject", "changes"]
    comment: str = ""
    run_id: str
    inputs_hash: str | None = None
    previous: Attempt  # the draft the decision was on


def best_attempt(attempts: list[Attempt]) -> Attempt | None:
    """The attempt to publish: passing before failing, then the higher score, then the later."""
    checked = [a for a in attempts if a.check is not None]
    return max(checked, key=lambda a: (a.check.passed, a.check.score, a.n), default=None)


class JobResult(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    job: Job
    status: Literal["passed", "failed", "error", "skipped", "pending", "interrupted"]
    attempts: list[Attempt] = []
    output: str | None = None
    note: str | None = None  # why a job stopped early (a token or cost cap), or kept a reviewed draft
    inputs_hash: str | None = None  # runs/writer.job_inputs_hashes: what the draft depends on
    content_hash: str | None = None  # SHA-256 of the rendered piece
    seconds: float = 0.0
    reuse_key: str | None = None  # runs/reuse.py: a later run with the same key reuses this result

    @property
    def best(self) -> Attempt | None:
        return best_attempt(self.attempts)

    @property
    def chosen(self) -> int | None:
        return self.best.n if self.best else None

    @property
    def usage(self) -> Usage:
        total = Usage()
        for a in self.attempts:
            total = total + a.usage
        return total
