"""The c2pa adapter (docs/signals/c2pa.md): the only module that imports c2pa. Reads manifest stores as JSON data.

`C2paReader` is the `consentry.policies.assets.embedded.ManifestReader` the transports inject into the core.
c2pa's own network fetching (remote manifests, OCSP) is off; remote manifests come in as `manifest_data`,
fetched by our transports (C2PA 2.2 §15.5.3). Every c2pa failure becomes `StoreResult(None, "<error class>:
<message>")`. c2pa is imported on first read, so commands that never meet a manifest never load it.
"""

from __future__ import annotations

import functools
import io
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consentry.policies.assets.embedded import StoreResult

if TYPE_CHECKING:
    import c2pa

__all__ = ["CLAIM_SIGNING_EKUS", "C2paReader", "StoreResult", "read_store", "reader_settings"]

logger = logging.getLogger(__name__)


#: The extended key usages a claim signer may assert (c2pa's `trust.trust_config`, one OID a line): c2pa-rs's
#: built-in list (emailProtection, documentSigning, timeStamping, OCSPSigning, Microsoft's C2PA signing) plus
#: `c2pa-kp-claimSigning`, which the C2PA certificate policy requires of signers on the official C2PA trust
#: list. Left at its defaults, c2pa 0.38 reads such a signer (and a documentSigning one) `signingCredential.invalid`
#: (an Invalid manifest), never Trusted, whatever the anchors (docs/signals/c2pa.md "Trust anchors").
CLAIM_SIGNING_EKUS = (
    "1.3.6.1.5.5.7.3.4",  # id-kp-emailProtection
    "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning
    "1.3.6.1.5.5.7.3.8",  # id-kp-timeStamping
    "1.3.6.1.5.5.7.3.9",  # id-kp-OCSPSigning
    "1.3.6.1.4.1.311.76.59.1.9",  # Microsoft C2PA signing
    "1.3.6.1.4.1.62558.2.1",  # c2pa-kp-claimSigning
)


def reader_settings(trust_anchors_pem: str | None = None) -> dict[str, object]:
    """The c2pa settings we read with: verification on, network off, the claim-signing EKUs, optional trust
    anchors (PEM text: one certificate or a bundle such as the official C2PA trust list)."""
    trust: dict[str, str] = {"trust_config": "\n".join(CLAIM_SIGNING_EKUS) + "\n"}
    if trust_anchors_pem:
        trust["trust_anchors"] = trust_anchors_pem
    return {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "trust": trust,
    }


@functools.lru_cache(maxsize=8)
def _context(trust_anchors_pem: str | None) -> c2pa.Context:
    import c2pa  # on first use: a command that meets no manifest never loads the native library

    return c2pa.Context.from_dict(reader_settings(trust_anchors_pem))


def _error(error: BaseException) -> str:
    name = type(error).__name__.lstrip("_").removeprefix("C2pa") or "C2paError"
    message = str(error)
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def read_store(
    body: bytes,
    content_type: str,
    *,
    manifest_data: bytes | None = None,
    trust_anchors_pem: str | None = None,
) -> StoreResult:
    """Read the manifest store of `body` (or the external store `manifest_data` bound to `body`).

    `content_type` is a MIME type the library knows ("" = let it detect the container from the bytes).
    """
    import c2pa

    try:
        context = _context(trust_anchors_pem or None)
        reader = c2pa.Reader.try_create(
            content_type or None, io.BytesIO(body), manifest_data, context=context
        )
        if reader is None:
            return StoreResult(None)
        with reader:
            text = reader.json()
    except c2pa.C2paError as error:  # the one broad c2pa catch of the project (docs/architecture.md)
        logger.info("c2pa could not read a %s manifest: %s", content_type or "?", _error(error))  # in the record
        return StoreResult(None, _error(error))
    try:
        store = json.loads(text)
    except ValueError as error:
        logger.warning("c2pa returned unparseable store JSON: %s", error)
        return StoreResult(None, f"Json: {error}")
    if not isinstance(store, dict):
        return StoreResult(None, "Json: manifest store is not an object")
    return StoreResult(store)


@dataclass(frozen=True, slots=True)
class C2paReader:
    """The c2pa library as the core's `ManifestReader`, bound to the crawl's trust anchors (PEM text)."""

    trust_anchors_pem: str | None = None

    def __call__(self, body: bytes, content_type: str, *, manifest_data: bytes | None = None) -> StoreResult:
        """`read_store` with this reader's trust anchors."""
        return read_store(body, content_type, manifest_data=manifest_data, trust_anchors_pem=self.trust_anchors_pem)
