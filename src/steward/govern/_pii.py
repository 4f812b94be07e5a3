"""Personal data in a table: which columns hold it, found from their names and a sample.

Values are read by Presidio's pattern recognizers (e-mail addresses, phone numbers, card
numbers whose Luhn checksum holds, IBANs whose mod-97 checksum holds, IP addresses, US
social security numbers, crypto wallets) on its no-op NLP engine: no language
model is loaded, so the scan works offline and starts in about a second. The column's
name is handed to Presidio as context (a column called "phone" raises the score of the
phone numbers in it), and a short table of names (below) catches what patterns cannot
see without a language model: people's names, addresses, dates of birth.

The findings say which entity types a column holds, the share of sampled values that
match and a confidence; the values themselves are never kept.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections import Counter, defaultdict
from importlib.metadata import version as installed_version
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

SAMPLE_ROWS = 100
MIN_SHARE = 0.1  # a value type counts when at least this share of sampled values has it
NAME_CONFIDENCE = 0.5  # a finding from the column's name alone
#: Entity types that need a checksum or a strict pattern: reliable in number columns too.
NUMERIC_ENTITIES = ["CREDIT_CARD"]
VALUE_ENTITIES = ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "CRYPTO"]
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_SEPARATED = re.compile(r"[+()\-.\s/]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN = re.compile(r"[^a-z0-9]+")

# Hand-written because Presidio's recognizers read values, not column names, and the
# names that give a column away are few and well known.
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "first name",
        "last name",
        "full name",
        "given name",
        "family name",
        "middle name",
        "maiden name",
        "surname",
        "firstname",
        "lastname",
        "fullname",
        "forename",
        "customer name",
        "patient name",
        "employee name",
        "contact name",
        "user name",
        "username",
    ),
    "EMAIL_ADDRESS": ("email", "e mail", "email address"),
    "PHONE_NUMBER": (
        "phone",
        "telephone",
        "tel",
        "mobile",
        "cellphone",
        "cell phone",
        "msisdn",
        "fax",
    ),
    "LOCATION": (
        "street",
        "street address",
        "home address",
        "postal address",
        "mailing address",
        "billing address",
        "shipping address",
        "address line",
        "zip",
        "zipcode",
        "zip code",
        "postcode",
        "postal code",
    ),
    "DATE_OF_BIRTH": ("dob", "birth", "birthdate", "birthday", "date of birth"),
    "US_SSN": ("ssn", "social security"),
    "CREDIT_CARD": ("card number", "cc number", "credit card", "card no", "pan number"),
    "IBAN_CODE": ("iban", "bank account", "account number"),
    "IP_ADDRESS": ("ip", "ip address", "ipaddr", "ipv4", "ipv6"),
    "PASSPORT": ("passport",),
    "DRIVER_LICENSE": ("driver license", "drivers license", "driving licence"),
    "NATIONAL_ID": ("national id", "nin", "nino", "tax id", "personnummer", "nhs number"),
}
#: Whole names that give a column away, though as words of a longer name they do not
#: ("name" alone, but not "product name").
EXACT_NAMES = {"name": "PERSON", "address": "LOCATION"}


class PiiFinding(BaseModel):
    """What one column seems to hold: entity types, how much of it, and how sure."""

    column: str
    entities: list[str]  # EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, PERSON (by name)...
    share: float = 0.0  # of the sampled values, the share holding one of the entities
    shares: dict[str, float] = Field(default_factory=dict)  # per entity type found in values
    confidence: float  # 0..1
    from_name: list[str] = Field(default_factory=list)  # the types the column's name suggests


class PiiScanSpec(BaseModel):
    """A scan's result as a client records it."""

    scanner: str
    sample_rows: int
    findings: list[PiiFinding]


class PiiScan(PiiScanSpec):
    """A recorded scan of a dataset version."""

    dataset: str
    version: int
    dataset_version_id: int
    created_at: float
    created_by: str

    @property
    def columns(self) -> list[str]:
        """Return the columns with a finding."""
        return [f.column for f in self.findings]


def scanner_name() -> str:
    """Return the scanner's name and version, as recorded with each scan."""
    return f"presidio-analyzer {installed_version('presidio-analyzer')}"


@functools.lru_cache(maxsize=1)
def analyzer() -> AnalyzerEngine:
    """Return Presidio's analyzer with pattern recognizers only, on the no-op NLP engine."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer, checking domains against tldextract's bundled list.

        The stock one fetches the public-suffix list from the internet on first use.
        """

        domains = tldextract.TLDExtract(suffix_list_urls=())

        def validate_result(self, pattern_text: str) -> bool:
            return bool(self.domains(pattern_text).fqdn)

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        CreditCardRecognizer(),
        OfflineEmailRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
        UsSsnRecognizer(),
        CryptoRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def name_tokens(column: str) -> str:
    """Return a column name as lower-case words: 'customerEmail_2' -> 'customer email 2'."""
    spaced = _CAMEL.sub(" ", column)
    return " ".join(_TOKEN.split(spaced.lower())).strip()


