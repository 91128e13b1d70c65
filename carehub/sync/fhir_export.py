"""Coordination actions as a FHIR R4 Bundle for the shared record (DESIGN.md, DOMAIN.md §6).

The Bundle is validated against the same `fhir.resources` R4B models the import side uses
(carehub/caseload/fhir_import/): R4B changed nothing in the resources written here, so a
valid R4B Bundle is a valid R4 one. It is a *transaction* Bundle whether it goes to a file or
to an endpoint: every entry is a conditional create (`ifNoneExist: identifier=...` on the
action's UUID), so posting the file again, by us or by any FHIR tool, creates nothing twice.

One resource per action, chosen for what the action is in the receiving record:

- `call`, `sms`, `message` -> **Communication**: information passed to someone, with its
  medium (v3 ParticipationMode PHONE, WRITTEN, EMAILWRIT: MSSanté secure messaging is
  e-mail based). A call nobody answered (`no_answer`, `wrong_number`) is `not-done` with the
  reason, so the record does not claim the patient was told.
- `referral` -> **ServiceRequest**, intent `proposal`: the care manager suggests that a
  practitioner see the patient (SNOMED 3457005 "patient referral"), the practitioner named
  as performer; a nurse does not prescribe, the practitioner decides.
- `orientation` -> **Task**, status `completed`: coordination work done for the patient
  (towards social services or a France Services house, an organisation rather than a
  practitioner), which is what Task is for; it owns no clinical order.
- `appointment` -> **Appointment**, `booked`, the patient and the practitioner as
  participants; `at` is the appointment's time, the duration its length.
- `meeting` (concertation), `discharge_followup` -> **Encounter**, `finished`, ambulatory
  class: contacts about the patient's care with a period and participants.
- `document` -> **DocumentReference**, `current`, LOINC 34746-8 "Nurse note", the note as
  its attachment: the shared record (IHE MHD / the ANS PDSm spec) files documents this way.

Every resource carries the action's UUID as identifier (`urn:ietf:rfc:3986`,
`urn:uuid:...`), a French narrative (type, date, who, note) and refers to the patient by INS
(the system of its kind: INS-NIR, NIA, test, demo) and to the practitioner by IDNPS
(`urn:oid:1.2.250.1.71.4.2.1`). A correction replaces the action it amends where FHIR has
the element (ServiceRequest.replaces, DocumentReference.relatesTo) and says so in the
narrative elsewhere. Actions of patients without INS are left out and counted: the shared
record cannot file them; they go with a later export once the INS is known.
"""

from __future__ import annotations

import base64
import html
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from carehub.caseload.models import Patient
from carehub.coordination.models import ACTION_TYPE_LABELS_FR
from carehub.coordination.services import ActionRow, list_actions
from carehub.errors import CareHubError, InputError
from carehub.identifiers import IDNPS_SYSTEM, INS_SYSTEM_BY_KIND
from carehub.sync.models import ActionExport

UUID_SYSTEM = "urn:ietf:rfc:3986"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
MEDIUM_BY_TYPE = {"call": ("PHONE", "téléphone"), "sms": ("WRITTEN", "SMS"),
                  "message": ("EMAILWRIT", "messagerie sécurisée de santé")}
NOT_DONE_OUTCOMES = {"no_answer": "Pas de réponse", "wrong_number": "Numéro erroné"}
OUTCOME_LABELS_FR = {"reached": "joint(e)", "no_answer": "pas de réponse",
                     "voicemail": "message laissé", "wrong_number": "numéro erroné",
                     "refused": "a refusé", "callback": "à rappeler"}
RESOURCE_BY_TYPE = {
    "call": "Communication", "sms": "Communication", "message": "Communication",
    "referral": "ServiceRequest", "orientation": "Task", "appointment": "Appointment",
    "meeting": "Encounter", "discharge_followup": "Encounter", "document": "DocumentReference",
}
PUSH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PatientIdentity:
    ins: str
    system: str
    name: str


@dataclass
class ExportResult:
    """The Bundle (plain JSON data) and which actions it carries or left out."""

    bundle: dict[str, Any]
    action_ids: list[uuid.UUID] = field(default_factory=list)
    without_ins: list[uuid.UUID] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"exported": len(self.action_ids), "skipped_without_ins": len(self.without_ins),
                "resources": _resource_counts(self.bundle)}


@dataclass(frozen=True)
class PushResult:
    """What the FHIR endpoint answered: how many it created, how many it already had."""

    created: int
    existing: int
    target: str

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "already_there": self.existing, "endpoint": self.target}


