"""Schemathesis hooks for .ci/schemathesis: photo uploads (`PUT .../photo/$value`) are raw image
bytes, a media type schemathesis 3.x has no serializer for. The generated value is sent as is;
Rolo decides what an image is by decoding it, so random bytes exercise its 400 path."""

import schemathesis


def _raw(value):
    data = getattr(value, "data", value)  # schemathesis wraps `format: binary` values
    if isinstance(data, bytes):
        return data
    return str(data).encode("utf-8")


@schemathesis.serializer("image/jpeg", aliases=("image/png", "image/*"))
class RawImage:
    def as_requests(self, context, value):
        return {"data": _raw(value)}

    def as_werkzeug(self, context, value):
        return {"data": _raw(value)}
