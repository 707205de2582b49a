"""C2PA / CAWG training-and-data-mining assertions of the active manifest (C2PA 1.4 §19.23, CAWG TDM
assertion 1.1, C2PA 2.2 §14.3; docs/signals/c2pa.md).

Pure: takes the manifest-store JSON (a plain mapping, as the c2pa reader returns it) and the validation state
inside it; a restriction counts in every state, a permission only from a Valid/Trusted, unmodified manifest —
or from an Invalid one whose claim signature and hard binding validated and whose only failures are the
identity/revocation checks that need the network (`OFFLINE_FAILURE_CODES`, docs/signals/c2pa.md "Trust").
Also: where the manifest is (C2PA 2.2 §15.5: embedded, then remote; `#jumbf=` self-references are embedded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin

from consentry.policies.assets.xmp import provenance_url
from consentry.policies.links import parse_links
from consentry.policies.model import AssetResponse, Signal
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "HARD_BINDING_CODES",
    "OFFLINE_FAILURE_CODES",
    "TOLERATED_FAILURE_CODES",
    "TRUSTWORTHY_STATES",
    "active_manifest",
    "declares_embedded",
    "hints_embedded",
    "is_self_reference",
    "offline_only_failures",
    "remote_manifest_urls",
    "signals",
]

#: Validation states from which an `allowed` entry counts (C2PA 2.2 §14.3; docs/signals/c2pa.md "Trust").
TRUSTWORTHY_STATES = frozenset({"valid", "trusted"})
#: Failure codes that only say a check needed the network, which the crawl's reader never uses: a CAWG
#: identity claims aggregation issuer DID that could not be resolved (CAWG Identity Assertion 1.1, identity claims aggregation) and an
#: OCSP responder that could not be reached (C2PA 2.2, certificate revocation). An Invalid manifest whose only failures are
#: these (and `TOLERATED_FAILURE_CODES`) lets `allowed` count. Nothing else is tolerated: every other
#: `cawg.identity.*` / `cawg.ica.*` failure (mismatch, bad signature, bad credential) says the data is wrong.
OFFLINE_FAILURE_CODES = frozenset({"cawg.ica.did_unavailable", "signingCredential.ocsp.inaccessible"})
#: Failures c2pa itself keeps a manifest Valid with: a signer (or X.509 identity credential) not on the
#: reader's trust list. Listed so the offline rule never tolerates more than c2pa's own Valid does.
TOLERATED_FAILURE_CODES = frozenset({"signingCredential.untrusted", "cawg.x509.credential.untrusted"})
#: Success codes an offline-tolerated manifest must carry: the claim signature validated inside its validity.
_SIGNATURE_CODES = frozenset({"claimSignature.validated", "claimSignature.insideValidity"})
#: One hard binding must have matched the asset's bytes (C2PA 2.2 "Hard bindings").
HARD_BINDING_CODES = frozenset({
    "assertion.dataHash.match", "assertion.bmffHash.match", "assertion.boxesHash.match",
    "assertion.collectionHash.match",
})  # fmt: skip
#: A URI fragment naming a JUMBF box of the resource itself (C2PA 2.2 "URI references", `#jumbf=`).
_JUMBF_FRAGMENT = re.compile(r"^jumbf=", re.IGNORECASE)
#: assertion label = ("c2pa" / "cawg") ".training-mining" [ "__" instance ]
_LABEL = re.compile(r"^(c2pa|cawg)\.training-mining(?:__\d+)?$")
#: entry key = ("c2pa" / "cawg") "." entry-name; other keys are custom (log only)
_ENTRIES: dict[str, Purpose] = {
    "data_mining": Purpose.TDM,
    "ai_training": Purpose.ML_TRAIN,
    "ai_generative_training": Purpose.GENAI_TRAIN,
    "ai_inference": Purpose.AI_INPUT,
}
_USES = {"allowed": Verdict.ALLOW, "notallowed": Verdict.DENY, "constrained": Verdict.DENY}
_MAX_TEXT = 300


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


def _codes(store: Mapping[str, object]) -> list[str]:
    """Every validation status code in `validation_status` and the active manifest's failures."""
    entries: list[object] = []
    status = store.get("validation_status")
    if isinstance(status, Sequence) and not isinstance(status, str):
        entries.extend(status)
    failures = _mapping(_mapping(store.get("validation_results")).get("activeManifest")).get("failure")
    if isinstance(failures, Sequence) and not isinstance(failures, str):
        entries.extend(failures)
    return [code for e in entries if (code := _text(_mapping(e).get("code")))]