def _resource_counts(bundle: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


# -- reading ------------------------------------------------------------------------------


def _since_moment(since: date | datetime | None) -> datetime | None:
    if since is None or isinstance(since, datetime):
        return since
    return datetime.combine(since, time.min)  # local midnight, as a nurse means "since the 3rd"


def _identities(session: Session, patient_ids: set[uuid.UUID]) -> dict[uuid.UUID, PatientIdentity]:
    found: dict[uuid.UUID, PatientIdentity] = {}
    ids = list(patient_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            sa_select(col(Patient.id), col(Patient.ins), col(Patient.ins_kind),
                      col(Patient.used_name), col(Patient.birth_name), col(Patient.given_names))
            .where(col(Patient.id).in_(ids[start:start + 500])))
        for pid, ins, kind, used, birth, given in rows:
            if ins:
                system = INS_SYSTEM_BY_KIND.get(kind or "nir", INS_SYSTEM_BY_KIND["nir"])
                found[pid] = PatientIdentity(ins, system, f"{used or birth} {given}".strip())
    return found


# -- building -----------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def action_identifier(action_id: uuid.UUID) -> dict[str, str]:
    return {"system": UUID_SYSTEM, "value": f"urn:uuid:{action_id}"}


def _patient_ref(identity: PatientIdentity) -> dict[str, Any]:
    return {"type": "Patient", "identifier": {"system": identity.system, "value": identity.ins},
            "display": identity.name}


def _practitioner_ref(action: ActionRow) -> dict[str, Any] | None:
    if action.practitioner_id:
        ref: dict[str, Any] = {"type": "Practitioner",
                               "identifier": {"system": IDNPS_SYSTEM,
                                              "value": action.practitioner_id}}
        if action.practitioner_name:
            ref["display"] = action.practitioner_name
        return ref
    if action.organisation:
        return {"type": "Organization", "display": action.organisation}
    return None


def _author_ref(action: ActionRow) -> dict[str, Any]:
    return {"display": f"{action.author} (infirmière coordinatrice)"}


def _narrative(action: ActionRow, identity: PatientIdentity,
               amended_at: dict[uuid.UUID, datetime]) -> dict[str, Any]:
    """A French summary receiving software can show as is."""
    label = ACTION_TYPE_LABELS_FR.get(action.type, action.type)
    local = action.at.astimezone()
    lines = [f"<b>{html.escape(label)}</b> le {local:%d/%m/%Y à %H:%M}",
             f"Patient : {html.escape(identity.name)} (INS {identity.ins})",
             f"Par : {html.escape(action.author)}"]
    who = action.practitioner_name or action.organisation
    if who:
        lines.append(f"Avec : {html.escape(who)}")
    if action.duration_s:
        lines.append(f"Durée : {round(action.duration_s / 60)} min")
    if action.outcome:
        outcome = OUTCOME_LABELS_FR.get(action.outcome, action.outcome)
        lines.append(f"Résultat : {html.escape(outcome)}")
    if action.amends_id:
        earlier = amended_at.get(action.amends_id)
        when = f" du {earlier.astimezone():%d/%m/%Y}" if earlier else ""
        lines.append(f"Corrige l'action{when} (urn:uuid:{action.amends_id})")
    if action.note:
        lines.append(f"Note : {html.escape(action.note)}")
    body = "<br/>".join(lines)
    return {"status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{body}</p></div>'}


def _text_concept(text: str, system: str | None = None, code: str | None = None
                  ) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if system and code:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    return concept


def _note(action: ActionRow) -> list[dict[str, Any]]:
    return [{"text": action.note}] if action.note else []


def _communication(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    mode, mode_label = MEDIUM_BY_TYPE[action.type]
    other = _practitioner_ref(action)
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "not-done" if action.outcome in NOT_DONE_OUTCOMES else "completed",
        "subject": patient,
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": mode,
                                "display": mode_label}], "text": mode_label}],
        "sent": _iso(action.at),
        "sender": _author_ref(action),
        "recipient": [other or patient],
    }
    if action.outcome in NOT_DONE_OUTCOMES:
        resource["statusReason"] = {"text": NOT_DONE_OUTCOMES[action.outcome]}
    if action.note:
        resource["payload"] = [{"contentString": action.note}]
    return resource


