"""JsonText reads a document back as json.loads would, through the
decoder's fast path or json.loads itself, on every dialect's processor."""
from __future__ import annotations

import json

import pytest
from sqlalchemy.dialects import mysql, postgresql, sqlite

from compute_core.db.types import JsonText

DOCS = ['{"a":1,"b":[1,2.5,null,true],"c":{"d":"\\u00e9"}}', "[]", "{}", '["default"]',
        " {\"a\": 1} ", "[1, 2]\n", '"text"', "3", "NaN", "[Infinity]", "null",
        b'{"a":1}', "[ ]"]
BAD = ["", " ", "{", "[1,]", "[1] x", "\ufeff[1]", "{'a':1}"]


@pytest.fixture(params=[sqlite.dialect, mysql.dialect, postgresql.dialect])
def processor(request):
    return JsonText().result_processor(request.param(), None)


@pytest.mark.parametrize("doc", DOCS)
def test_same_document_as_json_loads(processor, doc):
    got, want = processor(doc), json.loads(doc)
    assert json.dumps(got) == json.dumps(want)
    assert type(got) is type(want)


def test_none_is_none(processor):
    assert processor(None) is None


def test_empty_documents_are_fresh(processor):
    a, b = processor("[]"), processor("[]")
    a.append(1)
    assert b == []


@pytest.mark.parametrize("doc", BAD)
def test_bad_documents_fail_as_json_loads(processor, doc):
    with pytest.raises(json.JSONDecodeError):
        json.loads(doc)
    with pytest.raises(json.JSONDecodeError):
        processor(doc)
