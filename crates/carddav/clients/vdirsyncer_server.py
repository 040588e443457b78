# vdirsyncer's storage test suite pointed at a running CardDAV server (DAV_URL, user ada).
# run.sh copies this file to tests/storage/servers/contactsdav/__init__.py of the sdist.
from __future__ import annotations

import os

import pytest


class ServerMixin:
    @pytest.fixture
    def get_storage_args(self, request, tmpdir, slow_create_collection, aio_connector):
        async def inner(collection="test"):
            args = {
                "url": os.environ.get("DAV_URL", "http://127.0.0.1:5232/"),
                "username": os.environ.get("DAV_USER", "ada"),
                "password": os.environ.get("DAV_PASSWORD", "ada-app-password"),
                "connector": aio_connector,
            }
            if collection is not None:
                args = await slow_create_collection(self.storage_class, args, collection)
            return args

        return inner
