import pytest

from tests.chatbridge.api.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


async def test_start_and_status(api, chat):
    response = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