def _service_request(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "proposal",
        "category": [_text_concept("Orientation vers un professionnel", SNOMED, "3457005")],
        "code": _text_concept(action.note or "Orientation vers un professionnel"),
        "subject": patient, "authoredOn": _iso(action.at), "requester": _author_ref(action),
        "note": _note(action),
    }
    performer = _practitioner_ref(action)
    if performer:
        resource["performer"] = [performer]
    if action.amends_id:
        resource["replaces"] = [{"type": "ServiceRequest",
                                 "identifier": action_identifier(action.amends_id)}]
    return resource


def _task(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Task", "status": "completed", "intent": "plan",
        "code": _text_concept(ACTION_TYPE_LABELS_FR["orientation"]),
        "description": action.note or ACTION_TYPE_LABELS_FR["orientation"],
        "for": patient, "authoredOn": _iso(action.at), "lastModified": _iso(action.at),
        "requester": _author_ref(action), "note": _note(action),
        "executionPeriod": _period(action),
    }
    owner = _practitioner_ref(action)
    if owner:
        resource["owner"] = owner
    return resource


def _period(action: ActionRow) -> dict[str, str]:
    period = {"start": _iso(action.at)}
    if action.duration_s:
        period["end"] = _iso(action.at + timedelta(seconds=action.duration_s))
    return period


def _appointment(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    participants = [{"actor": patient, "status": "accepted"}]
    other = _practitioner_ref(action)
    if other:
        participants.append({"actor": other, "status": "accepted"})
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "status": "booked",
        "description": action.note or ACTION_TYPE_LABELS_FR["appointment"],
        "start": _iso(action.at), "participant": participants,
        "comment": action.note,
    }
    if action.duration_s:
        resource["end"] = _period(action)["end"]
        resource["minutesDuration"] = max(1, round(action.duration_s / 60))
    return resource


