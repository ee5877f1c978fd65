"""A widget's public configuration, for native apps that build their own pre-chat form."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Path, Router

from chatbridge.api.common import ERRORS
from chatbridge.api.problems import WidgetNotFound
from chatbridge.api.schemas import WidgetConfigOut

router = Router(tags=["widgets"])


def _config(widget_id: str) -> dict | None:
    from webwidget.lookup import enabled_widget

    widget = enabled_widget(widget_id)
    return widget.public_config() if widget is not None else None


@router.get(
    "/widgets/{widget_id}/config",
    response={200: WidgetConfigOut, **ERRORS},
    auth=None,
    summary="A widget's public configuration (no authentication)",
)
async def widget_config(request: HttpRequest, widget_id: str = Path(..., max_length=64)):
    config = await sync_to_async(_config)(widget_id)
    if config is None:
        raise WidgetNotFound()
    return config