def _result_codes(store: Mapping[str, object], kind: str) -> set[str]:
    """The codes of the active manifest's `validation_results` list `kind` ("success", "failure")."""
    entries = _mapping(_mapping(store.get("validation_results")).get("activeManifest")).get(kind)
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        return set()
    return {code for e in entries if (code := _text(_mapping(e).get("code")))}


def offline_only_failures(store: Mapping[str, object]) -> tuple[str, ...]:
    """The offline codes that alone made the manifest Invalid, or () when anything else failed.

    Needs c2pa's per-manifest `validation_results`: the claim signature validated inside its validity, a hard
    binding matched, and every failure is in `OFFLINE_FAILURE_CODES` or `TOLERATED_FAILURE_CODES`.
    """
    success, failure = _result_codes(store, "success"), _result_codes(store, "failure")
    offline = failure & OFFLINE_FAILURE_CODES
    if not offline or failure - OFFLINE_FAILURE_CODES - TOLERATED_FAILURE_CODES:
        return ()
    if not success >= _SIGNATURE_CODES or not success & HARD_BINDING_CODES:
        return ()
    return tuple(sorted(offline))


def _trust(store: Mapping[str, object], manifest: Mapping[str, object]) -> tuple[str, str | None]:
    """(the "(state, signer …)" evidence suffix, the reason an `allowed` does not count or None)."""
    state = _text(store.get("validation_state")) or "no validation state"
    info = _mapping(manifest.get("signature_info"))
    name, issuer = _text(info.get("common_name")), _text(info.get("issuer"))
    signer = f'signer "{name or "?"}" by "{issuer or "?"}"' if name or issuer else "signer unknown"
    suffix = f"({state}, {signer})"
    mismatches = sorted({c for c in _codes(store) if c.endswith(".mismatch")})
    offline = offline_only_failures(store) if state.casefold() == "invalid" else ()
    if offline:
        return f"({state} only because {', '.join(offline)}: offline identity/revocation check, claim signature "\
               f"and hard binding validated, read as Valid; {signer})", None
    if state.casefold() not in TRUSTWORTHY_STATES:
        return suffix, f"allowed not counted: manifest is {state}"
    if mismatches:
        return suffix, f"allowed not counted: {', '.join(mismatches)}"
    return suffix, None


