"""Errors that leave a foreign exception behind: ``detached``.

``raise ... from None`` hides the original exception from the traceback, but
``__context__`` still holds it, and it may hold a secret (a JSON decode error's
``.doc`` is the whole token file, a pydantic ``ValidationError`` keeps the client
secret it refused, an httpx transport error keeps the request and its body).
:class:`detached` is the one way keybearer turns such an exception into a typed
error: the typed error leaves with no ``__cause__`` and no ``__context__``.

Kept apart from :mod:`keybearer._redact` (which needs httpx): stores, token sets
and configuration use it, and ``import keybearer.verify`` must not load httpx.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


class detached(contextlib.ContextDecorator):
    """Strip ``__cause__`` and ``__context__`` from an error leaving the block.

    Wrap the code that turns a foreign exception which may hold a secret (a
    decode error, a ``ValidationError``) into a typed error::

        with detached():
            try:
                data = json.loads(text)
            except ValueError:
                raise StoreError("the token file is corrupt") from None

    ``from None`` alone leaves ``__context__`` pointing at the decode error. As
    a decorator (``@detached()``) it covers a whole function, sync or async
    (not a generator: its body runs later).
    """

    def __call__(self, func: _F) -> _F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded(*args: object, **kwargs: object) -> object:
                with self:
                    return await func(*args, **kwargs)

            return cast("_F", guarded)
        return super().__call__(func)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        if isinstance(error, Exception):
            error.__cause__ = None
            error.__context__ = None
            error.__suppress_context__ = True