def entities_from_name(column: str) -> list[str]:
    """Return the entity types a column's name suggests (whole words only)."""
    tokens = name_tokens(column)
    words = f" {tokens} "
    found = {
        entity
        for entity, hints in NAME_HINTS.items()
        if any(f" {hint} " in words for hint in hints)
    }
    if tokens in EXACT_NAMES:
        found.add(EXACT_NAMES[tokens])
    return sorted(found)


def scan_frame(
    frame: pd.DataFrame,
    *,
    sample_rows: int = SAMPLE_ROWS,
    min_share: float = MIN_SHARE,
    seed: int = 0,
) -> list[PiiFinding]:
    """Return a finding for every column whose name or sampled values look like personal data."""
    sample = (
        frame.sample(n=min(sample_rows, len(frame)), random_state=seed) if len(frame) else frame
    )
    findings = []
    for column in frame.columns:
        finding = scan_column(str(column), sample[column], min_share=min_share)
        if finding is not None:
            findings.append(finding)
    return findings


def scan_column(name: str, values: pd.Series, *, min_share: float = MIN_SHARE) -> PiiFinding | None:
    """Return what a column's name and values suggest it holds, or None for nothing."""
    by_name = entities_from_name(name)
    shares, scores = _scan_values(name, values, by_name)
    found = {e: s for e, s in shares.items() if s >= min_share}
    if not found and not by_name:
        return None
    confidence = NAME_CONFIDENCE if by_name else 0.0
    for entity, share in found.items():
        score = scores[entity]
        value_confidence = score + (1 - score) * share / 2  # more matching values, surer
        if entity in by_name:
            value_confidence += 0.3  # the name agrees
        confidence = max(confidence, min(1.0, value_confidence))
    return PiiFinding(
        column=name,
        entities=sorted(set(found) | set(by_name)),
        share=round(max(found.values(), default=0.0), 4),
        shares={e: round(s, 4) for e, s in sorted(found.items())},
        confidence=round(confidence, 3),
        from_name=by_name,
    )


def _scan_values(
    name: str, values: pd.Series, by_name: list[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Return per entity type the share of non-null values holding it, and its mean score."""
    kind = values.dtype
    if pd.api.types.is_bool_dtype(kind) or pd.api.types.is_float_dtype(kind):
        return {}, {}  # measurements, not identifiers (a float's digits pass Luhn one time in 10)
    if pd.api.types.is_datetime64_any_dtype(kind) or pd.api.types.is_timedelta64_dtype(kind):
        return {}, {}
    numeric = pd.api.types.is_integer_dtype(kind)
    present = values.dropna()
    total = len(present)
    counts = Counter(str(v) for v in present)
    # Only a value with a digit or an @ can hold any of the recognized types.
    candidates = [v for v in counts if "@" in v or any(c.isdigit() for c in v)]
    if not total or not candidates:
        return {}, {}
    index_of = {value: i for i, value in enumerate(candidates)}
    context = name_tokens(name).split() or None
    hits: dict[str, set[int]] = {}
    score_sum: dict[str, float] = defaultdict(float)
    score_n: Counter[str] = Counter()
    if numeric:
        passes = [(candidates, NUMERIC_ENTITIES)]
    else:
        # Phone numbers are matched by libphonenumber region by region, the slow part of a
        # scan: only values that could be one go through it.
        phones = [v for v in candidates if _could_be_phone(v)]
        passes = [(candidates, VALUE_ENTITIES), (phones, ["PHONE_NUMBER"])]
    for values_in, entities in passes:
        if not values_in:
            continue
        text = "\n".join(values_in)
        starts = list(_starts(values_in))
        for result in analyzer().analyze(text, language="en", entities=entities, context=context):
            matched = text[result.start : result.end]
            if (
                result.entity_type == "PHONE_NUMBER"
                and "PHONE_NUMBER" not in by_name
                and not _SEPARATED.search(matched)
            ):
                continue  # a bare run of digits is an id or an amount as often as a phone
            value = values_in[bisect.bisect_right(starts, result.start) - 1]
            hits.setdefault(result.entity_type, set()).add(index_of[value])
            score_sum[result.entity_type] += result.score
            score_n[result.entity_type] += 1
    shares = {
        entity: sum(counts[candidates[i]] for i in indexes) / total
        for entity, indexes in hits.items()
    }
    scores = {entity: score_sum[entity] / score_n[entity] for entity in hits}
    return shares, scores


def _could_be_phone(value: str) -> bool:
    """Return False for what cannot be a phone number: few digits, an address, a date."""
    if "@" in value or sum(c.isdigit() for c in value) < 7 or _DATE_LIKE.match(value):
        return False
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return True
    return False


def _starts(values: list[str]) -> Any:
    offset = 0
    for value in values:
        yield offset
        offset += len(value) + 1