def _entries(data: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    """Both shapes: `{"entries": {key: entry}}` (CAWG 1.1) and `{key: entry}` at the top level (C2PA 1.4)."""
    pairs = [(k, v) for k, v in _mapping(data.get("entries")).items() if isinstance(v, Mapping)]
    pairs += [(k, v) for k, v in data.items() if k not in ("entries", "metadata") and isinstance(v, Mapping)]
    return pairs


def _read_entry(
    key: str, entry: Mapping[str, object], refuse_allow: str | None
) -> tuple[Purpose | None, Verdict | None, tuple[Tag, ...], str]:
    """entry = { "use": "allowed" / "notAllowed" / "constrained", ? "constraint_info" / "constraints_info": tstr }."""
    use = _text(entry.get("use"))
    text = f"{key}={use or '<no use>'}"
    prefix, _, name = key.partition(".")
    purpose = _ENTRIES.get(name) if prefix in ("c2pa", "cawg") else None
    verdict = _USES.get(use.casefold())
    tags: tuple[Tag, ...] = (
        () if verdict is None or use in ("allowed", "notAllowed", "constrained") else (Tag.LENIENT,)
    )
    if use.casefold() == "constrained":
        info = _text(entry.get("constraint_info")) or _text(entry.get("constraints_info"))
        text += f" ({info!r})" if info else " (no constraint_info)"
        tags = (*tags, Tag.CONDITIONAL)
    if purpose is None:
        return None, None, (), text + " (custom key: logged only)"
    if verdict is None:
        return None, None, (), text + " (unknown use: no statement)"
    if verdict is Verdict.ALLOW and refuse_allow is not None:
        return None, None, tags, f"{text} ({refuse_allow})"
    return purpose, verdict, tags, text


def _manifest_signal(
    store: Mapping[str, object], manifest: Mapping[str, object], source: str
) -> Signal | None:
    suffix, refuse_allow = _trust(store, manifest)
    statement: dict[Purpose, Verdict] = {}
    tags: list[Tag] = []
    parts: list[str] = []
    assertions = manifest.get("assertions")
    for assertion in (
        assertions if isinstance(assertions, Sequence) and not isinstance(assertions, str) else ()
    ):
        label = _text(_mapping(assertion).get("label"))
        if not _LABEL.match(label):
            continue
        for key, entry in _entries(_mapping(_mapping(assertion).get("data"))):
            purpose, verdict, entry_tags, text = _read_entry(key, entry, refuse_allow)
            parts.append(f"{label} {text}")
            tags.extend(entry_tags)
            if purpose is not None and verdict is not None:
                if statement.get(purpose, verdict) is not verdict:
                    tags.append(Tag.CONFLICT)
                    verdict = Verdict.DENY
                statement[purpose] = verdict
    if not parts:
        return None
    return _signal(source, "; ".join(parts) + f" {suffix}", statement, tuple(dict.fromkeys(tags)))


def _signal(source: str, evidence: str, statement: dict[Purpose, Verdict], tags: tuple[Tag, ...]) -> Signal:
    return Signal(Mechanism.C2PA, Scope.EMBEDDED, source, evidence, statement, tags, hierarchical=False)


def signals(store: Mapping[str, object] | None, source: str, *, error: str | None = None) -> list[Signal]:
    """The training-mining signal of the store's active manifest (none if it has no such assertion).

    `error`: the manifest exists (pre-scan marker, declared remote manifest) but could not be read →
    one signal with no statement, tagged `unverifiable`. Ingredient manifests are not inherited (docs/readings.md).
    """
    if error is not None:
        return [_signal(source, f"C2PA manifest unreadable: {error}", {}, (Tag.UNVERIFIABLE,))]
    if store is None:
        return []
    if not isinstance(store, Mapping):
        return [_signal(source, "C2PA manifest store is not a JSON object: ignored", {}, ())]
    active = store.get("active_manifest")
    manifest = active_manifest(store)
    if manifest is None:
        return [
            _signal(
                source, f"C2PA store without a readable active manifest ({active!r:.80}): ignored", {}, ()
            )
        ]
    found = _manifest_signal(store, manifest, source)
    return [found] if found is not None else []


def active_manifest(store: Mapping[str, object]) -> Mapping[str, object] | None:
    """The store's active manifest (None when the store names none or names a missing one)."""
    active = store.get("active_manifest")
    manifest = _mapping(store.get("manifests")).get(active) if isinstance(active, str) else None
    return manifest if isinstance(manifest, Mapping) else None


def is_self_reference(target: str, asset_url: str) -> bool:
    """Whether a manifest reference points into the asset's own JUMBF (`self#jumbf=…`, `<asset>#jumbf=…`)."""
    base, _, fragment = target.partition("#")
    if not _JUMBF_FRAGMENT.match(fragment):
        return False
    return base in ("", "self") or base == asset_url.partition("#")[0]


def _declared(response: AssetResponse, xmp_packets: Sequence[bytes]) -> list[str]:
    """Every manifest reference: `Link: <…>; rel="c2pa-manifest"`, then XMP `dcterms:provenance`."""
    urls = [
        link.target
        for link in parse_links(response.header("link"), response.url)
        if "c2pa-manifest" in link.rels
    ]
    provenance = provenance_url(xmp_packets, include_self=True)
    if provenance is not None:
        urls.append(urljoin(response.url, provenance) if not provenance.startswith("self#") else provenance)
    return urls


def declares_embedded(response: AssetResponse) -> str | None:
    """The `Link: <asset#jumbf=…>; rel="c2pa-manifest"` by which the server says the manifest is embedded.

    Only the server's header declares: an XMP `self#jumbf=` reference often outlives a stripped manifest
    (c2pa reads such files as having none), so it only sends the asset to the reader (`hints_embedded`).
    """
    return next((u for u in _declared(response, ()) if is_self_reference(u, response.url)), None)


def hints_embedded(xmp_packets: Sequence[bytes]) -> bool:
    """Whether the XMP `dcterms:provenance` points into the asset's own JUMBF (`self#jumbf=…`)."""
    return (provenance_url(xmp_packets, include_self=True) or "").startswith("self#jumbf=")


def remote_manifest_urls(response: AssetResponse, xmp_packets: Sequence[bytes]) -> tuple[str, ...]:
    """Remote manifests to fetch (C2PA 2.2 §15.5.3), self-references excluded; http(s) only, each once."""
    urls = [u for u in _declared(response, xmp_packets) if not is_self_reference(u, response.url)]
    return tuple(u for u in dict.fromkeys(urls) if u.lower().startswith(("http://", "https://")))
