"""Withholding before the body: decisions a transport can take before it downloads an asset, or after its
headers (docs/decision-record.md "Withheld before download").

Pure. Combination across mechanisms is deny > allow > unknown (docs/purposes.md), so a purpose denied by the
signals known so far stays denied whatever the body or a later document adds: when those signals deny EVERY
declared purpose and `CONSENT_ON_DENY` is `drop`, the final decision is a `drop` already, and the transport
need not download what it would only throw away.

Two stages:

1. `withheld_before_download`: the origin's site files alone — robots.txt Content-Usage / Content-Signal /
   DisallowAITraining / `License:` (RSL) lines, ai.txt — for a URL robots.txt lets us fetch. The decision has
   no response (`response: null`) and its reason starts with `WITHHELD_BEFORE_DOWNLOAD`.
2. `final_denial` of the decision on the response's headers: the site files plus the response's header fields (AIPREF `Content-Usage`, `Content-Signal`,
   `X-Robots-Tag` noai, RFC 8288 `Link: rel="license"` to an RSL licence, page-inherited `noai`), judged on the
   headers with an empty body: the transfer may stop there.

TDMRep never decides either stage: its processing priority (W3C TDMRep "Processing priority") lets a later
layer — the header, the HTML `<meta>`, the PDF/EPUB metadata inside the body — supersede `tdmrep.json`, so a
reservation known before the body is not final.
"""

from __future__ import annotations

import dataclasses

from consentry.policies.combine import combine
from consentry.policies.config import OnDeny, PolicyConfig
from consentry.policies.decide import decide
from consentry.policies.evaluate import SitePolicy
from consentry.policies.model import Action
from consentry.policies.record import Decision
from consentry.policies.vocabulary import Mechanism, Verdict

__all__ = ["TDMREP_MECHANISMS", "WITHHELD_BEFORE_DOWNLOAD", "final_denial", "withheld_before_download"]

#: The reason of a decision taken without downloading the asset starts with this.
WITHHELD_BEFORE_DOWNLOAD = "withheld before download (the site files deny every declared purpose): "
#: TDMRep layers: superseded by a later layer, so never final before the body is read.
TDMREP_MECHANISMS = frozenset({
    Mechanism.TDMREP_FILE, Mechanism.TDMREP_HEADER, Mechanism.TDMREP_HTML, Mechanism.TDMREP_PDF,
    Mechanism.TDMREP_EPUB,
})  # fmt: skip


def final_denial(decision: Decision, config: PolicyConfig) -> bool:
    """Whether `decision` drops under `CONSENT_ON_DENY=drop` because every declared purpose is denied by signals
    nothing read later can undo (every mechanism but TDMRep: deny > allow across mechanisms)."""
    if config.on_deny is not OnDeny.DROP or decision.action is not Action.DROP:
        return False
    final = combine(s for s in decision.signals if s.mechanism not in TDMREP_MECHANISMS)
    return all(final.verdicts[purpose] is Verdict.DENY for purpose in config.declared)


def withheld_before_download(
    site: SitePolicy, url: str, config: PolicyConfig, *, fetched_at: str | None
) -> Decision | None:
    """The `drop` decision for a URL whose site files alone deny every declared purpose (with
    `CONSENT_ON_DENY=drop`), taken without requesting it; None when the URL must be fetched to be decided
    (or is not to be fetched at all: robots.txt denies access, `consentry.policies.evaluate.evaluate_access`)."""
    if config.on_deny is not OnDeny.DROP:
        return None
    verdict, access_signal = site.access(url)
    if verdict is not Verdict.ALLOW:
        return None
    decision = decide(url=url, config=config, access=verdict, access_signal=access_signal,
                      signals=site.site_signals(url), fetched_at=fetched_at)
    if not final_denial(decision, config):
        return None
    return dataclasses.replace(decision, reason=WITHHELD_BEFORE_DOWNLOAD + decision.reason)

