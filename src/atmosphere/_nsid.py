"""The XRPC methods this library calls, by name (NSIDs), in one place."""

from __future__ import annotations

from typing import Final

CREATE_SESSION: Final = "com.atproto.server.createSession"
GET_SESSION: Final = "com.atproto.server.getSession"
REFRESH_SESSION: Final = "com.atproto.server.refreshSession"
DELETE_SESSION: Final = "com.atproto.server.deleteSession"
DESCRIBE_SERVER: Final = "com.atproto.server.describeServer"

CREATE_RECORD: Final = "com.atproto.repo.createRecord"
PUT_RECORD: Final = "com.atproto.repo.putRecord"
DELETE_RECORD: Final = "com.atproto.repo.deleteRecord"
GET_RECORD: Final = "com.atproto.repo.getRecord"
LIST_RECORDS: Final = "com.atproto.repo.listRecords"
APPLY_WRITES: Final = "com.atproto.repo.applyWrites"
UPLOAD_BLOB: Final = "com.atproto.repo.uploadBlob"

GET_BLOB: Final = "com.atproto.sync.getBlob"
