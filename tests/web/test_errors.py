"""The core's refusals become HTTP statuses in the web layer, by kind, never by message."""

from __future__ import annotations

import json

import pytest

from hub.cameras.edits import CameraEditError
from hub.config.issues import Issue
from hub.errors import ErrorKind, HubError
from hub.security.users import UnknownUserError, UserError
from web.errors import http_error, json_error, status_of


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_of_refusal_has_a_status(kind):
    error = http_error(HubError("no", kind))
    assert 400 <= error.status < 600 and error.text == "no"


def test_statuses_by_kind_whatever_the_message_says():
    assert status_of(UserError("user 'x' already exists")) == 400  # the text decides nothing
    assert status_of(UserError("taken", ErrorKind.CONFLICT)) == 409
    assert status_of(UnknownUserError("no user 'x'")) == 404
    assert status_of(HubError("slow", ErrorKind.DEVICE_TIMEOUT)) == 504
    assert status_of(HubError("bad", ErrorKind.DEVICE_FAILED)) == 502


def test_an_invalid_request_answers_the_status_the_api_chose():
    assert status_of(HubError("bad")) == 400
    assert status_of(HubError("bad"), invalid=422) == 422
    assert status_of(HubError("gone", ErrorKind.NOT_FOUND), invalid=422) == 404


def test_the_json_form_lists_located_issues():
    refused = CameraEditError("the camera was not added", issues=[Issue("url", "required")])
    response = json_error(refused)
    assert response.status == 422
    assert json.loads(response.text) == {
        "error": "the camera was not added",
        "errors": [{"path": "url", "message": "required"}],
    }
    plain = json_error(CameraEditError("no camera 'x'", ErrorKind.NOT_FOUND))
    assert plain.status == 404 and json.loads(plain.text) == {"error": "no camera 'x'"}
