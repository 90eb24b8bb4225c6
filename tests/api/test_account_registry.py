"""The account export is derived from the module registry: its parts, their item schemas and
the document's OpenAPI shape all come from each module's `EXPORT_SCHEMAS`."""

import json
import types

import marshmallow as ma

from interview_service import modules
from interview_service.account.schemas import EXPORT_PARTS, AccountExportSchema
from tests.factories import append_batch, create_session


class NoteSchema(ma.Schema):
    """An item of a throwaway module's export part."""

    text = ma.fields.String()
    words = ma.fields.Integer(attribute="word_count")


def test_export_writes_the_part_of_a_module_added_to_the_registry(client, alice, monkeypatch):
    notes = [{"text": "first", "word_count": 1}, {"text": "second note", "word_count": 2}]
    extra = types.SimpleNamespace(
        export_user=lambda user: {"notes": iter(notes)}, EXPORT_SCHEMAS={"notes": NoteSchema}
    )
    monkeypatch.setattr(modules, "MODULES", (*modules.MODULES, extra))
    session_id = create_session(client, alice)
    append_batch(client, session_id, alice, [{"role": "assistant", "content": "Why?"}])
    response = client.get("/api/me/export", headers=alice)
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert list(document)[-4:] == ["sessions", "interviews", "performances", "notes"]
    assert document["notes"] == [{"text": "first", "words": 1}, {"text": "second note", "words": 2}]
    [exported] = document["sessions"]
    assert exported["session"]["sessionId"] == session_id
    assert [message["content"] for message in exported["conversations"]] == ["Why?"]


def test_documented_export_parts_are_the_registrys_in_its_order():
    assert EXPORT_PARTS == modules.merged("EXPORT_SCHEMAS")
    assert list(AccountExportSchema().fields)[-3:] == list(EXPORT_PARTS)