def _encounter(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    label = ACTION_TYPE_LABELS_FR[action.type]
    resource: dict[str, Any] = {
        "resourceType": "Encounter", "status": "finished",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [_text_concept(label)], "subject": patient, "period": _period(action),
    }
    other = _practitioner_ref(action)
    if other and other["type"] == "Practitioner":
        resource["participant"] = [{"individual": other}]
    if action.duration_s:
        resource["length"] = {"value": round(action.duration_s / 60), "unit": "min",
                              "system": "http://unitsofmeasure.org", "code": "min"}
    return resource


def _document_reference(action: ActionRow, patient: dict[str, Any]) -> dict[str, Any]:
    text = action.note or ACTION_TYPE_LABELS_FR["document"]
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference", "status": "current",
        "type": _text_concept("Note infirmière", LOINC, "34746-8"),
        "subject": patient, "date": _iso(action.at), "author": [_author_ref(action)],
        "description": ACTION_TYPE_LABELS_FR["document"],
        "content": [{"attachment": {
            "contentType": "text/plain; charset=utf-8", "language": "fr",
            "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            "title": ACTION_TYPE_LABELS_FR["document"], "creation": _iso(action.at)}}],
    }
    if action.amends_id:
        resource["relatesTo"] = [{"code": "replaces", "target": {
            "type": "DocumentReference", "identifier": action_identifier(action.amends_id)}}]
    return resource


BUILDERS: dict[str, Callable[[ActionRow, dict[str, Any]], dict[str, Any]]] = {
    "Communication": _communication, "ServiceRequest": _service_request, "Task": _task,
    "Appointment": _appointment, "Encounter": _encounter,
    "DocumentReference": _document_reference,
}


def action_resource(action: ActionRow, identity: PatientIdentity,
                    amended_at: dict[uuid.UUID, datetime] | None = None) -> dict[str, Any]:
    """The FHIR resource (JSON data) of one action."""
    kind = RESOURCE_BY_TYPE[action.type]
    resource = BUILDERS[kind](action, _patient_ref(identity))
    resource = {key: value for key, value in resource.items() if value not in (None, [])}
    resource["identifier"] = [action_identifier(action.id)]
    resource["text"] = _narrative(action, identity, amended_at or {})
    return resource


def _entry(action: ActionRow, resource: dict[str, Any]) -> dict[str, Any]:
    identifier = action_identifier(action.id)
    return {"fullUrl": f"urn:uuid:{action.id}", "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"],
                        "ifNoneExist": f"identifier={identifier['system']}|"
                                       f"{identifier['value']}"}}


def validate_bundle(bundle: dict[str, Any]) -> None:
    """Check the Bundle against the R4B models; a failure is our bug, said plainly."""
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise CareHubError(f"The FHIR export is not valid FHIR R4: {exc}",
                           f"L'export FHIR n'est pas du FHIR R4 valide : {exc}") from exc


def _exported_to(session: Session, target: str) -> set[uuid.UUID]:
    return set(session.exec(select(ActionExport.action_id)
                            .where(col(ActionExport.target) == target)))


def build_export(session: Session, *, since: date | datetime | None = None,
                 now: datetime | None = None, skip_exported_to: str | None = None
                 ) -> ExportResult:
    """The transaction Bundle of the actions since `since` (all when None), validated;
    without those already exported to `skip_exported_to` when given."""
    actions = list_actions(session, since=_since_moment(since))
    actions.reverse()  # oldest first: the order they happened in
    if skip_exported_to is not None:
        done = _exported_to(session, skip_exported_to)
        actions = [a for a in actions if a.id not in done]
    identities = _identities(session, {a.patient_id for a in actions})
    amended_at = {a.id: a.at for a in actions}
    result = ExportResult(bundle={})
    entries = []
    for action in actions:
        identity = identities.get(action.patient_id)
        if identity is None:
            result.without_ins.append(action.id)
            continue
        entries.append(_entry(action, action_resource(action, identity, amended_at)))
        result.action_ids.append(action.id)
    stamp = now or datetime.now().astimezone()
    result.bundle = {"resourceType": "Bundle", "type": "transaction",
                     "identifier": {"system": UUID_SYSTEM, "value": f"urn:uuid:{uuid.uuid4()}"},
                     "timestamp": _iso(stamp), "entry": entries}
    validate_bundle(result.bundle)
    return result


def write_bundle(result: ExportResult, path: Path) -> None:
    """Write the Bundle as UTF-8 JSON; through a temporary file so a failure leaves none."""
    temporary = path.with_name(path.name + ".part")
    try:
        temporary.write_text(json.dumps(result.bundle, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"Cannot write {path}: {exc.strerror or exc}.",
                         f"Impossible d'écrire {path} : {exc.strerror or exc}.") from exc


# -- pushing ------------------------------------------------------------------------------


def _push_error(endpoint: str, detail: str) -> CareHubError:
    return CareHubError(f"The FHIR endpoint {endpoint} refused the export: {detail}. "
                        "Nothing was marked exported; the export can be pushed again.",
                        f"Le serveur FHIR {endpoint} a refusé l'export : {detail}. Aucune "
                        "action n'est marquée exportée ; l'export peut être renvoyé.")


def push_bundle(result: ExportResult, *, endpoint: str, token: str | None = None,
                timeout: float = PUSH_TIMEOUT_S) -> PushResult:
    """POST the transaction Bundle to the endpoint's base URL; count created vs existing."""
    if not result.action_ids:
        return PushResult(created=0, existing=0, target=endpoint)
    request = urllib.request.Request(
        endpoint.rstrip("/"), method="POST",
        data=json.dumps(result.bundle, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/fhir+json; charset=utf-8",
                 "Accept": "application/fhir+json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")[:500]
        raise _push_error(endpoint, f"HTTP {exc.code} {body}".strip()) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CareHubError(f"Cannot reach the FHIR endpoint {endpoint}: {reason}.",
                           f"Le serveur FHIR {endpoint} ne répond pas : {reason}.") from exc
    except ValueError as exc:
        raise _push_error(endpoint, "its answer is not JSON") from exc
    return _read_response(answer, endpoint, expected=len(result.action_ids))


def _read_response(answer: Any, endpoint: str, *, expected: int) -> PushResult:
    if not isinstance(answer, dict) or answer.get("type") != "transaction-response":
        raise _push_error(endpoint, "its answer is not a transaction-response Bundle")
    statuses = [str(entry.get("response", {}).get("status", ""))
                for entry in answer.get("entry", [])]
    if len(statuses) != expected:
        raise _push_error(endpoint, f"it answered {len(statuses)} entries for {expected}")
    created = sum(1 for status in statuses if status.startswith("201"))
    existing = sum(1 for status in statuses if status.startswith("200"))
    if created + existing != expected:
        bad = next(s for s in statuses if not s.startswith(("200", "201")))
        raise _push_error(endpoint, f"an entry answered {bad!r}")
    return PushResult(created=created, existing=existing, target=endpoint)


def mark_pushed(session: Session, *, action_ids: Sequence[uuid.UUID], target: str) -> None:
    """Record in the delivery status that these actions reached the shared record."""
    from carehub.sync.service import mark_exported

    mark_exported(session, action_ids=action_ids, target=target)
